/**
 * Sessions and quota reservations in PostgreSQL. A claim under a limit and a reservation lock
 * the user's row first (SELECT ... FOR UPDATE), so concurrent logins and uploads on any number
 * of processes are judged one after the other on committed counts; a settlement is one
 * statement. Expiry uses the database's clock.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import type { PgPool, PgQuery } from './postgresql-pool.js';
import { computeGrant } from './quota-grant.js';
import {
  POSTGRES_DIALECT,
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

async function lockUser(
  sql: SessionStatements,
  query: PgQuery,
  username: string,
): Promise<LockedUserRow> {
  const { rows } = await query<LockedUserRow>(sql.lockUser, { username });
  if (rows[0] === undefined) {
    throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${username} not found`);
  }
  return rows[0];
}

export class PostgresSessions {
  readonly #pool: PgPool;
  readonly #sql: SessionStatements;
  /** The settlement in one statement: the reservation shrinks in a CTE beside the usage update. */
  readonly #settleBoth: string;

  constructor(pool: PgPool, users: string) {
    this.#pool = pool;
    this.#sql = sessionStatements(POSTGRES_DIALECT, users);
    this.#settleBoth = `WITH released AS (${this.#sql.settleSession}) ${this.#sql.settleUsage}`;
  }

  /** Unlimited logins insert at once (1 statement); limited ones lock, count and insert (4). */
  async claimSession(claim: SessionClaim): Promise<boolean> {
    if (claim.maxSessions <= 0) {
      await this.#pool.query(this.#sql.insert, sessionParams(claim));
      return true;
    }
    return this.#pool.transaction(async (query) => {
      const max = Number((await lockUser(this.#sql, query, claim.username)).max_sessions);
      if (max > 0) {
        const { rows } = await query<{ n: number }>(this.#sql.countLive, {
          username: claim.username,
        });
        if (Number(rows[0]?.n ?? 0) >= max) return false;
      }
      await query(this.#sql.insert, sessionParams(claim));
      return true;
    });
  }

  async releaseSession(id: string): Promise<void> {
    await this.#pool.query(this.#sql.release, { id });
  }

  async releaseNodeSessions(nodeId: string): Promise<number> {
    const { count } = await this.#pool.query(this.#sql.releaseNode, { node_id: nodeId });
    return count;
  }

  async setSessionProtocol(id: string, protocol: string): Promise<void> {
    await this.#pool.query(this.#sql.setProtocol, { id, protocol });
  }

  async heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    const ttl = beat.ttlMs;
    const { count } = await this.#pool.query(this.#sql.refresh, { node_id: beat.nodeId, ttl });
    await this.#pool.query(this.#sql.prune, { ttl });
    if (count >= beat.sessions.length) return [];
    const remade: string[] = [];
    for (const session of beat.sessions) {
      const inserted = await this.#pool.query(this.#sql.insertIgnore, sessionParams(session));
      if (inserted.count > 0) remade.push(session.id);
    }
    return remade;
  }

  async countSessions(username: string): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>(this.#sql.countLive, { username });
    return Number(rows[0]?.n ?? 0);
  }

  async revokedSessions(nodeId: string): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(this.#sql.revoked, { node_id: nodeId });
    return rows.map((r) => r.id);
  }

  /** BEGIN, lock the user, sum the live reservations, upsert this one, COMMIT: 5 round trips. */
  async reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    const username = request.session.username;
    return this.#pool.transaction(async (query) => {
      const user = await lockUser(this.#sql, query, username);
      const { rows } = await query<{ size: unknown; files: unknown }>(this.#sql.sumReserved, {
        username,
      });
      const grant = computeGrant(quotaState(user, rows[0] ?? { size: 0, files: 0 }), request);
      if (grant.granted) await query(this.#sql.reserve, sessionParams(request.session, grant));
      return grant;
    });
  }

  async settleQuota(settlement: QuotaSettlement): Promise<void> {
    validateQuotaDelta({ ...settlement, reset: false });
    const usage = {
      username: settlement.username,
      size: settlement.sizeDelta,
      files: settlement.filesDelta,
      stamp: Date.now(),
    };
    const released = settlement.releasedSize > 0 || settlement.releasedFiles > 0;
    if (settlement.sessionId === undefined || !released) {
      await this.#pool.query(this.#sql.settleUsage, usage);
      return;
    }
    await this.#pool.query(this.#settleBoth, {
      ...usage,
      id: settlement.sessionId,
      released_size: settlement.releasedSize,
      released_files: settlement.releasedFiles,
    });
  }
}
