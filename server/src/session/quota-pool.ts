/**
 * The quota one connection draws on. It holds a reservation in the data provider, made a
 * chunk at a time (4 MiB and 16 files by default), and hands it out to writes without asking
 * the database again: a WRITE costs a comparison unless the chunk is spent. Near the limit a
 * reservation asks only for what the write needs, so the last bytes stay shared by every
 * session. Settlements go through the Settlements queue, which keeps them while the
 * database is unreachable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataProvider, QuotaGrant, SessionRecord } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import type { Settlements } from './settlements.js';
import type { QuotaChange, QuotaTracker, QuotaUsage } from './types.js';

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
export const DEFAULT_CHUNK_FILES = 16;
/**
 * Within this many chunks of a limit, space a session holds while no operation of it uses any
 * goes back to the provider at once: an idle session must not keep the last bytes of the quota
 * from the sessions still uploading. Farther away, it keeps its chunk for the next file.
 */
const NEAR_LIMIT_CHUNKS = 16;
/**
 * Waits before asking again when only other sessions' reservations stand in the way (about
 * 3 s in all): they end in use or given back at their next settlement, and refusing at once
 * would stop an upload short of a quota that still has room.
 */
const HELD_RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1600];

export interface QuotaPoolOptions {
  provider: DataProvider;
  settlements: Settlements;
  session: SessionRecord;
  chunkSize?: number;
  chunkFiles?: number;
  /** Called once per reservation the pool made on credit while the provider was unreachable. */
  onCredit?(need: { size: number; files: number }): void;
}

interface Amounts {
  size: number;
  files: number;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

function exceeded(grant: Extract<QuotaGrant, { granted: false }>): KubesftpError {
  const what = grant.exceeded === 'files' ? 'file' : 'size';
  return new KubesftpError(ErrorCode.QUOTA_EXCEEDED, `${what} quota exceeded`);
}

export class QuotaPool implements QuotaTracker {
  readonly #o: QuotaPoolOptions;
  readonly #chunk: Amounts;
  /** Held in the provider for this session, as far as this process knows. */
  readonly #granted: Amounts = { size: 0, files: 0 };
  /** Taken by operations not settled yet. */
  readonly #taken: Amounts = { size: 0, files: 0 };
  /** What the quota left at the last grant: the most an outage lets the session go on with. */
  readonly #left: Amounts = { size: 0, files: 0 };
  #reserving: Promise<void> | undefined;

  constructor(options: QuotaPoolOptions) {
    this.#o = options;
    this.#chunk = {
      size: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
      files: options.chunkFiles ?? DEFAULT_CHUNK_FILES,
    };
  }

  /** What the session holds and has not handed out. */
  get free(): Amounts {
    return {
      size: this.#granted.size - this.#taken.size,
      files: this.#granted.files - this.#taken.files,
    };
  }

  tryTake(size: number, files: number): boolean {
    const free = this.free;
    if (free.size < size || free.files < files) return false;
    this.#taken.size += size;
    this.#taken.files += files;
    return true;
  }

  async take(size: number, files: number): Promise<void> {
    for (;;) {
      if (this.tryTake(size, files)) return;
      const pending = this.#reserving;
      if (pending !== undefined) {
        // Another operation is reserving: what it gets may cover this one too.
        await pending.catch(() => undefined);
        continue;
      }
      const mine = this.#reserve({ size, files });
      this.#reserving = mine;
      try {
        await mine;
      } finally {
        if (this.#reserving === mine) this.#reserving = undefined;
      }
    }
  }

  async #reserve(wanted: Amounts): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const free = this.free;
      const need = {
        size: Math.max(wanted.size - free.size, 0),
        files: Math.max(wanted.files - free.files, 0),
      };
      if (need.size === 0 && need.files === 0) return;
      let grant: QuotaGrant;
      try {
        grant = await this.#o.provider.reserveQuota({
          session: this.#o.session,
          size: need.size > 0 ? Math.max(need.size, this.#chunk.size) : 0,
          files: need.files > 0 ? Math.max(need.files, this.#chunk.files) : 0,
          minSize: need.size,
          minFiles: need.files,
        });
      } catch (err) {
        if (isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE) && this.#onCredit(need)) return;
        throw err;
      }
      if (grant.granted) return this.#add(grant);
      const delay = HELD_RETRY_DELAYS_MS[attempt];
      if (!grant.held || delay === undefined) throw exceeded(grant);
      await sleep(delay);
    }
  }

  #add(grant: Extract<QuotaGrant, { granted: true }>): void {
    this.#granted.size += grant.size;
    this.#granted.files += grant.files;
    this.#left.size = grant.sizeLeft;
    this.#left.files = grant.filesLeft;
  }

  /**
   * While the database is unreachable a running session goes on within what the quota left
   * at its last grant; the settlement reaches the database when it is back.
   */
  #onCredit(need: Amounts): boolean {
    if (need.size > this.#left.size || need.files > this.#left.files) return false;
    this.#left.size -= need.size;
    this.#left.files -= need.files;
    this.#granted.size += need.size;
    this.#granted.files += need.files;
    this.#o.onCredit?.(need);
    return true;
  }

  async settle(change: QuotaChange): Promise<void> {
    const released = {
      size: clamp(change.sizeDelta, 0, change.takenSize),
      files: clamp(change.filesDelta, 0, change.takenFiles),
    };
    this.#taken.size -= change.takenSize;
    this.#taken.files -= change.takenFiles;
    this.#granted.size = Math.max(this.#granted.size - released.size, 0);
    this.#granted.files = Math.max(this.#granted.files - released.files, 0);
    const unused = this.#unusedNearLimit();
    released.size += unused.size;
    released.files += unused.files;
    if (change.sizeDelta === 0 && change.filesDelta === 0 && released.size + released.files === 0) {
      return;
    }
    await this.#o.settlements.settle({
      username: this.#o.session.username,
      sessionId: this.#o.session.id,
      sizeDelta: change.sizeDelta,
      filesDelta: change.filesDelta,
      releasedSize: released.size,
      releasedFiles: released.files,
    });
  }

  /** What the session gives back when it is near a limit and no operation of it holds any. */
  #unusedNearLimit(): Amounts {
    const idle = this.#taken.size === 0 && this.#taken.files === 0;
    const near =
      this.#left.size < this.#chunk.size * NEAR_LIMIT_CHUNKS ||
      this.#left.files < this.#chunk.files * NEAR_LIMIT_CHUNKS;
    if (!idle || !near) return { size: 0, files: 0 };
    const unused = { ...this.#granted };
    this.#granted.size = 0;
    this.#granted.files = 0;
    return unused;
  }

  async usage(): Promise<QuotaUsage> {
    const user = await this.#o.provider.getUserByUsername(this.#o.session.username);
    return { size: user?.used_quota_size ?? 0, files: user?.used_quota_files ?? 0 };
  }

  reset(usage: QuotaUsage): Promise<void> {
    return this.#o.provider.updateQuota(this.#o.session.username, {
      sizeDelta: usage.size,
      filesDelta: usage.files,
      reset: true,
    });
  }

  /** The provider lost the session's row (an outage past twice the ttl): it holds nothing now. */
  forgetReservation(): void {
    this.#granted.size = 0;
    this.#granted.files = 0;
  }
}
