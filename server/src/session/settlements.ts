/**
 * Quota settlements and session releases on their way to the data provider. They go at once;
 * while the provider is unreachable they wait here, merged per session (deltas add up, so a
 * session's entry never grows), and are sent in order when it answers again: running
 * transfers finish during an outage and their usage reaches the database afterwards. The
 * queue is bounded; what does not fit is dropped, logged and counted.
 */
import type { DataProvider, QuotaSettlement } from '../dataprovider/types.js';
import { ErrorCode, isKubesftpError } from '../errors.js';

export const DEFAULT_MAX_PENDING = 10_000;

interface Pending {
  settlement: QuotaSettlement;
  /** Delete the session row after the settlement. */
  release: boolean;
}

export interface SettlementsOptions {
  provider: DataProvider;
  maxPending?: number;
  /** First retry delay; it doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** A settlement was dropped: the queue was full, or the provider refused it. */
  onDropped(what: QuotaSettlement | { sessionId: string }, err?: unknown): void;
  /** The queue emptied after the provider came back. */
  onDrained(): void;
}

function unavailable(err: unknown): boolean {
  return isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE);
}

function emptySettlement(username: string, sessionId: string | undefined): QuotaSettlement {
  return {
    username,
    sessionId,
    sizeDelta: 0,
    filesDelta: 0,
    releasedSize: 0,
    releasedFiles: 0,
  };
}

function isEmpty(s: QuotaSettlement): boolean {
  return s.sizeDelta === 0 && s.filesDelta === 0 && s.releasedSize + s.releasedFiles === 0;
}

export class Settlements {
  readonly #o: SettlementsOptions;
  /** Keyed by session id (or user, for changes outside a session), in arrival order. */
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #draining: Promise<void> | undefined;
  #dropped = 0;

  constructor(options: SettlementsOptions) {
    this.#o = options;
  }

  get pending(): number {
    return this.#pending.size;
  }

  get dropped(): number {
    return this.#dropped;
  }

  async settle(settlement: QuotaSettlement): Promise<void> {
    const key = settlement.sessionId ?? `user:${settlement.username}`;
    if (!this.#pending.has(key)) {
      try {
        await this.#o.provider.settleQuota(settlement);
        return;
      } catch (err) {
        if (!unavailable(err)) throw err;
      }
    }
    this.#keep(key, settlement, false);
  }

  /** Deletes the session row once whatever it still has queued is settled. */
  release(username: string, sessionId: string): void {
    if (this.#pending.has(sessionId)) {
      this.#keep(sessionId, emptySettlement(username, sessionId), true);
      return;
    }
    this.#o.provider.releaseSession(sessionId).catch((err: unknown) => {
      if (unavailable(err)) this.#keep(sessionId, emptySettlement(username, sessionId), true);
      else this.#o.onDropped({ sessionId }, err);
    });
  }

  #keep(key: string, settlement: QuotaSettlement, release: boolean): void {
    const entry = this.#pending.get(key);
    if (entry !== undefined) {
      const s = entry.settlement;
      s.sizeDelta += settlement.sizeDelta;
      s.filesDelta += settlement.filesDelta;
      s.releasedSize += settlement.releasedSize;
      s.releasedFiles += settlement.releasedFiles;
      entry.release ||= release;
    } else if (this.#pending.size >= (this.#o.maxPending ?? DEFAULT_MAX_PENDING)) {
      this.#dropped += 1;
      this.#o.onDropped(settlement);
      return;
    } else {
      this.#pending.set(key, { settlement: { ...settlement }, release });
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#draining !== undefined) return;
    const first = this.#o.retryMs ?? 500;
    const delay = Math.min(first * 2 ** this.#attempt, this.#o.maxRetryMs ?? 5_000);
    this.#attempt += 1;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draining = this.#drain().finally(() => (this.#draining = undefined));
    }, delay);
    this.#timer.unref();
  }

  /** Sends entries in order; stops at the first unavailability and tries again later. */
  async #drain(): Promise<void> {
    for (const [key, entry] of this.#pending) {
      try {
        await this.#send(entry);
      } catch (err) {
        if (unavailable(err)) {
          this.#draining = undefined;
          return this.#schedule();
        }
        this.#dropped += 1;
        this.#o.onDropped(entry.settlement, err);
      }
      this.#pending.delete(key);
    }
    this.#attempt = 0;
    this.#o.onDrained();
  }

  async #send(entry: Pending): Promise<void> {
    const s = entry.settlement;
    if (!isEmpty(s)) {
      await this.#o.provider.settleQuota({ ...s });
      // Settled: a failure of the release below must not send the deltas twice.
      Object.assign(s, { sizeDelta: 0, filesDelta: 0, releasedSize: 0, releasedFiles: 0 });
    }
    if (entry.release && s.sessionId !== undefined) {
      await this.#o.provider.releaseSession(s.sessionId);
    }
  }

  /** Tries to send what waits, once (at shutdown); resolves with what is still pending. */
  async flush(): Promise<number> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#draining;
    if (this.#pending.size > 0) {
      this.#draining = this.#drain().finally(() => (this.#draining = undefined));
      await this.#draining;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#pending.size;
  }
}
