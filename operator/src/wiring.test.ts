import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Secret, SftpServer, SftpUser } from './api/objects.js';
import type { Cache } from './runtime/caches.js';
import {
  ChangeFilter,
  keysForSecret,
  serverFingerprintForUsers,
  userFingerprint,
  usersForConfigMap,
} from './wiring.js';

function cache<T extends { metadata: { name: string; namespace?: string } }>(items: T[]): Cache<T> {
  return {
    get: (namespace, name) =>
      items.find((i) => i.metadata.namespace === namespace && i.metadata.name === name),
    list: (namespace) =>
      items.filter((i) => namespace === undefined || i.metadata.namespace === namespace),
  };
}

const server = (name: string, database: string): SftpServer => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}` },
  spec: {
    database: { secretRef: { name: database } },
    storage: { persistentVolumeClaim: { size: '1Gi' } },
  },
});

const user = (name: string, spec: Partial<SftpUser['spec']>): SftpUser => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation: 1 },
  spec: { serverRef: { name: 'files' }, ...spec },
});

void describe('wiring', () => {
  const users = cache([
    user('alice', { password: { secretRef: { name: 'alice-login' } } }),
    user('bob', { publicKeysFrom: [{ secretKeyRef: { name: 'team-keys' } }] }),
    user('carol', { password: { generate: true } }),
    user('dave', {
      publicKeysFrom: [
        { configMapKeyRef: { name: 'team-keys' } },
        { secretKeyRef: { name: 'dave-keys' } },
      ],
    }),
  ]);
  const servers = cache([server('files', 'files-db'), server('other', 'other-db')]);

  void it('maps a ConfigMap to the users taking keys from it, not to those reading a Secret of that name', () => {
    const configMap = (name: string, namespace = 'ns') => ({ metadata: { name, namespace } });
    assert.deepEqual(usersForConfigMap(users, configMap('team-keys')), ['ns/dave']);
    assert.deepEqual(usersForConfigMap(users, configMap('team-keys', 'elsewhere')), []);
    assert.deepEqual(usersForConfigMap(users, configMap('dave-keys')), []);
    assert.deepEqual(
      keysForSecret({ users, servers }, { metadata: { name: 'team-keys', namespace: 'ns' } }).users,
      ['ns/bob'],
    );
  });

  void it('maps a Secret to the users and servers that read it, and a generated Secret to its owner', () => {
    const secret = (name: string, owner?: string): Secret => ({
      metadata: {
        name,
        namespace: 'ns',
        ...(owner === undefined
          ? {}
          : {
              ownerReferences: [
                {
                  apiVersion: 'kubesftp.io/v1alpha1',
                  kind: 'SftpUser',
                  name: owner,
                  uid: `uid-${owner}`,
                  controller: true,
                },
              ],
            }),
      },
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('alice-login')), {
      users: ['ns/alice'],
      servers: [],
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('team-keys')), {
      users: ['ns/bob'],
      servers: [],
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('carol-credentials', 'carol')), {
      users: ['ns/carol'],
      servers: [],
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('files-db')), {
      users: [],
      servers: ['ns/files'],
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('files-host-keys')), {
      users: [],
      servers: ['ns/files'],
    });
    assert.deepEqual(keysForSecret({ users, servers }, secret('unrelated')), {
      users: [],
      servers: [],
    });
  });

  void it('ignores what no reconcile reads: a status the operator wrote, a replica count', () => {
    const alice = user('alice', {});
    const withStatus: SftpUser = { ...alice, status: { observedGeneration: 1, username: 'alice' } };
    assert.equal(userFingerprint(withStatus), userFingerprint(alice));
    assert.notEqual(
      userFingerprint({ ...alice, metadata: { ...alice.metadata, generation: 2 } }),
      userFingerprint(alice),
    );
    const files = server('files', 'files-db');
    assert.equal(
      serverFingerprintForUsers({ ...files, spec: { ...files.spec, replicas: 5 } }),
      serverFingerprintForUsers(files),
    );
    assert.notEqual(
      serverFingerprintForUsers({
        ...files,
        spec: { ...files.spec, database: { secretRef: { name: 'new-db' } } },
      }),
      serverFingerprintForUsers(files),
    );
  });

  void it('passes a change once per key and fingerprint', () => {
    const filter = new ChangeFilter();
    assert.equal(filter.changed('ns/a', 'x'), true);
    assert.equal(filter.changed('ns/a', 'x'), false);
    assert.equal(filter.changed('ns/a', 'y'), true);
    filter.forget('ns/a');
    assert.equal(filter.changed('ns/a', 'y'), true);
  });
});
