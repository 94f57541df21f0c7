/**
 * Runs action jobs a few at a time. A burst of events (ten thousand small uploads) must not
 * start ten thousand programs at once, nor hold up a transfer: jobs past the running bound wait
 * in a bounded queue, and a job that finds the queue full is refused at once (the caller counts
 * and logs it). Hand-written: it is a counter and an array, and the refusal at the bound is
 * the part a general-purpose queue library leaves to its caller anyway.
 */

export type ActionJob = () => Promise<void>;

export interface ActionQueueOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs waiting beyond those; one more is refused. */
  capacity: number;
}

export class ActionQueue {
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #waiting: ActionJob[] = [];
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(options: ActionQueueOptions) {
    this.#concurrency = Math.max(1, options.concurrency);
    this.#capacity = Math.max(0, options.capacity);
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Starts or queues the job; false when the queue is full and the job was dropped. */
  push(job: ActionJob): boolean {
    if (this.#running < this.#concurrency) {
      this.#start(job);
      return true;
    }
    if (this.#waiting.length >= this.#capacity) return false;
    this.#waiting.push(job);
    return true;
  }

  /** Resolves once nothing runs or waits (at shutdown, before a CLI exits). */
  drained(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #start(job: ActionJob): void {
    this.#running += 1;
    // A job reports its own failures; a rejection here must still free its slot.
    void job()
      .catch(() => undefined)
      .finally(() => this.#next());
  }

  #next(): void {
    this.#running -= 1;
    const job = this.#waiting.shift();
    if (job !== undefined) {
      this.#start(job);
      return;
    }
    if (this.#running > 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
