/**
 * A real control plane for tests (etcd + kube-apiserver, no nodes), in the manner of
 * controller-runtime's envtest: everything on loopback, state in a temp dir, an admin
 * bearer token in system:masters, and a kubeconfig for clients.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { testbedBinary } from './binaries.js';
import { createApiServerPki, type ApiServerPki } from './pki.js';
import {
  freeLoopbackPort,
  spawnManaged,
  waitUntilReady,
  type ManagedProcess,
} from './processes.js';

export interface KubernetesEnv {
  /** https://127.0.0.1:<port> */
  server: string;
  kubeconfigPath: string;
  /** Bearer token of a user in system:masters. */
  token: string;
  caCertPath: string;
  caCertPem: string;
  stop(): Promise<void>;
}

export interface StartKubernetesOptions {
  /** Time allowed for etcd and the API server to become ready (default 60 s). */
  readyTimeoutMs?: number;
}

async function startEtcd(
  binary: string,
  dir: string,
  timeoutMs: number,
): Promise<{ process: ManagedProcess; url: string }> {
  const clientUrl = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const peerUrl = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const etcd = spawnManaged({
    name: 'etcd',
    command: binary,
    args: [
      ['--name', 'testbed', '--data-dir', join(dir, 'etcd'), '--log-level', 'warn'],
      ['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
      ['--initial-cluster', `testbed=${peerUrl}`, '--unsafe-no-fsync'],
    ].flat(),
  });
  const probe = async (): Promise<boolean> => {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  };
  await waitUntilReady({ process: etcd, probe, timeoutMs, what: 'etcd' });
  return { process: etcd, url: clientUrl };
}

function apiServerArgs(
  pki: ApiServerPki,
  options: { port: number; etcdUrl: string; tokenFile: string },
): string[] {
  return [
    [
      '--etcd-servers',
      options.etcdUrl,
      '--bind-address',
      '127.0.0.1',
      '--advertise-address',
      '127.0.0.1',
    ],
    ['--secure-port', String(options.port)],
    ['--tls-cert-file', pki.servingCertPath, '--tls-private-key-file', pki.servingKeyPath],
    ['--client-ca-file', pki.caCertPath, '--token-auth-file', options.tokenFile],
    ['--service-account-issuer', 'https://kubernetes.default.svc.cluster.local'],
    ['--service-account-key-file', pki.serviceAccountPublicKeyPath],
    ['--service-account-signing-key-file', pki.serviceAccountPrivateKeyPath],
    [
      '--service-cluster-ip-range',
      '10.96.0.0/24',
      '--authorization-mode',
      'RBAC',
      '--allow-privileged=true',
    ],
    // A single-user test bed needs no request fairness, and it slows the start.
    ['--enable-priority-and-fairness=false'],
    // There are no nodes to route the kubernetes Service to, and loopback is refused as its endpoint.
    ['--endpoint-reconciler-type', 'none'],
  ].flat();
}

/** GET /readyz with the admin token; true on 200. */
function readyzOk(server: string, token: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}/readyz`,
      { ca, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.setTimeout(2_000, () => req.destroy(new Error('readyz timed out')));
    req.once('error', reject);
    req.end();
  });
}

function kubeconfig(server: string, caCertPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'testbed',
        cluster: {
          server,
          'certificate-authority-data': Buffer.from(caCertPem).toString('base64'),
        },
      },
    ],
    users: [{ name: 'testbed-admin', user: { token } }],
    contexts: [
      {
        name: 'testbed',
        context: { cluster: 'testbed', user: 'testbed-admin', namespace: 'default' },
      },
    ],
    'current-context': 'testbed',
  });
}

export async function startKubernetes(
  options: StartKubernetesOptions = {},
): Promise<KubernetesEnv> {
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  // Both binaries are looked up first so that a missing one fails before anything starts.
  const etcdBinary = testbedBinary('etcd');
  const apiServerBinary = testbedBinary('kube-apiserver');
  const dir = await mkdtemp(join(tmpdir(), 'kubesftp-kube-'));
  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of started.reverse()) await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const etcd = await startEtcd(etcdBinary, dir, timeoutMs);
    started.push(etcd.process);
    const pki = await createApiServerPki(dir);
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${token},kubesftp-admin,kubesftp-admin,"system:masters"\n`, {
      mode: 0o600,
    });
    const port = await freeLoopbackPort();
    const apiServer = spawnManaged({
      name: 'kube-apiserver',
      command: apiServerBinary,
      args: apiServerArgs(pki, { port, etcdUrl: etcd.url, tokenFile }),
    });
    started.push(apiServer);
    const server = `https://127.0.0.1:${port}`;
    const caCertPem = await readFile(pki.caCertPath, 'utf8');
    const probe = (): Promise<boolean> => readyzOk(server, token, caCertPem);
    await waitUntilReady({ process: apiServer, probe, timeoutMs, what: 'kube-apiserver' });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, caCertPem, token), { mode: 0o600 });
    return { server, kubeconfigPath, token, caCertPath: pki.caCertPath, caCertPem, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
