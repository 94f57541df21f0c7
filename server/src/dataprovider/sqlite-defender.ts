/**
 * The defender's records in SQLite. Each change runs in a BEGIN IMMEDIATE transaction, so
 * servers sharing one database file never lose each other's events.
 */
import type Database from 'better-sqlite3';
import { PreparedStatements } from './sqlite-statements.js';
import {
  fromDefenderRow as fromRow,
  toDefenderParams as toParams,
  type DefenderRow,
} from './defender-rows.js';
import type {
  DefenderHost,
  DefenderHostChange,
  DefenderHostStore,
  DefenderPruneOptions,
} from './types.js';

const SQL = {
  get: 'SELECT * FROM defender_hosts WHERE ip = @ip',
  list: 'SELECT * FROM defender_hosts WHERE expires_at > @now ORDER BY updated_at DESC',
  upsert: `INSERT INTO defender_hosts (ip, events, ban_until, ban_ms, updated_at, expires_at)
    VALUES (@ip, @events, @ban_until, @ban_ms, @updated_at, @expires_at)
    ON CONFLICT (ip) DO UPDATE SET events = excluded.events, ban_until = excluded.ban_until,
      ban_ms = excluded.ban_ms, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
  delete: 'DELETE FROM defender_hosts WHERE ip = @ip',
  deleteExpired: 'DELETE FROM defender_hosts WHERE expires_at <= @now',
  count: 'SELECT COUNT(*) AS n FROM defender_hosts',
  // Expired rows are gone by then; scored-only rows go before bans, oldest first (as in memory).
  deleteOldest: `DELETE FROM defender_hosts WHERE ip IN (SELECT ip FROM defender_hosts
    ORDER BY (ban_until > @now), updated_at LIMIT @excess)`,
} as const;

export class SqliteDefenderHosts implements DefenderHostStore {
  readonly #db: Database.Database;
  readonly #guarded: <T>(fn: () => T) => T;
  readonly #statements: PreparedStatements;

  /** `guarded` maps driver errors to core codes, as for every other provider call. */
  constructor(db: Database.Database, guarded: <T>(fn: () => T) => T) {
    this.#db = db;
    this.#statements = new PreparedStatements(db);
    this.#guarded = guarded;
  }

  #run(sql: string): Database.Statement {
    return this.#statements.get(sql);
  }

  async getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    const row = this.#guarded(() => this.#run(SQL.get).get({ ip }) as DefenderRow | undefined);
    return Promise.resolve(row && fromRow(row));
  }

  async listDefenderHosts(now: number): Promise<DefenderHost[]> {
    const rows = this.#guarded(() => this.#run(SQL.list).all({ now }) as DefenderRow[]);
    return Promise.resolve(rows.map(fromRow));
  }

  async updateDefenderHost(
    ip: string,
    change: DefenderHostChange,
  ): Promise<DefenderHost | undefined> {
    const step = this.#db.transaction((): DefenderHost | undefined => {
      const row = this.#run(SQL.get).get({ ip }) as DefenderRow | undefined;
      const next = change(row && fromRow(row));
      if (next === undefined) {
        this.#run(SQL.delete).run({ ip });
        return undefined;
      }
      this.#run(SQL.upsert).run(toParams(ip, next));
      return { ...next, ip };
    });
    return Promise.resolve(this.#guarded(() => step.immediate()));
  }

  async deleteDefenderHost(ip: string): Promise<boolean> {
    return Promise.resolve(this.#guarded(() => this.#run(SQL.delete).run({ ip }).changes > 0));
  }

  async pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    const step = this.#db.transaction((): number => {
      let deleted = this.#run(SQL.deleteExpired).run({ now: options.now }).changes;
      if (options.hardLimit <= 0) return deleted;
      const { n } = this.#run(SQL.count).get() as { n: number };
      if (n > options.hardLimit) {
        const excess = n - options.softLimit;
        deleted += this.#run(SQL.deleteOldest).run({ now: options.now, excess }).changes;
      }
      return deleted;
    });
    return Promise.resolve(this.#guarded(() => step.immediate()));
  }

  /** Prepared statements belong to the connection; the provider calls this before closing it. */
  clear(): void {
    this.#statements.clear();
  }
}
