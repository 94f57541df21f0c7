/**
 * What this process contributes to the limits that hold across every process on one data
 * provider, and what it learns from them:
 *
 * - each logged-in connection has a session row, claimed at login against max_sessions and
 *   kept alive by one heartbeat per process every ttl/3; a process that dies stops beating
 *   and its rows (and the quota they held reserved) lapse after the ttl;
 * - each connection draws on a QuotaPool reserved in the provider;
 * - a user disabled or deleted anywhere has its connections here closed: at once where the
 *   driver pushes changes (PostgreSQL), within the poll interval elsewhere.
 *
 * The ConnectionRegistry stays the local view: what this process serves and can close.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DataProvider, SessionRecord, User, UserChangeFeed } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { QuotaPool } from './quota-pool.js';
import type { ConnectionRegistry } from './registry.js';
import { Settlements } from './settlements.js';
import type { Protocol, QuotaTracker } from './types.js';

export const DEFAULT_POLL_MS = 2_000;
/** With notifications flowing, a slow look for anything a notification may have missed. */
export const DEFAULT_FEED_POLL_MS = 60_000;

export interface ClusterSessionsOptions {
  provider: DataProvider;
  registry: ConnectionRegistry;
  logger: Logger;
  /** data_provider.session_expiry: a session without heartbeat for this long no longer counts. */
  ttlMs: number;
  pollMs?: number;
  feedPollMs?: number;
  nodeId?: string;
  chunkSize?: number;
  chunkFiles?: number;
  maxPendingSettlements?: number;
}

export interface ClusterHealth {
  status: 'ok' | 'degraded';
  reasons: string[];
}

/** Counts for /metrics. */
export interface ClusterStats {
  sessions: number;
  pendingSettlements: number;
  droppedSettlements: number;
  revokedClosed: number;
  creditReservations: number;
}

interface LocalSession {
  record: SessionRecord;
  pool?: QuotaPool;
  /** The protocol in the row lags record.protocol: a write is running or failed. */
  protocolWrite?: 'running' | 'again' | 'failed';
}

