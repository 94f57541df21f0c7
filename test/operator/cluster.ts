/**
 * What the operator suites share on the test bed's API server: the chart installed with the
 * real `helm install`, a kubeconfig holding a token of the chart's ServiceAccount (so the
 * operator's requests are checked against the chart's RBAC), kubectl reads of objects, and the
 * real OpenSSH `sftp` run inside a pod's network namespace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubernetesEnv } from '../env/testbed.js';
import { askpassEnv, sshOptions, type ClientAuth } from '../integration/harness.js';
import { CHART_DIR, type Helm } from './helm.js';
import { tokenKubeconfig } from './operator-process.js';
import type { RunningPod } from './pod.js';

export const RELEASE_NAMESPACE = 'kubesftp-system';
export const TEST_IMAGE = 'kubesftp.test/kubesftp:operator-test';

export interface KubeObject {
  metadata: {
    name: string;
    resourceVersion: string;
    uid: string;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
    finalizers?: string[];
  };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & {
    conditions?: Array<{ type: string; status: string; reason: string; message?: string }>;
  };
}

/** `helm install` of the chart (CRDs, ServiceAccount, RBAC), waiting for the CRDs to serve. */
export async function installChart(helm: Helm, kube: KubernetesEnv): Promise<void> {
  await helm.run(
    [
      'install',
      'kubesftp',
      CHART_DIR,
      '--namespace',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '--set',
      `image.repository=kubesftp.test/kubesftp,image.tag=operator-test`,
    ],
    { kubeconfig: kube.kubeconfigPath },
  );
  await kube.kubectl([
    'wait',
    '--for',
    'condition=Established',
    'crd/sftpservers.kubesftp.io',
    'crd/sftpusers.kubesftp.io',
  ]);
}

/** A kubeconfig file holding a token of the chart's ServiceAccount. */
export async function writeOperatorKubeconfig(kube: KubernetesEnv, dir: string): Promise<string> {
  const token = (
    await kube.kubectl([
      'create',
      'token',
      'kubesftp-operator',
      '-n',
      RELEASE_NAMESPACE,
      '--duration',
      '2h',
    ])
  ).trim();
  const kubeconfig = join(dir, 'operator.kubeconfig');
  await writeFile(kubeconfig, tokenKubeconfig(kube, token));
  return kubeconfig;
}

export function decode(object: KubeObject, key: string): string {
  const value = object.data?.[key];
  assert.ok(value !== undefined, `${object.metadata.name} has no ${key}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

export function condition(
  object: KubeObject,
  type: string,
): { status: string; reason: string; message?: string } | undefined {
  return object.status?.conditions?.find((c) => c.type === type);
}

/** kubectl get and apply in one namespace. */
export function kubeIn(
  kube: KubernetesEnv,
  namespace: string,
): {
  get(kind: string, name: string): Promise<KubeObject>;
  apply(yaml: string): Promise<string>;
} {
  return {
    get: async (kind, name) =>
      JSON.parse(
        await kube.kubectl(['get', kind, name, '-n', namespace, '-o', 'json']),
      ) as KubeObject,
    apply: (yaml) => kube.kubectl(['apply', '-f', '-'], { input: yaml }),
  };
}

/**
 * The known_hosts a generated credentials Secret publishes, for a client inside the pod: the
 * Secret names the Service (as host, or [host]:port off port 22); inside the pod the server
 * listens on the container port.
 */
export async function podKnownHosts(credentials: KubeObject, path: string): Promise<void> {
  const lines = decode(credentials, 'known_hosts')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.replace(/^\S+/, '[127.0.0.1]:2022'));
  await writeFile(path, `${lines.join('\n')}\n`);
}

/** The real sftp client in batch mode, inside the pod's network namespace, host key checked. */
export async function sftpInPod(options: {
  pod: RunningPod;
  work: string;
  knownHosts: string;
  auth: ClientAuth;
  commands: string[];
}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { auth, work } = options;
  const batch = join(work, `batch-${randomBytes(4).toString('hex')}`);
  await writeFile(batch, `${options.commands.join('\n')}\n`);
  const args = [
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${options.knownHosts}`,
    ...sshOptions(2022, auth, '-P'),
    '-b',
    batch,
    `${auth.username}@127.0.0.1`,
  ];
  const { command, args: wrapped } = options.pod.inNetwork('sftp', args);
  const env = await askpassEnv(work, auth.password);
  return new Promise((resolve) => {
    const child = spawn(command, wrapped, { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
