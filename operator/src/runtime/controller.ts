/**
 * A controller: a keyed work queue drained by a few workers that call one reconciler, with a
 * periodic resync that enqueues every key again (drift made behind the operator's back is
 * found at the latest then, even if a watch missed an event). Failures back off per key; a
 * conflict is a lost race, retried like a failure but counted apart.
 */
import type { Logger } from 'pino';
import type { ObjectKey } from '../api/objects.js';
import { isConflict } from '../kube/errors.js';
import type { OperatorMetrics, ReconcileResult } from './metrics.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileOutcome {
  /** Reconcile this key again after this long, even without a change. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: ObjectKey): Promise<ReconcileOutcome>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  metrics: OperatorMetrics;
  logger: Logger;
  workers?: number;
  /** Every key from keys() is enqueued again this often (default 5 min); 0 disables it. */
  resyncMs?: number;
  keys: () => ObjectKey[];
  backoff?: { baseMs?: number; maxMs?: number };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<ObjectKey>;
  readonly #options: ControllerOptions;
  readonly #log: Logger;
  #resyncTimer: NodeJS.Timeout | undefined;
  #workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#options = options;
    this.#log = options.logger;
    this.queue = new WorkQueue<ObjectKey>({ backoff: options.backoff ?? {} });
    options.metrics.watchQueue(options.name, () => this.queue.length);
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(key);
  }

  /** Enqueues every known key (at start and at each resync). */
  enqueueAll(): void {
    for (const key of this.#options.keys()) this.queue.add(key);
  }

  start(): void {
    this.enqueueAll();
    const resyncMs = this.#options.resyncMs ?? 300_000;
    if (resyncMs > 0) this.#resyncTimer = setInterval(() => this.enqueueAll(), resyncMs);
    const workers = this.#options.workers ?? 2;
    this.#workers = Array.from({ length: workers }, () => this.#work());
  }

  /** Stops handing out keys and waits for the reconciles in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.#workers);
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.#process(key);
    }
  }

  async #process(key: ObjectKey): Promise<void> {
    const { metrics } = this.#options;
    const end = metrics.reconcileSeconds.startTimer({ controller: this.name });
    let result: ReconcileResult = 'success';
    try {
      const outcome = await this.#options.reconciler.reconcile(key);
      this.queue.forget(key);
      if (outcome.requeueAfterMs !== undefined) {
        result = 'requeue';
        this.queue.addAfter(key, outcome.requeueAfterMs);
      }
    } catch (err) {
      result = isConflict(err) ? 'conflict' : 'error';
      const retryInMs = this.queue.addRateLimited(key);
      const log =
        result === 'conflict' ? this.#log.debug.bind(this.#log) : this.#log.warn.bind(this.#log);
      log(
        {
          controller: this.name,
          key,
          err: err instanceof Error ? err.message : String(err),
          retryInMs,
        },
        'reconcile failed',
      );
    } finally {
      end();
      metrics.reconciles.inc({ controller: this.name, result });
      this.queue.done(key);
    }
  }
}
