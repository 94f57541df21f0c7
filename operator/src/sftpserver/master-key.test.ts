import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerReason } from '../api/conditions.js';
import type { KubeObject, Secret, SftpServer } from '../api/objects.js';
import type { KubeClient } from '../kube/client.js';
import { masterKeyFile, resolveMasterKey } from './master-key.js';

const server = (spec: Partial<SftpServer['spec']> = {}): SftpServer => ({
  metadata: { name: 'files', namespace: 'apps', uid: 's1' },
  spec: {
    database: { secretRef: { name: 'files-db' } },
    storage: { persistentVolumeClaim: { size: '1Gi' } },
    ...spec,
  },
});

/** A client holding Secrets in a map, counting creates. */
function fakeClient(secrets: Map<string, Secret>): { client: KubeClient; creates: () => number } {
  let creates = 0;
  const client = {
    get: (_type: unknown, key: { name: string }) => Promise.resolve(secrets.get(key.name)),
    create: (_type: unknown, object: KubeObject) => {
      creates += 1;
      const created = { ...object, metadata: { ...object.metadata, resourceVersion: '1' } };
      secrets.set(object.metadata.name, created);
      return Promise.resolve(created);
    },
  } as unknown as KubeClient;
  return { client, creates: () => creates };
}

const secret = (name: string, data: Record<string, string>): Secret => ({
  metadata: { name, resourceVersion: '3' },
  data: Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
});

void describe('the master key', () => {
  void it('is generated once into <server>-master-key and then kept as it is', async () => {
    const secrets = new Map<string, Secret>();
    const { client, creates } = fakeClient(secrets);
    const first = await resolveMasterKey({ client, server: server(), cached: () => undefined });
    assert.ok(first.ok);
    assert.deepEqual(
      [first.secretName, first.key, first.generated],
      ['files-master-key', 'master_key', true],
    );
    const value = secrets.get('files-master-key')!.data!['master_key']!;
    assert.ok(Buffer.from(value, 'base64').length >= 32);
    const again = await resolveMasterKey({ client, server: server(), cached: () => undefined });
    assert.ok(again.ok && !again.generated);
    assert.equal(creates(), 1);
    assert.equal(secrets.get('files-master-key')!.data!['master_key'], value);
  });

  void it('comes from the named Secret key, and says what is wrong with it', async () => {
    const named = server({ masterKey: { secretRef: { name: 'mine', key: 'k' } } });
    const missing = await resolveMasterKey({
      client: fakeClient(new Map()).client,
      server: named,
      cached: () => undefined,
    });
    assert.ok(!missing.ok);
    assert.equal(missing.reason, ServerReason.MasterKeySecretMissing);
    const short = await resolveMasterKey({
      client: fakeClient(new Map([['mine', secret('mine', { k: 'too-short' })]])).client,
      server: named,
      cached: () => undefined,
    });
    assert.ok(!short.ok);
    assert.equal(short.reason, ServerReason.MasterKeySecretInvalid);
    assert.doesNotMatch(short.message, /too-short/, 'the key is never in a message');
    const good = await resolveMasterKey({
      client: fakeClient(new Map([['mine', secret('mine', { k: 'a'.repeat(32) })]])).client,
      server: named,
      cached: () => undefined,
    });
    assert.ok(good.ok);
    assert.equal(masterKeyFile(good.key), '/var/run/kubesftp/master-key/k');
  });
});
