/**
 * Per-session bandwidth: the account's `upload_bandwidth` and `download_bandwidth` (KB/s,
 * 0 unlimited) as one byte rate per direction, shared by every transfer of the connection
 * (each SFTP handle, each scp file, what a hash command reads), so parallel requests cannot
 * multiply it. Throttling only delays: each caller waits its turn, nothing is dropped, and the
 * only bytes held while waiting are those of the operation already in flight.
 */
import type { User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';

/** The spec's KB is 1024 bytes. */
const BYTES_PER_KB = 1024;
/** Credit an idle session may spend at once: small against a second, so the rate holds. */
const DEFAULT_BURST_MS = 100;
/** The least a throttled session may hold of uploads: the least `max_pending_bytes` takes. */
export const MIN_PENDING_BYTES = 1024 * 1024;
/** Delays shorter than this are not worth a timer; they are made up by the next one. */
const MIN_WAIT_MS = 1;

export interface RateClock {
  now(): number;
  setTimeout(run: () => void, ms: number): NodeJS.Timeout;
  clearTimeout(timer: NodeJS.Timeout): void;
}

const SYSTEM_CLOCK: RateClock = {
  now: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer),
};

interface Waiter {
  timer: NodeJS.Timeout;
  reject(err: Error): void;
}

/**
 * A byte rate by virtual scheduling (the generic cell rate algorithm): `#due` is when the
 * bytes admitted so far would have crossed at the rate. A take moves it on by its own bytes
 * and waits until it is no more than the burst ahead of now. Every take reserves its slot at
 * once, so callers are released in the order they asked, with one timer each and no
 * polling; an oversized take simply waits longer.
 */
export class ByteRateLimiter {
  readonly #msPerByte: number;
  readonly #burstMs: number;
  readonly #clock: RateClock;
  readonly #waiters = new Set<Waiter>();
  #due = 0;
  #closed = false;

  readonly bytesPerSecond: number;

  constructor(options: { bytesPerSecond: number; burstMs?: number; clock?: RateClock }) {
    if (!(options.bytesPerSecond > 0)) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'a byte rate must be positive');
    }
    this.bytesPerSecond = options.bytesPerSecond;
    this.#msPerByte = 1000 / options.bytesPerSecond;
    this.#burstMs = options.burstMs ?? DEFAULT_BURST_MS;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /**
   * Counts `bytes` against the rate. Returns undefined when they may pass now (the hot path
   * allocates nothing), else a promise that resolves when their turn comes; it rejects once
   * the limiter is closed.
   */
  take(bytes: number): Promise<void> | undefined {
    if (this.#closed) throw closedError();
    if (bytes <= 0) return undefined;
    const now = this.#clock.now();
    this.#due = Math.max(this.#due, now) + bytes * this.#msPerByte;
    const wait = this.#due - now - this.#burstMs;
    return wait < MIN_WAIT_MS ? undefined : this.#sleep(wait);
  }

  /** Callers waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Fails every wait at once, so a closed connection's transfers unwind without delay. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters) {
      this.#clock.clearTimeout(waiter.timer);
      waiter.reject(closedError());
    }
    this.#waiters.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        timer: this.#clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve();
        }, ms),
        reject,
      };
      this.#waiters.add(waiter);
    });
  }
}

function closedError(): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, 'the connection closed during a throttled transfer');
}

/** The two directions of one connection; a direction without a limit has no limiter. */
export class SessionBandwidth {
  readonly upload: ByteRateLimiter | undefined;
  readonly download: ByteRateLimiter | undefined;

  constructor(limits: { uploadKBps: number; downloadKBps: number; clock?: RateClock }) {
    this.upload = limiterFor(limits.uploadKBps, limits.clock);
    this.download = limiterFor(limits.downloadKBps, limits.clock);
  }

  /** The account's limits, read once at login like the rest of the account. */
  static forUser(user: Pick<User, 'upload_bandwidth' | 'download_bandwidth'>): SessionBandwidth {
    return new SessionBandwidth({
      uploadKBps: user.upload_bandwidth,
      downloadKBps: user.download_bandwidth,
    });
  }

  get limited(): boolean {
    return this.upload !== undefined || this.download !== undefined;
  }

  /**
   * The upload bytes worth holding for this session, given the server's bound: about one
   * second of its upload rate (at least MIN_PENDING_BYTES), never more than `bound`. Throttled
   * WRITEs wait their turn while held, so a slow session at the server's bound would keep many
   * seconds of data in memory and much of the process's shared budget for nothing.
   */
  uploadPendingBound(bound: number): number {
    if (this.upload === undefined) return bound;
    return Math.min(bound, Math.max(MIN_PENDING_BYTES, Math.ceil(this.upload.bytesPerSecond)));
  }

  close(): void {
    this.upload?.close();
    this.download?.close();
  }
}

function limiterFor(kbps: number, clock: RateClock | undefined): ByteRateLimiter | undefined {
  if (!(kbps > 0)) return undefined;
  return new ByteRateLimiter({ bytesPerSecond: kbps * BYTES_PER_KB, clock });
}
