/**
 * kube-controller-manager and kube-scheduler: what turns Deployments into pods, pods into
 * bindings, and gives each namespace its default ServiceAccount and kube-root-ca.crt. Both use
 * the admin kubeconfig and serve their health on loopback only.
 */
import { testbedBinary } from './binaries.js';
import { httpsOk, type ControlPlane } from './control-plane.js';
import {
  freeLoopbackPort,
  spawnManaged,
  waitUntilReady,
  type ManagedProcess,
} from './processes.js';

export interface ControllerOptions {
  controlPlane: ControlPlane;
  serviceCidr: string;
  timeoutMs: number;
  onStarted: (process: ManagedProcess) => void;
}

export async function startControllerManager(options: ControllerOptions): Promise<void> {
  const { controlPlane } = options;
  await startHealthChecked(options, 'kube-controller-manager', [
    ['--kubeconfig', controlPlane.kubeconfigPath, '--leader-elect=false'],
    // Signs the token Secrets it makes and publishes the CA as kube-root-ca.crt.
    ['--service-account-private-key-file', controlPlane.pki.serviceAccountPrivateKeyPath],
    ['--root-ca-file', controlPlane.caCertPath],
    ['--service-cluster-ip-range', options.serviceCidr],
    ['--use-service-account-credentials=false'],
  ]);
}

export async function startScheduler(options: ControllerOptions): Promise<void> {
  await startHealthChecked(options, 'kube-scheduler', [
    ['--kubeconfig', options.controlPlane.kubeconfigPath, '--leader-elect=false'],
  ]);
}

async function startHealthChecked(
  options: ControllerOptions,
  name: 'kube-controller-manager' | 'kube-scheduler',
  args: string[][],
): Promise<void> {
  const port = await freeLoopbackPort();
  const child = spawnManaged({
    name,
    command: testbedBinary(name),
    args: [...args, ['--bind-address', '127.0.0.1', '--secure-port', String(port)]].flat(),
  });
  options.onStarted(child);
  // Their serving certificate is self-signed; /healthz needs no credentials.
  const probe = (): Promise<boolean> => httpsOk(`https://127.0.0.1:${port}/healthz`, {});
  await waitUntilReady({ process: child, probe, timeoutMs: options.timeoutMs, what: name });
}
