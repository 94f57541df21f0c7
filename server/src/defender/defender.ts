/**
 * The brute-force defender: scores client addresses for failed logins and refused connections
 * and bans an address whose score reaches the threshold. Scores and bans live in a
 * DefenderHostStore: this process's memory, or the data provider shared by every server.
 */
import type { DefenderHostStore } from '../dataprovider/types.js';
import { normalizeClientIp, type IpRanges } from '../session/ip-ranges.js';
import { applyEvent, isBannedAt, scoreAt, type DefenderPolicy } from './scoring.js';

/** What a client address did that may count against it. */
export type HostEvent =
  /** A login attempt for a user that does not exist. */
  | 'invalid_user'
  /** A wrong password or key for a user that exists. */
  | 'failed_login'
  /** A connection refused because a connection bound was reached. */
  | 'limit_exceeded'
  /** A connection that ended without any login attempt. */
  | 'no_auth';

export interface DefenderSettings {
  /** Scoring and bans; the safe and block lists apply either way. */
  enabled: boolean;
  policy: DefenderPolicy;
  scores: Record<HostEvent, number>;
  /** Never scored, never banned, and exempt from the per-host connection limit. */
  safeList: IpRanges;
  /** Always refused. */
  blockList: IpRanges;
  /** Past hardLimit records, the oldest are dropped down to softLimit. */
  entries: { softLimit: number; hardLimit: number };
}

export interface BanNotice {
  ip: string;
  banMs: number;
  /** Unix time in milliseconds. */
  until: number;
}

/** An address the defender tracks, as the admin API shows it. */
export interface HostStatus {
  ip: string;
  score: number;
  /** Unix time in milliseconds the ban ends; 0 when not banned. */
  bannedUntil: number;
}

export interface DefenderOptions {
  settings: DefenderSettings;
  store: DefenderHostStore;
  /** Unix time in milliseconds; tests move it. */
  now?: () => number;
  /** Called once per ban, by the server whose event caused it. */
  onBan?: (ban: BanNotice) => void;
  /** A background cleanup that failed; the defender goes on. */
  onStoreError?: (err: unknown) => void;
  /** At most one cleanup of expired records per interval; default one minute. */
  pruneIntervalMs?: number;
}

export class Defender {
  readonly #o: DefenderOptions;
  readonly #now: () => number;
  #lastPrune = 0;

  constructor(options: DefenderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  isSafe(ip: string): boolean {
    return this.#o.settings.safeList.contains(ip);
  }

  isBlocked(ip: string): boolean {
    return this.#o.settings.blockList.contains(ip);
  }

  async isBanned(ip: string): Promise<boolean> {
    if (!this.#o.settings.enabled || this.isSafe(ip)) return false;
    const host = await this.#o.store.getDefenderHost(normalizeClientIp(ip));
    return isBannedAt(host, this.#now());
  }

  /** Scores `event` for `ip`; resolves true when the address is banned afterwards. */
  async record(ip: string, event: HostEvent): Promise<boolean> {
    const score = this.#o.settings.scores[event];
    if (!this.#o.settings.enabled || score <= 0 || this.isSafe(ip)) return false;
    const address = normalizeClientIp(ip);
    const now = this.#now();
    let ban: BanNotice | undefined;
    const host = await this.#o.store.updateDefenderHost(address, (current) => {
      const next = applyEvent(current, { ip: address, score, now }, this.#o.settings.policy);
      const started = !isBannedAt(current, now) && isBannedAt(next, now);
      ban = started ? { ip: address, banMs: next.banMs, until: next.banUntil } : undefined;
      return next;
    });
    if (ban !== undefined) this.#o.onBan?.(ban);
    this.#pruneNowAndThen(now);
    return isBannedAt(host, now);
  }

  /** Addresses with a score or a ban, most recently active first. */
  async hosts(): Promise<HostStatus[]> {
    const now = this.#now();
    const hosts = await this.#o.store.listDefenderHosts(now);
    return hosts
      .map((host) => ({
        ip: host.ip,
        score: scoreAt(host, now, this.#o.settings.policy.observationMs),
        bannedUntil: isBannedAt(host, now) ? host.banUntil : 0,
      }))
      .filter((host) => host.score > 0 || host.bannedUntil > 0);
  }

  /** Forgets an address: its ban, its score and its ban history. False if it was not known. */
  unban(ip: string): Promise<boolean> {
    return this.#o.store.deleteDefenderHost(normalizeClientIp(ip));
  }

  #pruneNowAndThen(now: number): void {
    if (now - this.#lastPrune < (this.#o.pruneIntervalMs ?? 60_000)) return;
    this.#lastPrune = now;
    this.#o.store
      .pruneDefenderHosts({ now, ...this.#o.settings.entries })
      .catch((err: unknown) => this.#o.onStoreError?.(err));
  }
}
