/**
 * The defender's records in MySQL/MariaDB. A change is a read-modify-write in one transaction
 * holding the address's row lock (SELECT ... FOR UPDATE), so scores from every server on the
 * database add up. Two first events for one address may deadlock on the new row; InnoDB
 * rolls one back and the pool runs it again.
 */
import { fromDefenderRow, toDefenderParams, type DefenderRow } from './defender-rows.js';
import type { MysqlPool, MysqlQuery } from './mysql-pool.js';
import type {
  DefenderHost,
  DefenderHostChange,
  DefenderHostStore,
  DefenderPruneOptions,
} from './types.js';

const SQL = {
  get: 'SELECT * FROM defender_hosts WHERE ip = @ip',
  list: 'SELECT * FROM defender_hosts WHERE expires_at > @now ORDER BY updated_at DESC',
  lock: 'SELECT * FROM defender_hosts WHERE ip = @ip FOR UPDATE',
  // Gives a new address a row to lock; it is rolled back or overwritten in the same transaction.
  placeholder: `INSERT IGNORE INTO defender_hosts (ip, events, updated_at, expires_at)
    VALUES (@ip, '[]', -1, 0)`,
  update: `UPDATE defender_hosts SET events = @events, ban_until = @ban_until, ban_ms = @ban_ms,
    updated_at = @updated_at, expires_at = @expires_at WHERE ip = @ip`,
  delete: 'DELETE FROM defender_hosts WHERE ip = @ip',
  deleteExpired: 'DELETE FROM defender_hosts WHERE expires_at <= @now',
  count: 'SELECT COUNT(*) AS n FROM defender_hosts',
  // Scored-only rows go before bans, oldest first (as in memory); MySQL allows no LIMIT in IN (...).
  deleteOldest: 'DELETE FROM defender_hosts ORDER BY (ban_until > @now), updated_at LIMIT @excess',
} as const;

/**
 * The address's row, locked. When there is none yet, a placeholder is inserted to have one;
 * that insert is ignored if another server committed a real row meanwhile, so the row is read
 * again, and a placeholder (updated_at -1) reads as "no record".
 */
async function lockedRow(query: MysqlQuery, ip: string): Promise<DefenderRow | undefined> {
  const existing = (await query<DefenderRow>(SQL.lock, { ip })).rows[0];
  if (existing !== undefined) return existing;
  await query(SQL.placeholder, { ip });
  return (await query<DefenderRow>(SQL.lock, { ip })).rows[0];
}

export class MysqlDefenderHosts implements DefenderHostStore {
  readonly #pool: MysqlPool;

  constructor(pool: MysqlPool) {
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
      const row = await lockedRow(query, ip);
      const next = change(row && Number(row.updated_at) >= 0 ? fromDefenderRow(row) : undefined);
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
      const n = Number((await query<{ n: number }>(SQL.count)).rows[0]?.n ?? 0);
      if (n > options.hardLimit) {
        const excess = n - options.softLimit;
        deleted += (await query(SQL.deleteOldest, { now: options.now, excess })).count;
      }
      return deleted;
    });
  }
}
