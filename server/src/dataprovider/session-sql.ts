/**
 * The statements behind sessions and quota reservations, written once for the three SQL
 * drivers. They differ only in the clock (PostgreSQL and MySQL use the database's, so pods
 * whose clocks drift still agree on expiry; SQLite is one host and takes the caller's), in
 * how a row is locked and in the spelling of an upsert.
 */
import type { QuotaState } from './quota-grant.js';
import type { SessionRecord } from './types.js';

export interface SessionDialect {
  /** Unix milliseconds now: a SQL expression, or `@now` bound by the caller. */
  now: string;
  /** Appended to the user's SELECT inside a transaction: `FOR UPDATE`, or '' where the transaction itself excludes writers. */
  forUpdate: string;
  greatest: string;
  insertIgnore(insert: string): string;
  /** An upsert adding @size and @files to the reservation of an existing row. */
  addReservation(insert: string): string;
}

export const POSTGRES_DIALECT: SessionDialect = {
  now: '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT',
  forUpdate: 'FOR UPDATE',
  greatest: 'GREATEST',
  insertIgnore: (insert) => `${insert} ON CONFLICT (id) DO NOTHING`,
  addReservation: (insert) =>
    `${insert} ON CONFLICT (id) DO UPDATE SET
       reserved_size = sessions.reserved_size + excluded.reserved_size,
       reserved_files = sessions.reserved_files + excluded.reserved_files`,
};

export const MYSQL_DIALECT: SessionDialect = {
  now: 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)',
  forUpdate: 'FOR UPDATE',
  greatest: 'GREATEST',
  insertIgnore: (insert) => insert.replace(/^INSERT/, 'INSERT IGNORE'),
  addReservation: (insert) =>
    `${insert} ON DUPLICATE KEY UPDATE
       reserved_size = reserved_size + VALUES(reserved_size),
       reserved_files = reserved_files + VALUES(reserved_files)`,
};

/** BEGIN IMMEDIATE takes the database's write lock: no row lock is needed, nor possible. */
export const SQLITE_DIALECT: SessionDialect = {
  now: '@now',
  forUpdate: '',
  greatest: 'MAX',
  insertIgnore: (insert) => insert.replace(/^INSERT/, 'INSERT OR IGNORE'),
  addReservation: (insert) =>
    `${insert} ON CONFLICT (id) DO UPDATE SET
       reserved_size = sessions.reserved_size + excluded.reserved_size,
       reserved_files = sessions.reserved_files + excluded.reserved_files`,
};

export interface SessionStatements {
  lockUser: string;
  countLive: string;
  sumReserved: string;
  insert: string;
  insertIgnore: string;
  reserve: string;
  release: string;
  releaseNode: string;
  setProtocol: string;
  refresh: string;
  prune: string;
  revoked: string;
  settleUsage: string;
  settleSession: string;
}

/** `users` is the quoted users table name, validated as an identifier by the driver. */
export function sessionStatements(d: SessionDialect, users: string): SessionStatements {
  const live = `username = @username AND expires_at > ${d.now}`;
  const insert = `INSERT INTO sessions (id, username, node_id, protocol, client_ip, started_at,
    expires_at, reserved_size, reserved_files) VALUES (@id, @username, @node_id, @protocol,
    @client_ip, ${d.now}, ${d.now} + @ttl, @size, @files)`;
  return {
    lockUser: `SELECT max_sessions, quota_size, quota_files, used_quota_size, used_quota_files
      FROM ${users} WHERE username = @username ${d.forUpdate}`,
    countLive: `SELECT COUNT(*) AS n FROM sessions WHERE ${live}`,
    sumReserved: `SELECT COALESCE(SUM(reserved_size), 0) AS size,
      COALESCE(SUM(reserved_files), 0) AS files FROM sessions WHERE ${live}`,
    insert,
    insertIgnore: d.insertIgnore(insert),
    reserve: d.addReservation(insert),
    release: 'DELETE FROM sessions WHERE id = @id',
    releaseNode: 'DELETE FROM sessions WHERE node_id = @node_id',
    setProtocol: 'UPDATE sessions SET protocol = @protocol WHERE id = @id',
    refresh: `UPDATE sessions SET expires_at = ${d.now} + @ttl WHERE node_id = @node_id`,
    prune: `DELETE FROM sessions WHERE expires_at < ${d.now} - @ttl`,
    revoked: `SELECT s.id AS id FROM sessions s LEFT JOIN ${users} u ON u.username = s.username
      WHERE s.node_id = @node_id AND (u.id IS NULL OR u.status <> 1)`,
    settleUsage: `UPDATE ${users} SET used_quota_size = used_quota_size + @size,
      used_quota_files = used_quota_files + @files, last_quota_update = @stamp
      WHERE username = @username`,
    settleSession: `UPDATE sessions SET
      reserved_size = ${d.greatest}(reserved_size - @released_size, 0),
      reserved_files = ${d.greatest}(reserved_files - @released_files, 0) WHERE id = @id`,
  };
}

/** The parameters of a session row; `size` and `files` are what it starts with reserved. */
export function sessionParams(
  record: SessionRecord,
  reserved: { size: number; files: number } = { size: 0, files: 0 },
): Record<string, string | number> {
  return {
    id: record.id,
    username: record.username,
    node_id: record.nodeId,
    protocol: record.protocol,
    client_ip: record.clientIp,
    ttl: record.ttlMs,
    size: reserved.size,
    files: reserved.files,
  };
}

/** The user's row as lockUser reads it (numbers may come back as strings from MySQL). */
export interface LockedUserRow {
  max_sessions: unknown;
  quota_size: unknown;
  quota_files: unknown;
  used_quota_size: unknown;
  used_quota_files: unknown;
}

export function quotaState(
  user: LockedUserRow,
  reserved: { size: unknown; files: unknown },
): QuotaState {
  return {
    quotaSize: Number(user.quota_size),
    quotaFiles: Number(user.quota_files),
    usedSize: Number(user.used_quota_size),
    usedFiles: Number(user.used_quota_files),
    reservedSize: Number(reserved.size),
    reservedFiles: Number(reserved.files),
  };
}
