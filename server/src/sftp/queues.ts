/**
 * Runs jobs that share a key (a handle) one after another in arrival order, while jobs under
 * different keys overlap. One drain loop per busy key, so queueing a job allocates no closure.
 * Jobs that piled up behind a running one may be taken together (see `batchLength`), which
 * is how consecutive writes on one handle become one backend call and reads run side by side.
 */
export class SerialQueues<J> {
  readonly #run: (jobs: J[]) => Promise<void>;
  readonly #batchLength: (queue: readonly J[]) => number;
  readonly #pending = new Map<string, J[]>();
  #cancelled = false;

  /**
   * `run` must not reject: it owns error handling for its jobs. `batchLength` says how many
   * jobs from the head of a queue run together (at least 1).
   */
  constructor(
    run: (jobs: J[]) => Promise<void>,
    batchLength: (queue: readonly J[]) => number = () => 1,
  ) {
    this.#run = run;
    this.#batchLength = batchLength;
  }

  push(key: string, job: J): void {
    const queue = this.#pending.get(key);
    if (queue !== undefined) {
      queue.push(job);
      return;
    }
    const fresh = [job];
    this.#pending.set(key, fresh);
    void this.#drain(key, fresh);
  }

  /** Drops every job not yet started and returns them. Running jobs finish. */
  cancel(): J[] {
    this.#cancelled = true;
    const dropped: J[] = [];
    for (const queue of this.#pending.values()) dropped.push(...queue.splice(0));
    return dropped;
  }

  async #drain(key: string, queue: J[]): Promise<void> {
    try {
      while (queue.length > 0 && !this.#cancelled) {
        const count = Math.max(1, Math.min(queue.length, this.#batchLength(queue)));
        await this.#run(queue.splice(0, count));
      }
    } finally {
      this.#pending.delete(key);
    }
  }
}
