/**
 * What the primary and its workers tell each other over the IPC channel. Sockets travel as the
 * handle of a `socket` message; requests carry an id their reply repeats.
 */
import type { ConnectionInfo } from '../httpd/types.js';
import type { MetricJson } from './metrics.js';

/** The environment variable that makes `kubesftp serve` a worker; its value is the slot. */
export const WORKER_SLOT_ENV = 'KUBESFTP_WORKER_SLOT';

export type ToWorker =
  | { t: 'socket'; handoff: number }
  | { t: 'list'; request: number }
  | { t: 'close'; request: number; connectionId: string }
  | { t: 'metrics'; request: number }
  | { t: 'drain'; graceMs: number };

export type FromWorker =
  | { t: 'ready'; nodeId: string }
  | { t: 'logged-in'; handoff: number }
  | { t: 'closed'; handoff: number }
  | { t: 'reply'; request: number; result: ConnectionInfo[] | boolean | MetricJson[] };

/** Messages come from our own processes, but a stray one must not crash either side. */
export function isMessage<T extends { t: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as T).t === 'string';
}
