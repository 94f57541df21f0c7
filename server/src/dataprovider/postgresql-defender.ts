/**
 * The defender's records in PostgreSQL. A change is a read-modify-write in one transaction
 * that holds the address's row lock, so scores from every server on the database add up.
 */
import { fromDefenderRow, toDefenderParams, type DefenderRow } from './defender-rows.js';
import type { PgPool } from './postgresql-pool.js';
import type {
  DefenderHost,
  DefenderHostChange,
  DefenderHostStore,
  DefenderPruneOptions,
} from './types.js';

/** A row inserted only to have something to lock; read back as "no record yet". */
const PLACEHOLDER_UPDATED_AT = -1;

const SQL = {
  get: 'SELECT * FROM defender_hosts WHERE ip = @ip',
  list: 'SELECT * FROM defender_hosts WHERE expires_at > @now ORDER BY updated_at DESC',
  // A first event from two servers at once: the second insert waits on the key, then does nothing.
  placeholder: `INSERT INTO defender_hosts (ip, updated_at, expires_at) VALUES (@ip, ${PLACEHOLDER_UPDATED_AT}, 0)
    ON CONFLICT (ip) DO NOTHING`,
  lock: 'SELECT * FROM defender_hosts WHERE ip = @ip FOR UPDATE',
  update: `UPDATE defender_hosts SET events = @events::jsonb, ban_until = @ban_until, ban_ms = @ban_ms,
    updated_at = @updated_at, expires_at = @expires_at WHERE ip = @ip`,
  delete: 'DELETE FROM defender_hosts WHERE ip = @ip',
  deleteExpired: 'DELETE FROM defender_hosts WHERE expires_at <= @now',
  count: 'SELECT COUNT(*) AS n FROM defender_hosts',
  // Expired rows are gone by then; scored-only rows go before bans, oldest first (as in memory).
  deleteOldest: `DELETE FROM defender_hosts WHERE ip IN (SELECT ip FROM defender_hosts
    ORDER BY (ban_until > @now), updated_at LIMIT @excess)`,
} as const;

export class PostgresDefenderHosts implements DefenderHostStore {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    const { rows } = await this.#pool.query<DefenderRow>(SQL.get, { ip });
    return rows[0] && fromDefenderRow(rows[0]);
  }

  async listDefenderHosts(now: number): Promise<DefenderHost[]> {
    const { rows } = await this.#pool.query<DefenderRow>(SQL.list, { now });
    return rows.map((row) => fromDefenderRow(row));
  }

  async updateDefenderHost(
    ip: string,
    change: DefenderHostChange,
  ): Promise<DefenderHost | undefined> {
    return this.#pool.transaction(async (query) => {
      await query(SQL.placeholder, { ip });
      const row = (await query<DefenderRow>(SQL.lock, { ip })).rows[0];
      const current =
        row === undefined || Number(row.updated_at) === PLACEHOLDER_UPDATED_AT
          ? undefined
          : fromDefenderRow(row);
      const next = change(current);
      if (next === undefined) {
        await query(SQL.delete, { ip });
        return undefined;
      }
      await query(SQL.update, toDefenderParams(ip, next));
      return { ...next, ip };
    });
  }

  async deleteDefenderHost(ip: string): Promise<boolean> {
    return (await this.#pool.query(SQL.delete, { ip })).count > 0;
  }

  async pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return this.#pool.transaction(async (query) => {
      let deleted = (await query(SQL.deleteExpired, { now: options.now })).count;
      if (options.hardLimit <= 0) return deleted;
      const n = (await query<{ n: number }>(SQL.count)).rows[0]?.n ?? 0;
      if (n > options.hardLimit) {
        const excess = n - options.softLimit;
        deleted += (await query(SQL.deleteOldest, { now: options.now, excess })).count;
      }
      return deleted;
    });
  }
}
