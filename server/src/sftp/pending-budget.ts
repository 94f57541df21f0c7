/**
 * The bytes of requests every SFTP session of the process holds at once, queued or running:
 * mostly WRITE data received and not yet on disk. `sftpd.max_pending_bytes` (16 MiB by
 * default) bounds each session, so that one upload keeps the disk busy, and the sessions of a
 * process together, so that 32 uploads do not hold 32 times as much. Sessions holding bytes
 * share the budget evenly: none goes past its share while others hold bytes too, so one
 * session at its bound (a throttled upload, say) leaves room for the others, and one alone
 * gets all of it. A session the budget stops stops reading its connection: the client's data
 * then waits in the kernel and TCP slows the client down, as with a server of one process per
 * session. A session holding nothing may always take one request, so every session moves.
 */
export class PendingBudget {
  readonly limit: number;
  #held = 0;
  /** Sessions holding bytes now: the budget's share of each is the limit divided by them. */
  #holders = 0;
  /** Sessions stopped by this budget (its limit or their share), called once it has room again. */
  readonly #waiting = new Set<() => void>();

  constructor(limit: number) {
    this.limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  get holders(): number {
    return this.#holders;
  }

  /** What one of the sessions holding bytes may hold while the others hold theirs. */
  get share(): number {
    return this.limit / Math.max(1, this.#holders);
  }

  /** A session takes `bytes`, having held `own` before. */
  take(bytes: number, own: number): void {
    if (own === 0 && bytes > 0) this.#holders++;
    this.#held += bytes;
  }

  /** A session gives back `bytes` and still holds `own`. */
  give(bytes: number, own: number): void {
    if (own === 0 && bytes > 0) this.#holders = Math.max(0, this.#holders - 1);
    this.#held = Math.max(0, this.#held - bytes);
    if (this.#held >= this.limit || this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    // After the giver has finished its own step: a woken session may take requests at once.
    queueMicrotask(() => {
      for (const wake of waiting) wake();
    });
  }

  /** Calls `wake` once, when the budget next has room; a session stopped by it alone waits so. */
  waitForRoom(wake: () => void): void {
    this.#waiting.add(wake);
  }

  stopWaiting(wake: () => void): void {
    this.#waiting.delete(wake);
  }

  /** Whether a session already holding `own` bytes may take another request. */
  allows(own: number): boolean {
    return own === 0 || (this.#held < this.limit && own < this.share);
  }
}

const shared = new Map<number, PendingBudget>();

/**
 * The budget of the process whose sessions are each bounded by `maxPendingBytes` (the
 * configured `sftpd.max_pending_bytes`): that much, one budget shared by all of them, whatever
 * bound a session gets for itself.
 */
export function processPendingBudget(maxPendingBytes: number): PendingBudget {
  let budget = shared.get(maxPendingBytes);
  if (budget === undefined) {
    budget = new PendingBudget(maxPendingBytes);
    shared.set(maxPendingBytes, budget);
  }
  return budget;
}