/** Unique per process start: the pod (host) name, the pid and a random part. */
export function newNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`.slice(0, 128);
}

export class ClusterSessions {
  readonly nodeId: string;
  readonly #o: ClusterSessionsOptions;
  readonly #local = new Map<string, LocalSession>();
  readonly #settlements: Settlements;
  /** Why the last background call (heartbeat, account check) failed; cleared by a success. */
  #unreachableBecause: string | undefined;
  #feed: UserChangeFeed | undefined;
  /** undefined: the driver has no feed; false: it dropped and reconnects. */
  #feedUp: boolean | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;
  #stopped = false;
  #revokedClosed = 0;
  #credits = 0;

  constructor(options: ClusterSessionsOptions) {
    this.#o = options;
    this.nodeId = options.nodeId ?? newNodeId();
    this.#settlements = new Settlements({
      provider: options.provider,
      maxPending: options.maxPendingSettlements,
      onDropped: (what, err) =>
        options.logger.error({ err, settlement: what }, 'quota settlement dropped'),
      onDrained: () => {
        options.logger.info('queued quota settlements reached the data provider');
        void this.#beat();
      },
    });
  }

  start(): void {
    const log = this.#o.logger;
    this.#feed = this.#o.provider.watchUserChanges({
      changed: (username) => {
        if (this.#o.registry.countFor(username) > 0) this.#pollSoon();
      },
      connected: () => {
        if (this.#feedUp === false) log.info('account change notifications flow again');
        this.#feedUp = true;
        // What was notified while the feed was down is lost: look now.
        this.#pollSoon();
      },
      disconnected: (err) => {
        if (this.#feedUp !== false) log.warn({ err }, 'account change notifications lost; polling');
        this.#feedUp = false;
        this.#schedulePoll();
      },
    });
    if (this.#feed !== undefined) this.#feedUp = false;
    const beatMs = Math.max(Math.floor(this.#o.ttlMs / 3), 200);
    this.#heartbeat = setInterval(() => void this.#beat(), beatMs);
    this.#heartbeat.unref();
    this.#schedulePoll();
  }

  /**
   * Claims the session row of a login; false when the user already has max_sessions live
   * sessions on any process. Throws PROVIDER_UNAVAILABLE when the database does not answer.
   */
  async claim(
    user: User,
    connection: { connectionId: string; clientIp: string; protocol: Protocol },
  ): Promise<boolean> {
    const record: SessionRecord = {
      id: connection.connectionId,
      username: user.username,
      nodeId: this.nodeId,
      protocol: connection.protocol,
      clientIp: connection.clientIp,
      ttlMs: this.#o.ttlMs,
    };
    const claimed = await this.#o.provider.claimSession({
      ...record,
      maxSessions: user.max_sessions,
    });
    if (claimed) this.#local.set(record.id, { record });
    return claimed;
  }

  /**
   * The connection now reports another protocol (an scp or ssh command started): its row says
   * so too. Writes of one session run one at a time, the newest last; one that fails is
   * retried at the next heartbeat.
   */
  setProtocol(connectionId: string, protocol: Protocol): void {
    const local = this.#local.get(connectionId);
    if (local === undefined || local.record.protocol === protocol) return;
    local.record = { ...local.record, protocol };
    this.#writeProtocol(connectionId, local);
  }

  #writeProtocol(connectionId: string, local: LocalSession): void {
    if (local.protocolWrite === 'running' || local.protocolWrite === 'again') {
      local.protocolWrite = 'again';
      return;
    }
    local.protocolWrite = 'running';
    const { protocol } = local.record;
    this.#o.provider.setSessionProtocol(connectionId, protocol).then(
      () => {
        const again = local.protocolWrite === 'again';
        local.protocolWrite = undefined;
        if (again && this.#local.get(connectionId) === local) {
          this.#writeProtocol(connectionId, local);
        }
      },
      (err: unknown) => {
        local.protocolWrite = 'failed';
        this.#unreachable('session protocol', err);
      },
    );
  }

  /** The connection is gone: its row goes, after whatever it still has to settle. */
  end(connectionId: string): void {
    const local = this.#local.get(connectionId);
    if (local === undefined) return;
    this.#local.delete(connectionId);
    this.#settlements.release(local.record.username, connectionId);
  }

  /** The quota every channel of the connection draws on. */
  quotaFor(connectionId: string): QuotaTracker {
    const local = this.#local.get(connectionId);
    if (local === undefined) {
      throw new KubesftpError(ErrorCode.FAILURE, `connection ${connectionId} holds no session`);
    }
    local.pool ??= new QuotaPool({
      provider: this.#o.provider,
      settlements: this.#settlements,
      session: local.record,
      chunkSize: this.#o.chunkSize,
      chunkFiles: this.#o.chunkFiles,
      onCredit: (need) => {
        this.#credits += 1;
        this.#o.logger.warn(
          { connection_id: connectionId, size: need.size, files: need.files },
          'data provider unreachable: quota taken on credit of the last known headroom',
        );
      },
    });
    return local.pool;
  }

  health(): ClusterHealth {
    const reasons =
      this.#unreachableBecause === undefined
        ? []
        : [`data provider unreachable: ${this.#unreachableBecause}`];
    if (this.#settlements.pending > 0) {
      reasons.push(`${this.#settlements.pending} quota settlements wait for the data provider`);
    }
    if (this.#feedUp === false) reasons.push('account change notifications are not connected');
    return { status: reasons.length === 0 ? 'ok' : 'degraded', reasons };
  }

  stats(): ClusterStats {
    return {
      sessions: this.#local.size,
      pendingSettlements: this.#settlements.pending,
      droppedSettlements: this.#settlements.dropped,
      revokedClosed: this.#revokedClosed,
      creditReservations: this.#credits,
    };
  }

  /** Stops beating and listening, and tries once more to send what waits. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#pollTimer);
    await this.#feed?.close();
    for (const id of [...this.#local.keys()]) this.end(id);
    const left = await this.#settlements.flush();
    if (left > 0) this.#o.logger.error({ pending: left }, 'quota settlements lost at shutdown');
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    try {
      const remade = await this.#o.provider.heartbeatSessions({
        nodeId: this.nodeId,
        ttlMs: this.#o.ttlMs,
        sessions: [...this.#local.values()].map((s) => s.record),
      });
      for (const id of remade) this.#local.get(id)?.pool?.forgetReservation();
      for (const [id, local] of this.#local) {
        if (local.protocolWrite === 'failed') {
          local.protocolWrite = undefined;
          this.#writeProtocol(id, local);
        }
      }
      if (remade.length > 0) {
        this.#o.logger.warn(
          { sessions: remade.length },
          'session rows lost in an outage made again',
        );
      }
      this.#reachable();
    } catch (err) {
      this.#unreachable('heartbeat', err);
    }
  }

  #reachable(): void {
    if (this.#unreachableBecause === undefined) return;
    this.#unreachableBecause = undefined;
    this.#o.logger.info('data provider reachable again');
  }

  #unreachable(part: string, err: unknown): void {
    if (this.#unreachableBecause === undefined) {
      this.#o.logger.warn({ err, part }, 'data provider unreachable');
    }
    this.#unreachableBecause = err instanceof Error ? err.message : String(err);
  }

  #schedulePoll(): void {
    if (this.#stopped) return;
    clearTimeout(this.#pollTimer);
    const every =
      this.#feedUp === true
        ? (this.#o.feedPollMs ?? DEFAULT_FEED_POLL_MS)
        : (this.#o.pollMs ?? DEFAULT_POLL_MS);
    this.#pollTimer = setTimeout(() => this.#pollSoon(), every);
    this.#pollTimer.unref();
  }

  /** Looks now; a request while a look runs makes one more after it. */
  #pollSoon(): void {
    if (this.#stopped) return;
    if (this.#polling !== undefined) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = this.#closeRevoked().finally(() => {
      this.#polling = undefined;
      if (this.#pollAgain) {
        this.#pollAgain = false;
        this.#pollSoon();
      } else {
        this.#schedulePoll();
      }
    });
  }

  async #closeRevoked(): Promise<void> {
    if (this.#local.size === 0) return;
    let revoked: string[];
    try {
      revoked = await this.#o.provider.revokedSessions(this.nodeId);
      this.#reachable();
    } catch (err) {
      return this.#unreachable('account check', err);
    }
    for (const id of revoked) {
      const username = this.#local.get(id)?.record.username;
      this.#o.logger.info(
        { connection_id: id, username },
        'closing a connection of a disabled or deleted user',
      );
      if (this.#o.registry.close(id)) this.#revokedClosed += 1;
    }
  }
}
