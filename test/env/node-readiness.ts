/**
 * Waits for what pods need before a test may create them: the node Ready, and in a namespace
 * the default ServiceAccount and the kube-root-ca.crt ConfigMap the controller-manager makes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { apiGet, type ControlPlane } from './control-plane.js';

interface NodeStatus {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<string | true>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const result = await check().catch((err: unknown) => String(err));
    if (result === true) return;
    last = result;
    await sleep(250);
  }
  throw new KubesftpError(ErrorCode.FAILURE, `${what} not ready after ${timeoutMs} ms: ${last}`);
}

export function waitForNodeReady(
  controlPlane: ControlPlane,
  name: string,
  timeoutMs: number,
): Promise<void> {
  return pollUntil(`node ${name}`, timeoutMs, async () => {
    const node = await apiGet<NodeStatus>(controlPlane, `/api/v1/nodes/${name}`);
    if (node === undefined) return 'not registered';
    const ready = node.status?.conditions?.find((condition) => condition.type === 'Ready');
    if (ready?.status === 'True') return true;
    return `Ready=${ready?.status ?? 'unknown'} ${ready?.reason ?? ''} ${ready?.message ?? ''}`;
  });
}

export function waitForNamespaceReady(
  controlPlane: ControlPlane,
  namespace: string,
  timeoutMs: number,
): Promise<void> {
  return pollUntil(`namespace ${namespace}`, timeoutMs, async () => {
    const base = `/api/v1/namespaces/${namespace}`;
    if ((await apiGet(controlPlane, `${base}/serviceaccounts/default`)) === undefined) {
      return 'no default ServiceAccount';
    }
    if ((await apiGet(controlPlane, `${base}/configmaps/kube-root-ca.crt`)) === undefined) {
      return 'no kube-root-ca.crt ConfigMap';
    }
    return true;
  });
}
