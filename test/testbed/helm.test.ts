import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot, testbedBinary } from '../env/testbed.js';

const run = promisify(execFile);

void describe('helm from the test bed', { timeout: 60_000 }, () => {
  const chart = join(repoRoot(), 'test', 'testbed', 'fixtures', 'minichart');
  let home: string;
  let helm: (args: string[]) => Promise<{ stdout: string; stderr: string }>;

  before(async () => {
    // helm keeps caches and repositories under these; keep them out of the user's home.
    home = await mkdtemp(join(tmpdir(), 'kubesftp-helm-'));
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    };
    const binary = testbedBinary('helm');
    helm = (args) => run(binary, args, { env });
  });

  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  void it('lints the fixture chart', async () => {
    const { stdout } = await helm(['lint', '--strict', chart]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  void it('renders the fixture chart with the values given', async () => {
    const greeting = `hi-${process.pid}`;
    const { stdout } = await helm(['template', 'smoke', chart, '--set', `greeting=${greeting}`]);
    const manifests = parseAllDocuments(stdout)
      .map(
        (doc) =>
          doc.toJS() as {
            kind?: string;
            metadata?: { name?: string };
            data?: Record<string, string>;
          },
      )
      .filter((manifest) => manifest !== null);
    assert.equal(manifests.length, 1);
    assert.equal(manifests[0]!.kind, 'ConfigMap');
    assert.equal(manifests[0]!.metadata?.name, 'smoke-greeting');
    assert.deepEqual(manifests[0]!.data, { greeting, replicas: '1' });
  });

  void it('refuses values that break the chart schema', async () => {
    await assert.rejects(
      helm(['template', 'smoke', chart, '--set', 'replicas=-3']),
      (err: unknown) => {
        assert.match((err as { stderr: string }).stderr, /replicas/);
        return true;
      },
    );
  });
});
