/**
 * etcd and kube-apiserver for the test bed, in the manner of controller-runtime's envtest:
 * state in a temp dir, an admin bearer token in system:masters, and a kubeconfig for clients.
 * Alone they listen on loopback; with a node the API server listens on the node's bridge and
 * can reach kubelets for logs and exec.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { testbedBinary } from './binaries.js';
import { createApiServerPki, createClientCertificate, type ApiServerPki } from './pki.js';
import {
  freeLoopbackPort,
  spawnManaged,
  waitUntilReady,
  type ManagedProcess,
} from './processes.js';

export interface ControlPlaneOptions {
  dir: string;
  timeoutMs: number;
  /** Address the API server listens on and advertises. */
  address: string;
  serviceCidr: string;
  /** Extra addresses in the serving certificate (the kubernetes Service's, on a node bed). */
  extraServingIps: string[];
  /** Set up the API server for a node: kubelet client certificate, Service endpoints. */
  withNode: boolean;
  /** Called with each process once it runs, before it is ready, so it can be recorded. */
  onStarted: (process: ManagedProcess) => void;
}

export interface ControlPlane {
  server: string;
  kubeconfigPath: string;
  token: string;
  caCertPath: string;
  caCertPem: string;
  pki: ApiServerPki;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  // Both binaries are looked up first so that a missing one fails before anything starts.
  const etcdBinary = testbedBinary('etcd');
  const apiServerBinary = testbedBinary('kube-apiserver');
  const etcdUrl = await startEtcd(etcdBinary, options);
  const pki = await createApiServerPki(options.dir, {
    ips: [...new Set(['127.0.0.1', options.address, ...options.extraServingIps])],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  });
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(options.dir, 'tokens.csv');
  await writeFile(tokenFile, `${token},kubesftp-admin,kubesftp-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  const port = await freeLoopbackPort();
  const args = apiServerArgs(pki, { ...options, port, etcdUrl, tokenFile });
  if (options.withNode) args.push(...(await kubeletClientArgs(options.dir)));
  const apiServer = spawnManaged({ name: 'kube-apiserver', command: apiServerBinary, args });
  options.onStarted(apiServer);
  const server = `https://${options.address}:${port}`;
  const caCertPem = await readFile(pki.caCertPath, 'utf8');
  const probe = (): Promise<boolean> => httpsOk(`${server}/readyz`, { ca: caCertPem, token });
  await waitUntilReady({
    process: apiServer,
    probe,
    timeoutMs: options.timeoutMs,
    what: 'kube-apiserver',
  });
  const kubeconfigPath = join(options.dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfig(server, caCertPem, token), { mode: 0o600 });
  return { server, kubeconfigPath, token, caCertPath: pki.caCertPath, caCertPem, pki };
}

async function startEtcd(binary: string, options: ControlPlaneOptions): Promise<string> {
  const clientUrl = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const peerUrl = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const etcd = spawnManaged({
    name: 'etcd',
    command: binary,
    args: [
      ['--name', 'testbed', '--data-dir', join(options.dir, 'etcd'), '--log-level', 'warn'],
      ['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
      ['--initial-cluster', `testbed=${peerUrl}`, '--unsafe-no-fsync'],
    ].flat(),
  });
  options.onStarted(etcd);
  const probe = async (): Promise<boolean> => {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    return response.ok && ((await response.json()) as { health?: string }).health === 'true';
  };
  await waitUntilReady({ process: etcd, probe, timeoutMs: options.timeoutMs, what: 'etcd' });
  return clientUrl;
}

function apiServerArgs(
  pki: ApiServerPki,
  options: ControlPlaneOptions & { port: number; etcdUrl: string; tokenFile: string },
): string[] {
  return [
    ['--etcd-servers', options.etcdUrl, '--secure-port', String(options.port)],
    ['--bind-address', options.address, '--advertise-address', options.address],
    ['--tls-cert-file', pki.servingCertPath, '--tls-private-key-file', pki.servingKeyPath],
    ['--client-ca-file', pki.caCertPath, '--token-auth-file', options.tokenFile],
    ['--service-account-issuer', 'https://kubernetes.default.svc.cluster.local'],
    ['--service-account-key-file', pki.serviceAccountPublicKeyPath],
    ['--service-account-signing-key-file', pki.serviceAccountPrivateKeyPath],
    ['--service-cluster-ip-range', options.serviceCidr],
    ['--authorization-mode', 'RBAC', '--allow-privileged=true'],
    // A single-user test bed needs no request fairness, and it slows the start.
    ['--enable-priority-and-fairness=false'],
    // Without a node nothing routes the kubernetes Service, and loopback is refused as its
    // endpoint; with one, the API server's bridge address is a fine endpoint.
    options.withNode ? [] : ['--endpoint-reconciler-type', 'none'],
  ].flat();
}

/** Logs and exec go from the API server to the kubelet, which wants a client certificate. */
async function kubeletClientArgs(dir: string): Promise<string[]> {
  const client = await createClientCertificate(dir, 'kubelet-client', {
    user: 'kube-apiserver-kubelet-client',
    groups: ['system:masters'],
  });
  return [
    ['--kubelet-client-certificate', client.certPath, '--kubelet-client-key', client.keyPath],
    // The machine's hostname resolves to 127.0.0.1: dialing it would miss the kubelet.
    ['--kubelet-preferred-address-types', 'InternalIP,Hostname'],
  ].flat();
}

/** GET over TLS; true on 200. Without a CA the server's certificate is not checked. */
export function httpsOk(url: string, options: { ca?: string; token?: string }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
    const req = request(
      url,
      { ca: options.ca, rejectUnauthorized: options.ca !== undefined, headers },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.setTimeout(2_000, () => req.destroy(new Error(`${url} timed out`)));
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

/** GET of an API path as the admin; the parsed body, or undefined when it is not 200. */
export function apiGet<T>(controlPlane: ControlPlane, path: string): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${controlPlane.server}${path}`,
      { ca: controlPlane.caCertPem, headers: { authorization: `Bearer ${controlPlane.token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve(
            res.statusCode === 200
              ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as T)
              : undefined,
          ),
        );
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}
