/**
 * Home removals in the SQL drivers, written once. PostgreSQL and MySQL order the writes that
 * give a home against those that record or claim a removal with the one row of
 * home_removal_lock: an account write locks it shared and then reads the pending removals, a
 * removal locks it exclusive and then reads the accounts. Under READ COMMITTED each statement
 * after the lock reads what committed before it, so neither side acts on a stale check.
 * SQLite runs both in BEGIN IMMEDIATE, which excludes every other writer.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import type { UserFilesystem } from './account-schema.js';
import {
  accountInside,
  fromRemovalRow,
  parseFilesystem,
  type HomeRemovalRow,
} from './home-removals.js';
import type { HomeRemoval, HomeRemovalClaim, HomeRemovalRetry } from './types.js';

export interface HomeRemovalDialect {
  /** Appended to the lock row's SELECT for a shared lock ('' where transactions exclude writers). */
  shared: string;
  exclusive: string;
}

export const POSTGRES_REMOVALS: HomeRemovalDialect = {
  shared: 'FOR SHARE',
  exclusive: 'FOR UPDATE',
};
/** MariaDB 10.5 knows LOCK IN SHARE MODE, not FOR SHARE; MySQL 8 takes both. */
export const MYSQL_REMOVALS: HomeRemovalDialect = {
  shared: 'LOCK IN SHARE MODE',
  exclusive: 'FOR UPDATE',
};
export const SQLITE_REMOVALS: HomeRemovalDialect = { shared: '', exclusive: '' };

export interface HomeRemovalStatements {
  lockShared: string;
  lockExclusive: string;
  pending: string;
  list: string;
  accountHome: string;
  insert: string;
  deleteAccount: string;
  anyDue: string;
  nextDue: string;
  accountHomes: string;
  claim: string;
  drop: string;
  finish: string;
  defer: string;
}

const COLUMNS = 'id, username, home_dir, filesystem, requested_at, attempts, last_error';

/** `users` is the quoted users table name, validated as an identifier by the driver. */
export function homeRemovalStatements(d: HomeRemovalDialect, users: string): HomeRemovalStatements {
  return {
    lockShared: `SELECT id FROM home_removal_lock WHERE id = 1 ${d.shared}`,
    lockExclusive: `SELECT id FROM home_removal_lock WHERE id = 1 ${d.exclusive}`,
    pending: `SELECT ${COLUMNS} FROM home_removals`,
    list: `SELECT ${COLUMNS} FROM home_removals ORDER BY id`,
    accountHome: `SELECT username, home_dir, filesystem FROM ${users} WHERE id = @id ${d.exclusive}`,
    insert: `INSERT INTO home_removals (username, home_dir, filesystem, requested_at, attempts,
      last_error, claimed_by, not_before) VALUES (@username, @home_dir, @filesystem, @now, 0, '',
      '', @now)`,
    deleteAccount: `DELETE FROM ${users} WHERE id = @id`,
    anyDue: 'SELECT id FROM home_removals WHERE not_before <= @now LIMIT 1',
    nextDue: `SELECT ${COLUMNS} FROM home_removals WHERE not_before <= @now ORDER BY id LIMIT 1`,
    accountHomes: `SELECT username, home_dir, filesystem FROM ${users}`,
    claim: 'UPDATE home_removals SET claimed_by = @node_id, not_before = @until WHERE id = @id',
    drop: 'DELETE FROM home_removals WHERE id = @id',
    finish: 'DELETE FROM home_removals WHERE id = @id AND claimed_by = @node_id',
    defer: `UPDATE home_removals SET attempts = attempts + 1, last_error = @error, claimed_by = '',
      not_before = @until WHERE id = @id AND claimed_by = @node_id`,
  };
}

interface AccountHomeRow {
  username: string;
  home_dir: string;
  filesystem: unknown;
}

export function homeOfRow(row: AccountHomeRow): {
  username: string;
  home_dir: string;
  filesystem: UserFilesystem;
} {
  return {
    username: row.username,
    home_dir: row.home_dir,
    filesystem: parseFilesystem(row.filesystem),
  };
}

