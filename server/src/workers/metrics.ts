/**
 * /metrics of a primary with workers: the primary's registry and every worker's (asked over
 * IPC with the pool's deadline) merged by prom-client's AggregatorRegistry.aggregate, so one
 * scrape of the pod tells what all its processes did. Server figures are summed by label set;
 * process and Node.js figures stay per process under a `process` label; the counters of a
 * worker that died are carried, so a restart never makes a pod total go down.
 */
import { AggregatorRegistry, Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerPool } from './pool.js';

/** A metric as `Registry.getMetricsAsJSON()` gives it (plain data, fit for the IPC channel). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

/** The label that tells the processes' own figures (collectDefaultMetrics) apart. */
export const PROCESS_LABEL = 'process';
const PER_PROCESS = /^(process|nodejs)_/;
/** The primary counts its workers' logged-in connections itself, also of one that did not answer. */
const PRIMARY_ONLY = new Set(['kubesftp_sessions']);
/** What is carried from a dead worker: totals, never a gauge's last reading. */
const CARRIED_TYPES = new Set(['counter', 'histogram']);

/**
 * Labels the process and Node.js figures with the process they describe: summing resident
 * memory double-counts the pages the processes share, and an average event-loop lag hides the
 * one saturated worker. With one value per label set, `first` keeps each as it is (the library
 * would otherwise omit the start time and average the lag).
 */
export function labelProcess(metrics: MetricJson[], processName: string): MetricJson[] {
  return metrics.map((metric) =>
    PER_PROCESS.test(metric.name)
      ? {
          ...metric,
          aggregator: 'first',
          values: metric.values.map((v) => ({
            ...v,
            labels: { ...v.labels, [PROCESS_LABEL]: processName },
          })),
        }
      : metric,
  );
}

/** The server's totals of a worker, as they are carried once it is gone. */
export function carriedTotals(metrics: MetricJson[]): MetricJson[] {
  return metrics.filter((m) => CARRIED_TYPES.has(m.type) && !PER_PROCESS.test(m.name));
}

/** The primary's figures, each worker's (less what the primary counts for them), merged. */
export function mergeMetrics(primary: MetricJson[], workers: MetricJson[][]): Registry {
  const theirs = workers.map((w) => w.filter((m) => !PRIMARY_ONLY.has(m.name)));
  return AggregatorRegistry.aggregate([primary, ...theirs]);
}

/** The primary's /metrics text with its workers' figures, and the metrics about the workers. */
export class WorkerMetrics {
  readonly #registry: Registry;
  readonly #pool: WorkerPool;
  readonly #scrapeErrors: Counter;
  /** Per slot, the totals its current worker gave at the last scrape. */
  readonly #lastTotals = new Map<number, MetricJson[]>();
  /** The totals of workers that are gone. */
  #retired: MetricJson[][] = [];

  constructor(registry: Registry, pool: WorkerPool) {
    this.#registry = registry;
    this.#pool = pool;
    new Gauge({
      name: 'kubesftp_workers',
      help: 'SFTP worker processes ready to serve',
      registers: [registry],
      collect() {
        this.set(pool.liveCount());
      },
    });
    new Counter({
      name: 'kubesftp_worker_restarts_total',
      help: 'Replacement SFTP workers started after one died',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pool.restarts);
      },
    });
    this.#scrapeErrors = new Counter({
      name: 'kubesftp_worker_scrape_errors_total',
      help: 'Scrapes that left a worker out: it did not answer within the deadline',
      registers: [registry],
    });
    pool.onExit((slot) => {
      const last = this.#lastTotals.get(slot);
      this.#lastTotals.delete(slot);
      if (last !== undefined) this.#retired.push(last);
    });
  }

  /** The merged exposition text; a worker that does not answer is left out and counted. */
  async text(): Promise<string> {
    const answers = await this.#pool.metrics();
    const workers: MetricJson[][] = [];
    for (const { slot, metrics } of answers) {
      if (metrics === undefined) {
        this.#scrapeErrors.inc();
        continue;
      }
      this.#lastTotals.set(slot, carriedTotals(metrics));
      workers.push(labelProcess(metrics, `worker-${slot}`));
    }
    await this.#foldRetired();
    const own = (await this.#registry.getMetricsAsJSON()) as unknown as MetricJson[];
    return mergeMetrics(labelProcess(own, 'primary'), [...workers, ...this.#retired]).metrics();
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Keeps one list of retired totals however many workers died. */
  async #foldRetired(): Promise<void> {
    if (this.#retired.length < 2) return;
    const folded = await AggregatorRegistry.aggregate(this.#retired).getMetricsAsJSON();
    this.#retired = [folded as unknown as MetricJson[]];
  }
}

/** What a primary's /metrics answers: undefined with one process (the registry's own text). */
export function workerMetricsText(
  pool: WorkerPool | undefined,
  registry: Registry,
): (() => Promise<string>) | undefined {
  if (pool === undefined) return undefined;
  const merged = new WorkerMetrics(registry, pool);
  return () => merged.text();
}
