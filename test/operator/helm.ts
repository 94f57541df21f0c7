/**
 * helm from the test bed, with its caches and config in a throwaway home, and the way the
 * plain manifests in manifests/ are rendered from the chart (the test that keeps them in sync
 * and `make manifests` both use it).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { repoRoot, testbedBinary } from '../env/testbed.js';

const run = promisify(execFile);

export interface Helm {
  run(
    args: string[],
    options?: { kubeconfig?: string },
  ): Promise<{ stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function startHelm(): Promise<Helm> {
  const home = await mkdtemp(join(tmpdir(), 'kubesftp-helm-'));
  const binary = testbedBinary('helm');
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  return {
    run: (args, options = {}) =>
      run(binary, args, {
        env: options.kubeconfig === undefined ? env : { ...env, KUBECONFIG: options.kubeconfig },
        maxBuffer: 64 * 1024 * 1024,
      }),
    close: () => rm(home, { recursive: true, force: true }),
  };
}

export const CHART_DIR = join(repoRoot(), 'charts', 'kubesftp');
export const MANIFESTS_DIR = join(repoRoot(), 'manifests');
/** The namespace the plain manifests install the operator into. */
export const MANIFESTS_NAMESPACE = 'kubesftp-system';

const HEADER =
  '# Rendered from charts/kubesftp with its default values by test/operator/helm.ts (make manifests); do not edit.\n';

/** The files of manifests/: the namespace, the CRDs and the operator, and their kustomization. */
export async function renderManifests(helm: Helm): Promise<Record<string, string>> {
  const { stdout } = await helm.run([
    'template',
    'kubesftp',
    CHART_DIR,
    '--namespace',
    MANIFESTS_NAMESPACE,
    '--include-crds',
  ]);
  const namespace = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${MANIFESTS_NAMESPACE}\n`;
  const kustomization = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    '  - namespace.yaml',
    '  - kubesftp.yaml',
    '',
  ].join('\n');
  return {
    'namespace.yaml': HEADER + namespace,
    'kubesftp.yaml': HEADER + stdout,
    'kustomization.yaml': HEADER + kustomization,
  };
}

async function main(): Promise<void> {
  const helm = await startHelm();
  try {
    for (const [name, contents] of Object.entries(await renderManifests(helm))) {
      await writeFile(join(MANIFESTS_DIR, name), contents);
      process.stdout.write(`wrote manifests/${name}\n`);
    }
  } finally {
    await helm.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
