/**
 * A real Kubernetes for tests. By default the control plane alone (etcd + kube-apiserver on
 * loopback, in the manner of controller-runtime's envtest): objects are stored, no pod runs.
 * With `node: true`, also the controller-manager, the scheduler and one node that runs pods
 * (see node.ts); only one such bed runs on a machine at a time.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { testbedBinary } from './binaries.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { startNodeCluster, type KubernetesNode } from './node.js';
import type { ManagedProcess } from './processes.js';

const run = promisify(execFile);

export interface KubernetesEnv {
  /** https://<address>:<port>: 127.0.0.1, or the node's bridge address with a node. */
  server: string;
  kubeconfigPath: string;
  /** Bearer token of a user in system:masters. */
  token: string;
  caCertPath: string;
  caCertPem: string;
  /** The bed's temp dir, removed on stop (and, with a node, after a killed run): tests may keep their files here. */
  tempDir: string;
  /** The node, when started with `node: true`. */
  node?: KubernetesNode;
  /** Runs kubectl against this cluster; rejects with kubectl's stderr. */
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

export interface StartKubernetesOptions {
  /** Time allowed for each part to become ready (default 60 s, 120 s with a node). */
  readyTimeoutMs?: number;
  /** Also run a node (containerd, kubelet, kube-proxy) and the controllers pods need. */
  node?: boolean;
  /** With a node: how long to wait for another bed's node to finish (default 10 min). */
  nodeLockTimeoutMs?: number;
}

export async function startKubernetes(
  options: StartKubernetesOptions = {},
): Promise<KubernetesEnv> {
  if (options.node) {
    const cluster = await startNodeCluster({
      timeoutMs: options.readyTimeoutMs ?? 120_000,
      lockTimeoutMs: options.nodeLockTimeoutMs ?? 600_000,
    });
    return environment({ ...cluster, tempDir: cluster.dir });
  }
  const dir = await mkdtemp(join(tmpdir(), 'kubesftp-kube-'));
  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of started.reverse()) await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const controlPlane = await startControlPlane({
      dir,
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      address: '127.0.0.1',
      serviceCidr: '10.96.0.0/24',
      extraServingIps: [],
      withNode: false,
      onStarted: (child) => started.push(child),
    });
    return environment({ controlPlane, stop, tempDir: dir });
  } catch (err) {
    await stop();
    throw err;
  }
}

function environment(parts: {
  controlPlane: ControlPlane;
  stop: () => Promise<void>;
  tempDir: string;
  node?: KubernetesNode;
}): KubernetesEnv {
  const { controlPlane, stop, tempDir, node } = parts;
  const { server, kubeconfigPath, token, caCertPath, caCertPem } = controlPlane;
  return {
    server,
    tempDir,
    kubeconfigPath,
    token,
    caCertPath,
    caCertPem,
    node,
    kubectl: (args, kubectlOptions) => kubectl(kubeconfigPath, args, kubectlOptions),
    stop,
  };
}

async function kubectl(
  kubeconfigPath: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const child = run(testbedBinary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 64 << 20,
  });
  child.child.stdin?.end(options.input);
  try {
    return (await child).stdout;
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
    throw new KubesftpError(ErrorCode.FAILURE, `kubectl ${args.join(' ')}: ${detail}`, {
      cause: err,
    });
  }
}
