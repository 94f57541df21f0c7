/**
 * Home removals in SQLite: the statements of home-removal-sql.ts, each change that reads
 * before it writes run in BEGIN IMMEDIATE, so it is judged on what every process committed.
 */
import type Database from 'better-sqlite3';
import { PreparedStatements } from './sqlite-statements.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import {
  SQLITE_REMOVALS,
  homeOfRow,
  homeRemovalStatements,
  retryParams,
  type HomeRemovalStatements,
} from './home-removal-sql.js';
import { accountInside, fromRemovalRow, type HomeRemovalRow } from './home-removals.js';
import type { HomeRemoval, HomeRemovalClaim, HomeRemovalRetry } from './types.js';

type Params = Record<string, unknown>;

export class SqliteHomeRemovals {
  readonly #db: Database.Database;
  readonly #guarded: <T>(fn: () => T) => T;
  readonly #sql: HomeRemovalStatements;
  readonly #statements: PreparedStatements;

  /** `users` is the quoted users table; `guarded` maps driver errors to core codes. */
  constructor(db: Database.Database, users: string, guarded: <T>(fn: () => T) => T) {
    this.#db = db;
    this.#statements = new PreparedStatements(db);
    this.#guarded = guarded;
    this.#sql = homeRemovalStatements(SQLITE_REMOVALS, users);
  }

  #run(sql: string): Database.Statement {
    return this.#statements.get(sql);
  }

  #all<T>(sql: string, params: Params = {}): T[] {
    return this.#run(sql).all(params) as T[];
  }

  /** Runs `work` holding the write lock; errors are mapped after the rollback. */
  immediate<T>(work: () => T): T {
    return this.#guarded(() => this.#db.transaction(work).immediate());
  }

  /** What is being removed; call it inside immediate() with the write that depends on it. */
  pending(): HomeRemoval[] {
    return this.#all<HomeRemovalRow>(this.#sql.pending).map(fromRemovalRow);
  }

  deleteUserAndHome(id: number): HomeRemoval {
    return this.immediate(() => {
      const account = this.#all<{ username: string; home_dir: string; filesystem: unknown }>(
        this.#sql.accountHome,
        { id },
      )[0];
      if (account === undefined) {
        throw new KubesftpError(ErrorCode.NOT_FOUND, `user ${id} not found`);
      }
      const home = homeOfRow(account);
      const now = Date.now();
      const inserted = this.#run(this.#sql.insert).run({
        username: home.username,
        home_dir: home.home_dir,
        filesystem: JSON.stringify(home.filesystem),
        now,
      });
      this.#run(this.#sql.deleteAccount).run({ id });
      return {
        id: Number(inserted.lastInsertRowid),
        ...home,
        requested_at: now,
        attempts: 0,
        last_error: '',
      };
    });
  }

  listHomeRemovals(): HomeRemoval[] {
    return this.#guarded(() => this.#all<HomeRemovalRow>(this.#sql.list).map(fromRemovalRow));
  }

  claimHomeRemoval(request: { nodeId: string; leaseMs: number }): HomeRemovalClaim | undefined {
    const now = Date.now();
    if (this.#guarded(() => this.#all(this.#sql.anyDue, { now })).length === 0) return undefined;
    return this.immediate(() => {
      const next = this.#all<HomeRemovalRow>(this.#sql.nextDue, { now })[0];
      if (next === undefined) return undefined;
      const removal = fromRemovalRow(next);
      const homes = this.#all<{ username: string; home_dir: string; filesystem: unknown }>(
        this.#sql.accountHomes,
      ).map(homeOfRow);
      const user = accountInside(removal, homes);
      if (user !== undefined) {
        this.#run(this.#sql.drop).run({ id: removal.id });
        return { kind: 'in_use', removal, usedBy: user.username };
      }
      this.#run(this.#sql.claim).run({
        id: removal.id,
        node_id: request.nodeId,
        until: now + request.leaseMs,
      });
      return { kind: 'claimed', removal };
    });
  }

  finishHomeRemoval(id: number, nodeId: string): void {
    this.#guarded(() => this.#run(this.#sql.finish).run({ id, node_id: nodeId }));
  }

  deferHomeRemoval(retry: HomeRemovalRetry): void {
    this.#guarded(() => this.#run(this.#sql.defer).run(retryParams(retry)));
  }

  dropHomeRemoval(id: number): void {
    this.#guarded(() => this.#run(this.#sql.drop).run({ id }));
  }

  clear(): void {
    this.#statements.clear();
  }
}
