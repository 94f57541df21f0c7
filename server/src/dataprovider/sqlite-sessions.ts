/**
 * Sessions and quota reservations in SQLite. Each change that reads before it writes runs in
 * a BEGIN IMMEDIATE transaction, which takes the database's write lock first: processes
 * sharing the file take turns, so a count or a sum is never stale when it is acted on.
 */
import type Database from 'better-sqlite3';
import { PreparedStatements } from './sqlite-statements.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { computeGrant } from './quota-grant.js';
import {
  SQLITE_DIALECT,
  quotaState,
  sessionParams,
  sessionStatements,
  type LockedUserRow,
  type SessionStatements,
} from './session-sql.js';
import type {
  QuotaGrant,
  QuotaRequest,
  QuotaSettlement,
  SessionClaim,
  SessionHeartbeat,
} from './types.js';
import { validateQuotaDelta } from './validate.js';

type Params = Record<string, unknown>;

export class SqliteSessions {
  readonly #db: Database.Database;
  readonly #guarded: <T>(fn: () => T) => T;
  readonly #sql: SessionStatements;
  readonly #statements: PreparedStatements;

  /** `users` is the quoted users table; `guarded` maps driver errors to core codes. */
  constructor(db: Database.Database, users: string, guarded: <T>(fn: () => T) => T) {
    this.#db = db;
    this.#statements = new PreparedStatements(db);
    this.#guarded = guarded;
    this.#sql = sessionStatements(SQLITE_DIALECT, users);
  }

  #run(sql: string): Database.Statement {
    return this.#statements.get(sql);
  }

  #get<T>(sql: string, params: Params): T | undefined {
    return this.#run(sql).get({ now: Date.now(), ...params }) as T | undefined;
  }

  #change(sql: string, params: Params): number {
    return this.#run(sql).run({ now: Date.now(), ...params }).changes;
  }

  /** Runs `work` holding the write lock; errors are mapped after the rollback. */
  #immediate<T>(work: () => T): T {
    return this.#guarded(() => this.#db.transaction(work).immediate());
  }

  #lockUser(username: string): LockedUserRow {
    const row = this.#get<LockedUserRow>(this.#sql.lockUser, { username });
    if (row === undefined) {
      throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${username} not found`);
    }
    return row;
  }

  claimSession(claim: SessionClaim): boolean {
    return this.#immediate(() => {
      if (claim.maxSessions > 0) {
        const max = Number(this.#lockUser(claim.username).max_sessions);
        const live = this.#get<{ n: number }>(this.#sql.countLive, { username: claim.username });
        if (max > 0 && (live?.n ?? 0) >= max) return false;
      }
      this.#change(this.#sql.insert, sessionParams(claim));
      return true;
    });
  }

  releaseSession(id: string): void {
    this.#guarded(() => this.#change(this.#sql.release, { id }));
  }

  releaseNodeSessions(nodeId: string): number {
    return this.#guarded(() => this.#change(this.#sql.releaseNode, { node_id: nodeId }));
  }

  setSessionProtocol(id: string, protocol: string): void {
    this.#guarded(() => this.#change(this.#sql.setProtocol, { id, protocol }));
  }

  heartbeatSessions(beat: SessionHeartbeat): string[] {
    return this.#immediate(() => {
      const ttl = beat.ttlMs;
      const refreshed = this.#change(this.#sql.refresh, { node_id: beat.nodeId, ttl });
      this.#change(this.#sql.prune, { ttl });
      if (refreshed >= beat.sessions.length) return [];
      return beat.sessions
        .filter((s) => this.#change(this.#sql.insertIgnore, sessionParams(s)) > 0)
        .map((s) => s.id);
    });
  }

  countSessions(username: string): number {
    return this.#guarded(() => this.#get<{ n: number }>(this.#sql.countLive, { username })?.n ?? 0);
  }

  revokedSessions(nodeId: string): string[] {
    return this.#guarded(() =>
      (this.#run(this.#sql.revoked).all({ node_id: nodeId }) as Array<{ id: string }>).map(
        (r) => r.id,
      ),
    );
  }

  reserveQuota(request: QuotaRequest): QuotaGrant {
    return this.#immediate(() => {
      const username = request.session.username;
      const user = this.#lockUser(username);
      const reserved = this.#get<{ size: number; files: number }>(this.#sql.sumReserved, {
        username,
      });
      const grant = computeGrant(quotaState(user, reserved ?? { size: 0, files: 0 }), request);
      if (grant.granted) {
        this.#change(this.#sql.reserve, sessionParams(request.session, grant));
      }
      return grant;
    });
  }

  settleQuota(settlement: QuotaSettlement): void {
    validateQuotaDelta({ ...settlement, reset: false });
    this.#immediate(() => {
      const changed = this.#change(this.#sql.settleUsage, {
        username: settlement.username,
        size: settlement.sizeDelta,
        files: settlement.filesDelta,
        stamp: Date.now(),
      });
      if (changed === 0 || settlement.sessionId === undefined) return;
      this.#change(this.#sql.settleSession, {
        id: settlement.sessionId,
        released_size: settlement.releasedSize,
        released_files: settlement.releasedFiles,
      });
    });
  }

  clear(): void {
    this.#statements.clear();
  }
}
