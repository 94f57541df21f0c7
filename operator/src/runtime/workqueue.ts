/**
 * A keyed work queue in the manner of client-go's: a key waits in the queue at most once however
 * often it is added (the reconciler reads the latest state anyway), a key being processed is
 * never handed to a second worker (added meanwhile, it comes back once the first is done),
 * failures back off per key, and a key can be scheduled for later (requeueAfter).
 */

export interface BackoffOptions {
  /** Delay after the first failure (default 1 s); each further failure doubles it. */
  baseMs: number;
  /** The longest delay (default 5 min). */
  maxMs: number;
}

export interface WorkQueueOptions {
  backoff?: Partial<BackoffOptions>;
}

export class WorkQueue<K> {
  readonly #queue: K[] = [];
  /** Keys waiting in #queue, or re-added while processing. */
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #failures = new Map<K, number>();
  /** Delayed adds: the key and when it is due; only the earliest is kept. */
  readonly #timers = new Map<K, { due: number; timer: NodeJS.Timeout }>();
  readonly #waiters: Array<(key: K | undefined) => void> = [];
  readonly #backoff: BackoffOptions;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#backoff = { baseMs: 1_000, maxMs: 300_000, ...options.backoff };
  }

  /** Adds a key now; a no-op when it is already waiting. */
  add(key: K): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
  }

  /** Adds a key once `ms` have passed; an earlier pending add for the key wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + ms;
    const pending = this.#timers.get(key);
    if (pending !== undefined && pending.due <= due) return;
    if (pending !== undefined) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    this.#timers.set(key, { due, timer });
  }

  /** Adds a key after its backoff: baseMs doubled per failure since it last succeeded. */
  addRateLimited(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.min(this.#backoff.maxMs, this.#backoff.baseMs * 2 ** Math.min(failures, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Processing of `key` ended; if it was added meanwhile, it goes back in the queue. */
  done(key: K): void {
    this.#processing.delete(key);
    if (!this.#dirty.has(key)) return;
    this.#dirty.delete(key);
    this.add(key);
  }

  /** Keys waiting now (not those processing or scheduled for later). */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys processing now. */
  get inFlight(): number {
    return this.#processing.size;
  }

  /** Stops handing out keys: waiting getters resolve undefined, timers are dropped. */
  shutdown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
}
