/**
 * Sessions and quota reservations in MySQL and MariaDB: the same rules as PostgreSQL in
 * InnoDB's terms. A claim under a limit and a reservation lock the user's row first (SELECT
 * ... FOR UPDATE, a locking read of the latest committed row); a settlement changes the usage
 * and the reservation in one transaction. Expiry uses the database's clock.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import type { MysqlPool, MysqlQuery } from './mysql-pool.js';
import { computeGrant } from './quota-grant.js';
import {
  MYSQL_DIALECT,
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
  query: MysqlQuery,
  username: string,
): Promise<LockedUserRow> {
  const { rows } = await query<LockedUserRow>(sql.lockUser, { username });
  if (rows[0] === undefined) {
    throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${username} not found`);
  }
  return rows[0];
}

export class MysqlSessions {
  readonly #pool: MysqlPool;
  readonly #sql: SessionStatements;

  constructor(pool: MysqlPool, users: string) {
    this.#pool = pool;
    this.#sql = sessionStatements(MYSQL_DIALECT, users);
  }

  async claimSession(claim: SessionClaim): Promise<boolean> {
    if (claim.maxSessions <= 0) {
      await this.#pool.query(this.#sql.insert, sessionParams(claim));
      return true;
    }
    return this.#pool.transaction(async (query) => {
      const max = Number((await lockUser(this.#sql, query, claim.username)).max_sessions);
      if (max > 0) {
        const { rows } = await query<{ n: unknown }>(this.#sql.countLive, {
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
    const { rows } = await this.#pool.query<{ n: unknown }>(this.#sql.countLive, { username });
    return Number(rows[0]?.n ?? 0);
  }

  async revokedSessions(nodeId: string): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(this.#sql.revoked, {
      node_id: nodeId,
    });
    return rows.map((r) => r.id);
  }

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
    const sessionId = settlement.sessionId;
    if (sessionId === undefined || !released) {
      await this.#pool.query(this.#sql.settleUsage, usage);
      return;
    }
    await this.#pool.transaction(async (query) => {
      await query(this.#sql.settleUsage, usage);
      await query(this.#sql.settleSession, {
        id: sessionId,
        released_size: settlement.releasedSize,
        released_files: settlement.releasedFiles,
      });
    });
  }
}
