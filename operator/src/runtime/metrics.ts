/**
 * The operator's Prometheus metrics, on a registry of its own (several operators can run in
 * one test process). Names start with kubesftp_operator_.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestInfo } from '../kube/client.js';

export type ReconcileResult = 'success' | 'requeue' | 'error' | 'conflict';

/** Verbs that change something on the API server. */
export const WRITE_VERBS = new Set(['create', 'apply', 'patch', 'update', 'delete']);

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<'controller' | 'result'>;
  readonly reconcileSeconds: Histogram<'controller'>;
  readonly queueDepth: Gauge<'controller'>;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly informerRestarts: Counter<'informer'>;
  readonly informerLastActivity: Gauge<'informer'>;
  readonly leader: Gauge;
  readonly #queues = new Map<string, () => number>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kubesftp_operator_' });
    const registers = [this.registry];
    this.reconciles = new Counter({
      name: 'kubesftp_operator_reconciles_total',
      help: 'Reconciles by controller and result (success, requeue, error, conflict).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: 'kubesftp_operator_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const queues = this.#queues;
    this.queueDepth = new Gauge({
      name: 'kubesftp_operator_queue_depth',
      help: 'Keys waiting in the work queue of each controller.',
      labelNames: ['controller'],
      registers,
      collect() {
        for (const [controller, depth] of queues) this.set({ controller }, depth());
      },
    });
    this.apiRequests = new Counter({
      name: 'kubesftp_operator_api_requests_total',
      help: 'Requests to the Kubernetes API by verb, resource and HTTP status (0: no answer).',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.informerRestarts = new Counter({
      name: 'kubesftp_operator_informer_restarts_total',
      help: 'Times an informer was started again after an error or a silent watch.',
      labelNames: ['informer'],
      registers,
    });
    this.informerLastActivity = new Gauge({
      name: 'kubesftp_operator_informer_last_activity_timestamp_seconds',
      help: 'When each informer last heard from the API server (an event or a new watch).',
      labelNames: ['informer'],
      registers,
    });
    this.leader = new Gauge({
      name: 'kubesftp_operator_leader',
      help: '1 while this process holds the leader lease.',
      registers,
    });
  }

  /** Reports the depth of a controller's queue at each scrape. */
  watchQueue(controller: string, depth: () => number): void {
    this.#queues.set(controller, depth);
  }

  observeRequest(info: RequestInfo): void {
    this.apiRequests.inc({ verb: info.verb, resource: info.resource, code: String(info.status) });
  }

  /** Write requests made so far (creates, applies, patches, deletes), from the counter. */
  async writeRequests(): Promise<number> {
    const metric = await this.apiRequests.get();
    return metric.values
      .filter((value) => WRITE_VERBS.has(String(value.labels.verb)))
      .reduce((sum, value) => sum + value.value, 0);
  }
}
