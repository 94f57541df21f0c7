import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, MANIFESTS_DIR, renderManifests, startHelm, type Helm } from './helm.js';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Array<{
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames?: string[];
  }>;
  spec?: Record<string, unknown>;
}

function documents(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

void describe('the kubesftp chart', { timeout: 60_000 }, () => {
  let helm: Helm;

  before(async () => {
    helm = await startHelm();
  });

  after(async () => {
    await helm.close();
  });

  void it('passes helm lint --strict with its defaults and with every option on', async () => {
    const defaults = await helm.run(['lint', '--strict', CHART_DIR]);
    assert.match(defaults.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const options = ['operator.watchNamespace=apps', 'example.enabled=true', 'replicaCount=2'];
    const all = await helm.run(['lint', '--strict', CHART_DIR, '--set', options.join(',')]);
    assert.match(all.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  void it('refuses unknown or mistyped values through values.schema.json', async () => {
    await assert.rejects(
      helm.run(['template', 'x', CHART_DIR, '--set', 'replicas=2']),
      (err: { stderr: string }) => {
        assert.match(err.stderr, /additional properties 'replicas' not allowed|replicas/);
        return true;
      },
    );
    await assert.rejects(
      helm.run(['template', 'x', CHART_DIR, '--set', 'image.pullPolicy=Sometimes']),
      /pullPolicy/,
    );
  });

  void it('grants the operator only what it uses, cluster-wide or in the one namespace it watches', async () => {
    const wide = documents((await helm.run(['template', 'x', CHART_DIR, '-n', 'ops'])).stdout);
    const role = wide.find((doc) => doc.kind === 'ClusterRole')!;
    const verbs = (group: string, resource: string): string[] =>
      role
        .rules!.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
        .flatMap((r) => r.verbs);
    assert.deepEqual(verbs('kubesftp.io', 'sftpservers'), ['get', 'list', 'watch']);
    assert.deepEqual(verbs('', 'events'), ['create']);
    assert.ok(!verbs('', 'secrets').includes('delete'), 'Secrets are never deleted');
    assert.ok(!verbs('apps', 'deployments').includes('delete'));
    for (const rule of role.rules!)
      assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*'));
    const lease = wide.find(
      (doc) => doc.kind === 'Role' && doc.metadata.name.endsWith('leader-election'),
    )!;
    assert.equal(lease.metadata.namespace, 'ops');
    assert.deepEqual(lease.rules![1]!.resourceNames, ['kubesftp-operator']);

    const narrow = documents(
      (
        await helm.run([
          'template',
          'x',
          CHART_DIR,
          '-n',
          'ops',
          '--set',
          'operator.watchNamespace=apps',
        ])
      ).stdout,
    );
    assert.equal(narrow.filter((doc) => doc.kind.startsWith('Cluster')).length, 0);
    const watched = narrow.find((doc) => doc.kind === 'Role' && doc.metadata.namespace === 'apps');
    assert.ok(watched, 'a Role in the watched namespace');
  });

  void it('runs the operator non-root on a read-only root file system with its settings from values', async () => {
    const docs = documents(
      (await helm.run(['template', 'x', CHART_DIR, '-n', 'ops', '--set', 'image.tag=9.9.9']))
        .stdout,
    );
    const deployment = docs.find((doc) => doc.kind === 'Deployment')!;
    const pod = (deployment.spec!['template'] as { spec: Record<string, unknown> }).spec;
    const container = (pod['containers'] as Array<Record<string, unknown>>)[0]!;
    assert.deepEqual(container['args'], ['operator']);
    assert.equal(container['image'], 'ghcr.io/kubesftp/kubesftp:9.9.9');
    const env = Object.fromEntries(
      (container['env'] as Array<{ name: string; value?: string }>).map((v) => [v.name, v.value]),
    );
    assert.equal(env['KUBESFTP_OPERATOR_DEFAULT_IMAGE'], 'ghcr.io/kubesftp/kubesftp:9.9.9');
    assert.equal(env['KUBESFTP_OPERATOR_LEADER_ELECT'], 'true');
    assert.equal(env['KUBESFTP_OPERATOR_PASSWORD_HASH_ITERATIONS'], '600000');
    assert.deepEqual(container['securityContext'], {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.equal((pod['securityContext'] as { runAsNonRoot: boolean }).runAsNonRoot, true);
  });

  void it('puts the example server on S3 when a bucket is given, else on a claim', async () => {
    const example = async (options: string[]): Promise<Record<string, unknown>> => {
      const rendered = await helm.run([
        'template',
        'x',
        CHART_DIR,
        '--show-only',
        'templates/example-sftpserver.yaml',
        '--set',
        ['example.enabled=true', ...options].join(','),
      ]);
      const spec = documents(rendered.stdout)[0]!.spec as { storage: Record<string, unknown> };
      return spec.storage;
    };
    assert.deepEqual(
      await example([
        'example.s3.bucket=homes',
        'example.s3.endpoint=http://minio:9000',
        'example.s3.forcePathStyle=true',
        'example.s3.credentialsSecret=homes-s3',
      ]),
      {
        s3: {
          bucket: 'homes',
          region: 'us-east-1',
          endpoint: 'http://minio:9000',
          forcePathStyle: true,
          credentialsSecretRef: { name: 'homes-s3' },
        },
      },
    );
    assert.deepEqual(await example([]), { persistentVolumeClaim: { size: '10Gi' } });
  });

  void it('is what manifests/ holds (run make manifests when this fails)', async () => {
    for (const [name, contents] of Object.entries(await renderManifests(helm))) {
      const onDisk = await readFile(join(MANIFESTS_DIR, name), 'utf8').catch(() => '(missing)');
      assert.ok(
        onDisk === contents,
        `manifests/${name} is stale: run make manifests and commit it`,
      );
    }
  });
});