/** The longest error text kept with a removal. */
const MAX_ERROR = 1000;

export function retryParams(retry: HomeRemovalRetry): Record<string, string | number> {
  return {
    id: retry.id,
    node_id: retry.nodeId,
    error: retry.error.slice(0, MAX_ERROR),
    until: Date.now() + retry.afterMs,
  };
}

/** A statement's rows and count, as the PostgreSQL and MySQL pools both give them. */
export type RemovalQuery = <T>(
  sql: string,
  params?: Record<string, string | number>,
) => Promise<{ rows: T[]; count: number; insertId?: number }>;

export interface AsyncRemovalDb {
  query: RemovalQuery;
  transaction<T>(work: (query: RemovalQuery) => Promise<T>): Promise<T>;
  /** The insert's statement as this server returns the new id (RETURNING, or insertId). */
  returningId: boolean;
}

/** Home removals for the drivers whose pool is asynchronous (PostgreSQL, MySQL). */
export class AsyncHomeRemovals {
  readonly #db: AsyncRemovalDb;
  readonly #sql: HomeRemovalStatements;

  constructor(db: AsyncRemovalDb, sql: HomeRemovalStatements) {
    this.#db = db;
    this.#sql = sql;
  }

  /** Within an account write's transaction: locks shared, then reads what is being removed. */
  async pendingUnderLock(query: RemovalQuery): Promise<HomeRemoval[]> {
    await query(this.#sql.lockShared);
    return (await query<HomeRemovalRow>(this.#sql.pending)).rows.map(fromRemovalRow);
  }

  async deleteUserAndHome(id: number): Promise<HomeRemoval> {
    return this.#db.transaction(async (query) => {
      await query(this.#sql.lockExclusive);
      const { rows } = await query<AccountHomeRow>(this.#sql.accountHome, { id });
      const account = rows[0];
      if (account === undefined)
        throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${id} not found`);
      const home = homeOfRow(account);
      const now = Date.now();
      const insert = this.#db.returningId ? `${this.#sql.insert} RETURNING id` : this.#sql.insert;
      const inserted = await query<{ id: unknown }>(insert, {
        username: home.username,
        home_dir: home.home_dir,
        filesystem: JSON.stringify(home.filesystem),
        now,
      });
      await query(this.#sql.deleteAccount, { id });
      const removalId = Number(inserted.rows[0]?.id ?? inserted.insertId);
      return { id: removalId, ...home, requested_at: now, attempts: 0, last_error: '' };
    });
  }

  async listHomeRemovals(): Promise<HomeRemoval[]> {
    return (await this.#db.query<HomeRemovalRow>(this.#sql.list)).rows.map(fromRemovalRow);
  }

  async claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined> {
    // The common case, nothing due, costs one indexed read and no lock.
    const due = await this.#db.query(this.#sql.anyDue, { now: Date.now() });
    if (due.rows.length === 0) return undefined;
    return this.#db.transaction(async (query) => {
      await query(this.#sql.lockExclusive);
      const now = Date.now();
      const next = (await query<HomeRemovalRow>(this.#sql.nextDue, { now })).rows[0];
      if (next === undefined) return undefined;
      const removal = fromRemovalRow(next);
      const homes = (await query<AccountHomeRow>(this.#sql.accountHomes)).rows.map(homeOfRow);
      const user = accountInside(removal, homes);
      if (user !== undefined) {
        await query(this.#sql.drop, { id: removal.id });
        return { kind: 'in_use', removal, usedBy: user.username };
      }
      await query(this.#sql.claim, {
        id: removal.id,
        node_id: request.nodeId,
        until: now + request.leaseMs,
      });
      return { kind: 'claimed', removal };
    });
  }

  async finishHomeRemoval(id: number, nodeId: string): Promise<void> {
    await this.#db.query(this.#sql.finish, { id, node_id: nodeId });
  }

  async deferHomeRemoval(retry: HomeRemovalRetry): Promise<void> {
    await this.#db.query(this.#sql.defer, retryParams(retry));
  }

  async dropHomeRemoval(id: number): Promise<void> {
    await this.#db.query(this.#sql.drop, { id });
  }
}
