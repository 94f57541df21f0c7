/**
 * Runs jobs that share a key (a handle) one after another in arrival order, while jobs under
 * different keys overlap. One drain loop per busy key, so queueing a job allocates no closure.
 */
export class SerialQueues<J> {
  readonly #run: (job: J) => Promise<void>;
  readonly #pending = new Map<string, J[]>();
  #cancelled = false;

  /** `run` must not reject: it owns error handling for its job. */
  constructor(run: (job: J) => Promise<void>) {
    this.#run = run;
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
        await this.#run(queue.shift()!);
      }
    } finally {
      this.#pending.delete(key);
    }
  }
}
