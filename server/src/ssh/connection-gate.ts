/**
 * The connection gate: decides at TCP accept, before any SSH byte is read, whether a newcomer
 * is served, and counts every admitted socket until it closes. Sessions already admitted are
 * never touched by it.
 */
import { ErrorCode, KubesftpError } from '../errors.js';

/**
 * OpenSSH's MaxStartups: once `start` connections have not logged in yet, a newcomer is refused
 * with `rate` percent probability, rising linearly to certainty at `full`.
 */
export interface MaxStartups {
  start: number;
  rate: number;
  full: number;
}

export interface ConnectionLimits {
  maxStartups: MaxStartups;
  /** Sockets one client address may hold; 0 means no limit. */
  maxPerHost: number;
  /** Sockets the server holds; 0 means no limit. */
  maxTotal: number;
}

export type RefusalReason =
  'block_list' | 'banned' | 'max_total_connections' | 'max_per_host_connections' | 'max_startups';

/** What the gate asks of the defender. */
export interface GateDefender {
  isBlocked(ip: string): boolean;
  /** Safe addresses are exempt from the per-host limit (a proxy or NAT gateway, say). */
  isSafe(ip: string): boolean;
  isBanned(ip: string): Promise<boolean>;
  record(ip: string, event: 'limit_exceeded'): Promise<boolean>;
}

/** An admitted socket's place in the counts. */
export interface GateTicket {
  /** The connection logged in: it stops counting against max_startups. */
  loggedIn(): void;
  /** The socket closed; safe to call more than once. */
  release(): void;
}

export type Admission =
  { admitted: true; ticket: GateTicket } | { admitted: false; reason: RefusalReason };

export interface ConnectionGateOptions {
  limits: ConnectionLimits;
  defender?: GateDefender;
  /** Uniform in [0, 1), for the max_startups draw; tests pass a fixed sequence. */
  random?: () => number;
  /** A defender call failed; the gate goes on as if the address had no record. */
  onDefenderError?: (err: unknown) => void;
}

function invalidStartups(text: string, reason: string): KubesftpError {
  return new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `sftpd.max_startups: ${JSON.stringify(text)} ${reason}`,
  );
}

/** Reads "start:rate:full" or a single number N (refuse from N on); throws CONFIG_INVALID. */
export function parseMaxStartups(text: string): MaxStartups {
  const parts = text.split(':');
  if (!parts.every((p) => /^\d+$/.test(p)) || (parts.length !== 1 && parts.length !== 3)) {
    throw invalidStartups(text, 'must be a number or start:rate:full');
  }
  const [start = 0, rate = 100, full = start] =
    parts.length === 1 ? [Number(parts[0]), 100] : parts.map(Number);
  if (full < 1) throw invalidStartups(text, 'would refuse every connection');
  if (start > full) throw invalidStartups(text, 'has start above full');
  if (rate < 1 || rate > 100) throw invalidStartups(text, 'needs a rate from 1 to 100');
  return { start, rate, full };
}

/**
 * Whether a newcomer is refused while `startups` connections have not logged in, with
 * OpenSSH's integer arithmetic (sshd.c should_drop_connection).
 */
export function dropsStartup(startups: number, limits: MaxStartups, random: () => number): boolean {
  const { start, rate, full } = limits;
  if (startups < start) return false;
  if (startups >= full || rate === 100) return true;
  const percent = rate + Math.trunc(((100 - rate) * (startups - start)) / (full - start));
  return Math.floor(random() * 100) < percent;
}

export class ConnectionGate {
  readonly #o: ConnectionGateOptions;
  readonly #perHost = new Map<string, number>();
  #total = 0;
  #unauthenticated = 0;

  constructor(options: ConnectionGateOptions) {
    this.#o = options;
  }

  /** Sockets held, those not logged in yet, and those of one address. */
  counts(ip?: string): { total: number; unauthenticated: number; host: number } {
    const host = ip === undefined ? 0 : (this.#perHost.get(ip) ?? 0);
    return { total: this.#total, unauthenticated: this.#unauthenticated, host };
  }

  /**
   * Block list and bans first (not scored: the defender already knows), then the bounds. Only
   * a refusal over the address's own bound counts as a "limit exceeded" event: the total and
   * max_startups bounds are shared by every client, so scoring them would let one address's
   * flood get the others banned.
   */
  async admit(ip: string): Promise<Admission> {
    const defender = this.#o.defender;
    if (defender?.isBlocked(ip)) return { admitted: false, reason: 'block_list' };
    if (defender !== undefined && (await this.#isBanned(defender, ip))) {
      return { admitted: false, reason: 'banned' };
    }
    const over = this.#overBound(ip);
    if (over === undefined) return { admitted: true, ticket: this.#take(ip) };
    if (over === 'max_per_host_connections') {
      defender
        ?.record(ip, 'limit_exceeded')
        .catch((err: unknown) => this.#o.onDefenderError?.(err));
    }
    return { admitted: false, reason: over };
  }

  async #isBanned(defender: GateDefender, ip: string): Promise<boolean> {
    try {
      return await defender.isBanned(ip);
    } catch (err) {
      this.#o.onDefenderError?.(err);
      return false;
    }
  }

  #overBound(ip: string): RefusalReason | undefined {
    const { maxTotal, maxPerHost, maxStartups } = this.#o.limits;
    if (maxTotal > 0 && this.#total >= maxTotal) return 'max_total_connections';
    const host = this.#perHost.get(ip) ?? 0;
    if (maxPerHost > 0 && host >= maxPerHost && !this.#o.defender?.isSafe(ip)) {
      return 'max_per_host_connections';
    }
    if (dropsStartup(this.#unauthenticated, maxStartups, this.#o.random ?? Math.random)) {
      return 'max_startups';
    }
    return undefined;
  }

  #take(ip: string): GateTicket {
    this.#total += 1;
    this.#unauthenticated += 1;
    this.#perHost.set(ip, (this.#perHost.get(ip) ?? 0) + 1);
    let authenticated = false;
    let released = false;
    return {
      loggedIn: () => {
        if (authenticated || released) return;
        authenticated = true;
        this.#unauthenticated -= 1;
      },
      release: () => {
        if (released) return;
        released = true;
        if (!authenticated) this.#unauthenticated -= 1;
        this.#total -= 1;
        const left = (this.#perHost.get(ip) ?? 1) - 1;
        if (left > 0) this.#perHost.set(ip, left);
        else this.#perHost.delete(ip);
      },
    };
  }
}
