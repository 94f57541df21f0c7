/**
 * The pure parts of the concurrent phase: what one figure means when many uploads run at once,
 * and how kubesftp is asked for a process count.
 */

/** One transfer's interval on the monotonic clock, ms. */
export interface Span {
  startMs: number;
  endMs: number;
}

/**
 * What the server moved while the transfers ran at once: all their bytes over the time from
 * the first start to the last end, so that a straggler counts against the server.
 */
export function aggregateMiBps(spans: readonly Span[], mibEach: number): number {
  if (spans.length === 0) return Number.NaN;
  const first = Math.min(...spans.map((span) => span.startMs));
  const last = Math.max(...spans.map((span) => span.endMs));
  if (!(last > first)) return Number.NaN;
  return (spans.length * mibEach) / ((last - first) / 1000);
}

/**
 * Server settings for `workers` serving processes. 1 is the server as the other phases start
 * it, with no setting at all, so that the row exists whether or not the server knows the key.
 */
export function workersEnv(workers: number): Record<string, string> {
  return workers === 1 ? {} : { KUBESFTP_SFTPD__WORKERS: String(workers) };
}

/** Who a concurrent row measures, in words. */
export function workersLabel(workers: number): string {
  return workers === 1 ? 'kubesftp as started' : `kubesftp with sftpd.workers=${workers}`;
}

export const concurrentMetric = (workers: number): string => `concurrent:${workers}`;
export const concurrentPssMetric = (workers: number): string => `concurrentPss:${workers}`;
