/**
 * The PostgreSQL connection pool as the driver uses it: queries written with `@name`
 * placeholders, 64-bit integers read as numbers, transactions on one pooled client, and
 * server errors mapped to core codes.
 */
import pg from 'pg';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { tlsSettings, type NetworkOptions } from './network-options.js';
import { bindDollar, type BoundQuery, type SqlParams } from './sql-params.js';

const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';

/** Reads one statement's rows; the same shape inside and outside a transaction. */
export type PgQuery = <T>(sql: string, params?: SqlParams) => Promise<{ rows: T[]; count: number }>;

/** Maps a failure of the server or the network: a duplicate key is CONFLICT, the rest unavailability. */
export function toPgError(err: unknown): KubesftpError {
  if (isKubesftpError(err)) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === UNIQUE_VIOLATION) {
    const constraint = (err as { constraint?: unknown }).constraint;
    const what =
      typeof constraint === 'string' && constraint.endsWith('username_idx')
        ? 'the username is already taken'
        : message;
    return new KubesftpError(ErrorCode.CONFLICT, what, { cause: err });
  }
  return new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, `postgresql: ${message}`, {
    cause: err,
  });
}

/** Counts and ids are BIGINT; every value kubesftp stores fits a double exactly. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string): number => Number(value)
      : (pg.types.getTypeParser(oid, format ?? 'text') as (
          value: string,
        ) => unknown)) as typeof pg.types.getTypeParser,
};

/** The settings of one connection: the pool's, and the notification listener's. */
export function clientConfig(options: NetworkOptions): pg.ClientConfig {
  const common = { types, connectionTimeoutMillis: 10_000, application_name: 'kubesftp' };
  if (options.connectionString !== '') {
    return { ...common, connectionString: options.connectionString };
  }
  return {
    ...common,
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.username,
    password: options.password,
    ssl: tlsSettings(options.sslmode),
  };
}

function poolConfig(options: NetworkOptions): pg.PoolConfig {
  // No limit means as many as the server admits; idle ones close after 10 s either way.
  const max = options.poolSize === 0 ? Number.POSITIVE_INFINITY : options.poolSize;
  return { ...clientConfig(options), max };
}

/** Without parameters the text goes as is: a migration file is several statements in one. */
function bound(sql: string, params: SqlParams | undefined): BoundQuery {
  return params === undefined ? { text: sql, values: [] } : bindDollar(sql, params);
}

export class PgPool {
  readonly #pool: pg.Pool;

  constructor(options: NetworkOptions) {
    this.#pool = new pg.Pool(poolConfig(options));
    // An idle connection that drops is replaced on the next query, which reports the failure.
    this.#pool.on('error', () => undefined);
  }

  /** One statement on any pooled connection. */
  readonly query: PgQuery = async <T>(sql: string, params?: SqlParams) => {
    const { text, values } = bound(sql, params);
    try {
      const result = await this.#pool.query(text, values);
      return { rows: result.rows as T[], count: result.rowCount ?? 0 };
    } catch (err) {
      throw toPgError(err);
    }
  };

  /** Runs `work` in one transaction on one connection; any error rolls it back. */
  async transaction<T>(work: (query: PgQuery) => Promise<T>): Promise<T> {
    return this.withClient(async (query) => {
      await query('BEGIN');
      try {
        const result = await work(query);
        await query('COMMIT');
        return result;
      } catch (err) {
        await query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Holds one connection for several statements (session-level locks live on it). */
  async withClient<T>(work: (query: PgQuery) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw toPgError(err);
    }
    const query: PgQuery = async <R>(sql: string, params?: SqlParams) => {
      const { text, values } = bound(sql, params);
      try {
        const result = await client.query(text, values);
        return { rows: result.rows as R[], count: result.rowCount ?? 0 };
      } catch (err) {
        throw toPgError(err);
      }
    };
    let broken = false;
    try {
      return await work(query);
    } catch (err) {
      broken = isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE);
      throw err;
    } finally {
      // A connection that failed may hold a half-done session state: close it rather than reuse it.
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}
