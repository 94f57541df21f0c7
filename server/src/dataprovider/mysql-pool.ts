/**
 * The MySQL/MariaDB connection pool as the driver uses it: `@name` placeholders bound as `?`
 * (values travel apart from the SQL text and mysql2 escapes them), transactions on one pooled
 * connection that are retried when InnoDB picks them as a deadlock victim, and server errors
 * mapped to core codes.
 */
import mysql from 'mysql2/promise';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import type { NetworkOptions } from './network-options.js';
import { bindQuestion, type SqlParams } from './sql-params.js';

export interface MysqlResult<T> {
  rows: T[];
  /** Rows matched by an UPDATE or DELETE (FOUND_ROWS), inserted by an INSERT. */
  count: number;
  insertId: number;
}

export type MysqlQuery = <T>(sql: string, params?: SqlParams) => Promise<MysqlResult<T>>;

const DEADLOCK = 'ER_LOCK_DEADLOCK';
const DEADLOCK_RETRIES = 5;

function isDeadlock(err: unknown): boolean {
  return isKubesftpError(err) && (err.cause as { code?: unknown } | undefined)?.code === DEADLOCK;
}

export function toMysqlError(err: unknown): KubesftpError {
  if (isKubesftpError(err)) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ER_DUP_ENTRY') {
    const what = /username_idx'$/.test(message) ? 'the username is already taken' : message;
    return new KubesftpError(ErrorCode.CONFLICT, what, { cause: err });
  }
  return new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, `mysql: ${message}`, { cause: err });
}

/** sslmode as mysql2 takes it: 2 checks the CA only, 3 the host name too. */
function sslOption(options: NetworkOptions): mysql.PoolOptions['ssl'] {
  switch (options.sslmode) {
    case 0:
      return undefined;
    case 1:
      return { rejectUnauthorized: false };
    case 2:
      return { rejectUnauthorized: true, verifyIdentity: false };
    case 3:
      return { rejectUnauthorized: true, verifyIdentity: true };
  }
}

/** The connection settings, also used for the one-off migration connection. */
export function connectionOptions(options: NetworkOptions): mysql.ConnectionOptions {
  const common = { connectTimeout: 10_000, dateStrings: true, charset: 'utf8mb4' };
  if (options.connectionString !== '') return { ...common, uri: options.connectionString };
  const ssl = sslOption(options);
  return {
    ...common,
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.username,
    password: options.password,
    ...(ssl === undefined ? {} : { ssl }),
  };
}

function resultOf<T>(result: unknown): MysqlResult<T> {
  if (Array.isArray(result)) return { rows: result as T[], count: result.length, insertId: 0 };
  const header = result as mysql.ResultSetHeader;
  return { rows: [], count: header.affectedRows, insertId: header.insertId };
}

function queryOn(target: mysql.Pool | mysql.PoolConnection): MysqlQuery {
  return async <T>(sql: string, params?: SqlParams): Promise<MysqlResult<T>> => {
    const { text, values } = bindQuestion(sql, params ?? {});
    try {
      const [result] = await target.query(text, values);
      return resultOf<T>(result);
    } catch (err) {
      throw toMysqlError(err);
    }
  };
}

export class MysqlPool {
  readonly #pool: mysql.Pool;
  readonly query: MysqlQuery;

  constructor(options: NetworkOptions) {
    this.#pool = mysql.createPool({
      ...connectionOptions(options),
      // 0 sets no limit, as the config key says; idle connections beyond 10 are closed.
      connectionLimit: options.poolSize,
      maxIdle: options.poolSize === 0 ? 10 : options.poolSize,
    });
    this.query = queryOn(this.#pool);
  }

  /** Runs `work` in one transaction; a deadlock victim is rolled back and run again. */
  async transaction<T>(work: (query: MysqlQuery) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transactionOnce(work);
      } catch (err) {
        if (!isDeadlock(err) || attempt >= DEADLOCK_RETRIES) throw err;
      }
    }
  }

  async #transactionOnce<T>(work: (query: MysqlQuery) => Promise<T>): Promise<T> {
    let connection: mysql.PoolConnection;
    try {
      connection = await this.#pool.getConnection();
    } catch (err) {
      throw toMysqlError(err);
    }
    const query = queryOn(connection);
    try {
      // No gap locks: two first events for one address then rarely deadlock.
      await query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await query('START TRANSACTION');
      const result = await work(query);
      await query('COMMIT');
      return result;
    } catch (err) {
      await query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      connection.release();
    }
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}
