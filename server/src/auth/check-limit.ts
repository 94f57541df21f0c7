/**
 * Bounds how many password checks run at once. One argon2id verification holds 64 MiB and a
 * thread of libuv's pool (4 threads by default, shared with file I/O) for tens of milliseconds,
 * so a burst of logins over SSH or the token endpoint could otherwise exhaust memory and stall
 * every transfer's disk access.
 */
import { availableParallelism } from 'node:os';
import { ErrorCode, KubesftpError } from '../errors.js';

export interface ConcurrencyLimitOptions {
  /** Tasks that may run at once. */
  maxActive: number;
  /** Tasks that may wait for a slot; past that, run() refuses at once. */
  maxQueued: number;
}

/** Runs async tasks at most `maxActive` at a time, with a bounded first-come-first-served queue. */
export class ConcurrencyLimit {
  readonly maxActive: number;
  readonly maxQueued: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: ConcurrencyLimitOptions) {
    if (!Number.isInteger(options.maxActive) || options.maxActive < 1) {
      throw new RangeError('maxActive must be a positive integer');
    }
    if (!Number.isInteger(options.maxQueued) || options.maxQueued < 0) {
      throw new RangeError('maxQueued must be a non-negative integer');
    }
    this.maxActive = options.maxActive;
    this.maxQueued = options.maxQueued;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free; rejects with RATE_LIMITED when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.maxActive) {
      this.#active += 1;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxQueued) {
      return Promise.reject(
        new KubesftpError(ErrorCode.RATE_LIMITED, 'too many password checks in progress'),
      );
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** A finished task hands its slot straight to the oldest waiter, so the count never dips. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#active -= 1;
    else next();
  }
}

/**
 * A wait of at most a few seconds at typical argon2id cost; a longer queue would only hold
 * logins past their clients' patience while an attacker keeps it full.
 */
const QUEUED_CHECKS_PER_SLOT = 16;

function defaultLimitOptions(): ConcurrencyLimitOptions {
  const maxActive = Math.max(2, availableParallelism());
  return { maxActive, maxQueued: maxActive * QUEUED_CHECKS_PER_SLOT };
}

/**
 * The one limit shared by every password check of the process (SSH logins, admin tokens,
 * password changes): the memory and CPU it protects belong to the process as a whole.
 */
export const passwordCheckLimit = new ConcurrencyLimit(defaultLimitOptions());
