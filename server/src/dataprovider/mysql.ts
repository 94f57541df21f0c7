/**
 * The MySQL 8 / MariaDB 10.5+ driver, for sites that run those servers. The same cross-process
 * rules as PostgreSQL, in InnoDB's terms: quota in one UPDATE, defender records and admin
 * guards under row locks (SELECT ... FOR UPDATE), secrets by a unique key, migrations under
 * GET_LOCK.
 */
import mysql from 'mysql2/promise';
import { ErrorCode, KubesftpError } from '../errors.js';
import { AsyncHomeRemovals, MYSQL_REMOVALS, homeRemovalStatements } from './home-removal-sql.js';
import { assertHomeFree, sameHome } from './home-removals.js';
import { findMigrationsDir, loadMigrations, runMigrations, type Migration } from './migrate.js';
import { MysqlDefenderHosts } from './mysql-defender.js';
import { MysqlSessions } from './mysql-sessions.js';
import { MysqlPool, connectionOptions, toMysqlError, type MysqlQuery } from './mysql-pool.js';
import type { NetworkOptions } from './network-options.js';
import type {
  Admin,
  DataProvider,
  DefenderHost,
  DefenderHostChange,
  DefenderPruneOptions,
  HomeRemoval,
  HomeRemovalClaim,
  HomeRemovalRetry,
  ListAdminsQuery,
  ListUsersQuery,
  NewAdmin,
  NewUser,
  QuotaDelta,
  QuotaGrant,
  QuotaRequest,
  QuotaSettlement,
  SessionClaim,
  SessionHeartbeat,
  User,
  UserChangeFeed,
} from './types.js';
import { USER_COLUMNS, fromUserRow, toUserParams, type UserRow } from './userrow.js';
import {
  lastActiveAdmin,
  storableAdmin,
  storableUser,
  validateListQuery,
  validateQuotaDelta,
  validateTableName,
} from './validate.js';

export interface MysqlOptions {
  network: NetworkOptions;
  usersTable: string;
  /** Defaults to the repository's sql/mysql. */
  migrationsDir?: string;
}

/** The named lock every kubesftp process takes to migrate; a server-wide name. */
export const MIGRATION_LOCK_NAME = 'kubesftp_migrations';
const MIGRATION_LOCK_WAIT_SECONDS = 600;

const ASSIGNMENTS = USER_COLUMNS.map((c) => `${c} = @${c}`).join(', ');
const VALUES = USER_COLUMNS.map((c) => `@${c}`).join(', ');

const SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL
) ENGINE=InnoDB`;

/**
 * Active admins other than @username, as a derived table: MySQL refuses a subquery on the
 * table being written, but a materialized aggregate is allowed.
 */
const OTHERS_ACTIVE =
  '(SELECT COUNT(*) AS n FROM admins WHERE status = 1 AND username <> @username) others';

function notFound(what: string): KubesftpError {
  return new KubesftpError(ErrorCode.NOT_FOUND, `${what} not found`);
}

function only<T>(rows: T[], what: string): T {
  const row = rows[0];
  if (row === undefined) throw new KubesftpError(ErrorCode.FAILURE, `${what} was not returned`);
  return row;
}

export class MysqlProvider implements DataProvider {
  readonly driver = 'mysql';
  readonly #pool: MysqlPool;
  readonly #options: MysqlOptions;
  /** The quoted users table name, validated as an identifier first. */
  readonly #users: string;
  readonly #defenderHosts: MysqlDefenderHosts;
  readonly #sessions: MysqlSessions;
  readonly #removals: AsyncHomeRemovals;

  constructor(options: MysqlOptions) {
    this.#options = options;
    this.#users = `\`${validateTableName(options.usersTable, 'data_provider.users_table')}\``;
    this.#pool = new MysqlPool(options.network);
    this.#defenderHosts = new MysqlDefenderHosts(this.#pool);
    this.#sessions = new MysqlSessions(this.#pool, this.#users);
    this.#removals = new AsyncHomeRemovals(
      {
        query: this.#pool.query,
        transaction: (work) => this.#pool.transaction(work),
        returningId: false,
      },
      homeRemovalStatements(MYSQL_REMOVALS, this.#users),
    );
  }

  /**
   * Applies pending migrations on a connection of its own (migration files hold several
   * statements) while holding GET_LOCK, so processes starting together migrate once.
   */
  async initialize(): Promise<void> {
    const dir = this.#options.migrationsDir ?? findMigrationsDir('mysql');
    const migrations = await loadMigrations(dir, { users_table: this.#users.slice(1, -1) });
    let connection: mysql.Connection;
    try {
      connection = await mysql.createConnection({
        ...connectionOptions(this.#options.network),
        multipleStatements: true,
      });
    } catch (err) {
      throw toMysqlError(err);
    }
    try {
      await migrateLocked(connection, migrations);
    } catch (err) {
      throw toMysqlError(err);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  async checkAvailability(): Promise<void> {
    await this.#pool.query('SELECT COUNT(*) AS n FROM schema_version');
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async getUserByUsername(username: string): Promise<User | undefined> {
    const sql = `SELECT * FROM ${this.#users} WHERE username = @username`;
    const { rows } = await this.#pool.query<UserRow>(sql, { username });
    return rows[0] && fromUserRow(rows[0]);
  }

  async getUserById(id: number): Promise<User | undefined> {
    const sql = `SELECT * FROM ${this.#users} WHERE id = @id`;
    const { rows } = await this.#pool.query<UserRow>(sql, { id });
    return rows[0] && fromUserRow(rows[0]);
  }

  async listUsers(query: ListUsersQuery): Promise<User[]> {
    validateListQuery(query);
    const where = query.username === undefined ? '' : 'WHERE username = @username';
    const order = query.order === 'DESC' ? 'DESC' : 'ASC';
    const { rows } = await this.#pool.query<UserRow>(
      `SELECT * FROM ${this.#users} ${where} ORDER BY username ${order} LIMIT @limit OFFSET @offset`,
      { username: query.username, limit: query.limit, offset: query.offset },
    );
    return rows.map(fromUserRow);
  }

  /** Locks against removals and checks the home is not being removed, then inserts. */
  async addUser(user: NewUser): Promise<User> {
    const prepared = storableUser(user);
    const insertId = await this.#pool.transaction(async (query) => {
      assertHomeFree(prepared, await this.#removals.pendingUnderLock(query));
      const sql = `INSERT INTO ${this.#users} (${USER_COLUMNS.join(', ')}) VALUES (${VALUES})`;
      return (await query(sql, toUserParams(prepared))).insertId;
    });
    return only([await this.getUserById(insertId)].filter(isDefined), 'the new user');
  }

  /** One statement while the home stays; a new home is checked as addUser checks it. */
  async updateUser(id: number, user: NewUser): Promise<User> {
    const existing = await this.getUserById(id);
    if (existing === undefined) throw notFound(`user ${id}`);
    const prepared = storableUser(user, existing);
    const update = async (query: MysqlQuery): Promise<number> => {
      const sql = `UPDATE ${this.#users} SET ${ASSIGNMENTS} WHERE id = @id`;
      return (await query(sql, { ...toUserParams(prepared), id })).count;
    };
    const count = sameHome(prepared, existing)
      ? await update(this.#pool.query)
      : await this.#pool.transaction(async (query) => {
          assertHomeFree(prepared, await this.#removals.pendingUnderLock(query));
          return update(query);
        });
    const updated = count === 0 ? undefined : await this.getUserById(id);
    if (updated === undefined) throw notFound(`user ${id}`);
    return updated;
  }

  async deleteUser(id: number): Promise<void> {
    const { count } = await this.#pool.query(`DELETE FROM ${this.#users} WHERE id = @id`, { id });
    if (count === 0) throw notFound(`user ${id}`);
  }

  deleteUserAndHome(id: number): Promise<HomeRemoval> {
    return this.#removals.deleteUserAndHome(id);
  }

  listHomeRemovals(): Promise<HomeRemoval[]> {
    return this.#removals.listHomeRemovals();
  }

  claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined> {
    return this.#removals.claimHomeRemoval(request);
  }

  finishHomeRemoval(id: number, nodeId: string): Promise<void> {
    return this.#removals.finishHomeRemoval(id, nodeId);
  }

  deferHomeRemoval(retry: HomeRemovalRetry): Promise<void> {
    return this.#removals.deferHomeRemoval(retry);
  }

  dropHomeRemoval(id: number): Promise<void> {
    return this.#removals.dropHomeRemoval(id);
  }

  /** One UPDATE: the row lock it takes orders concurrent deltas from every process. */
  async updateQuota(username: string, delta: QuotaDelta): Promise<void> {
    validateQuotaDelta(delta);
    const set = delta.reset
      ? 'used_quota_size = @size, used_quota_files = @files'
      : 'used_quota_size = used_quota_size + @size, used_quota_files = used_quota_files + @files';
    const { count } = await this.#pool.query(
      `UPDATE ${this.#users} SET ${set}, last_quota_update = @now WHERE username = @username`,
      { size: delta.sizeDelta, files: delta.filesDelta, now: Date.now(), username },
    );
    if (count === 0) throw notFound(`user ${username}`);
  }

  async updateLastLogin(username: string, when: number): Promise<void> {
    const sql = `UPDATE ${this.#users} SET last_login = @when WHERE username = @username`;
    const { count } = await this.#pool.query(sql, { when, username });
    if (count === 0) throw notFound(`user ${username}`);
  }

  async getAdminByUsername(username: string): Promise<Admin | undefined> {
    const sql = 'SELECT * FROM admins WHERE username = @username';
    return (await this.#pool.query<Admin>(sql, { username })).rows[0];
  }

  async listAdmins(query: ListAdminsQuery): Promise<Admin[]> {
    validateListQuery(query);
    const order = query.order === 'DESC' ? 'DESC' : 'ASC';
    const sql = `SELECT * FROM admins ORDER BY username ${order} LIMIT @limit OFFSET @offset`;
    return (await this.#pool.query<Admin>(sql, { limit: query.limit, offset: query.offset })).rows;
  }

  async addAdmin(admin: NewAdmin): Promise<Admin> {
    const prepared = storableAdmin(admin);
    await this.#pool.query(
      `INSERT INTO admins (username, password, status, description)
       VALUES (@username, @password, @status, @description)`,
      prepared,
    );
    return only(
      [await this.getAdminByUsername(prepared.username)].filter(isDefined),
      'the new admin',
    );
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    const existing = await this.getAdminByUsername(admin.username);
    if (existing === undefined) throw notFound(`admin ${admin.username}`);
    const prepared = storableAdmin(admin, existing);
    const count = await this.#pool.transaction(async (query) => {
      await lockActiveAdmins(query);
      const sql = `UPDATE admins, ${OTHERS_ACTIVE}
        SET admins.password = @password, admins.status = @status, admins.description = @description
        WHERE admins.username = @username AND (@status = 1 OR others.n > 0)`;
      return (await query(sql, prepared)).count;
    });
    const updated = count === 0 ? undefined : await this.getAdminByUsername(admin.username);
    if (updated === undefined) throw await this.#lastAdminOrMissing(admin.username, 'disabled');
    return updated;
  }

  async deleteAdmin(username: string): Promise<void> {
    const count = await this.#pool.transaction(async (query) => {
      await lockActiveAdmins(query);
      const sql = `DELETE admins FROM admins, ${OTHERS_ACTIVE}
        WHERE admins.username = @username AND (admins.status = 0 OR others.n > 0)`;
      return (await query(sql, { username })).count;
    });
    if (count === 0) throw await this.#lastAdminOrMissing(username, 'deleted');
  }

  /** Why a guarded admin write changed nothing: the admin is gone, or it is the last active one. */
  async #lastAdminOrMissing(username: string, verb: string): Promise<KubesftpError> {
    if ((await this.getAdminByUsername(username)) === undefined) {
      return notFound(`admin ${username}`);
    }
    return lastActiveAdmin(verb);
  }

  async countAdmins(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM admins');
    return Number(rows[0]?.n ?? 0);
  }

  /** The first process to insert wins; every process then reads the same committed value. */
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    const select = 'SELECT value FROM secrets WHERE name = @name';
    let { rows } = await this.#pool.query<{ value: string }>(select, { name });
    if (rows[0] === undefined) {
      await this.#pool.query('INSERT IGNORE INTO secrets (name, value) VALUES (@name, @value)', {
        name,
        value: create(),
      });
      ({ rows } = await this.#pool.query<{ value: string }>(select, { name }));
    }
    return only(rows, `secret ${name}`).value;
  }

  claimSession(claim: SessionClaim): Promise<boolean> {
    return this.#sessions.claimSession(claim);
  }

  releaseSession(id: string): Promise<void> {
    return this.#sessions.releaseSession(id);
  }

  releaseNodeSessions(nodeId: string): Promise<number> {
    return this.#sessions.releaseNodeSessions(nodeId);
  }

  setSessionProtocol(id: string, protocol: string): Promise<void> {
    return this.#sessions.setSessionProtocol(id, protocol);
  }

  heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    return this.#sessions.heartbeatSessions(beat);
  }

  countSessions(username: string): Promise<number> {
    return this.#sessions.countSessions(username);
  }

  revokedSessions(nodeId: string): Promise<string[]> {
    return this.#sessions.revokedSessions(nodeId);
  }

  reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    return this.#sessions.reserveQuota(request);
  }

  settleQuota(settlement: QuotaSettlement): Promise<void> {
    return this.#sessions.settleQuota(settlement);
  }

  /** MySQL has no notifications: the server polls revokedSessions. */
  watchUserChanges(): UserChangeFeed | undefined {
    return undefined;
  }

  getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    return this.#defenderHosts.getDefenderHost(ip);
  }

  listDefenderHosts(now: number): Promise<DefenderHost[]> {
    return this.#defenderHosts.listDefenderHosts(now);
  }

  updateDefenderHost(ip: string, change: DefenderHostChange): Promise<DefenderHost | undefined> {
    return this.#defenderHosts.updateDefenderHost(ip, change);
  }

  deleteDefenderHost(ip: string): Promise<boolean> {
    return this.#defenderHosts.deleteDefenderHost(ip);
  }

  pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return this.#defenderHosts.pruneDefenderHosts(options);
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/** A locking read sees the latest committed rows, not the transaction's snapshot; see PostgreSQL. */
async function lockActiveAdmins(query: MysqlQuery): Promise<void> {
  await query('SELECT id FROM admins WHERE status = 1 ORDER BY id FOR UPDATE');
}

/**
 * MySQL commits DDL statement by statement, so a migration is not atomic there: the lock
 * keeps two processes from interleaving, and the version is recorded after the file ran.
 */
async function migrateLocked(connection: mysql.Connection, migrations: Migration[]): Promise<void> {
  const [locked] = await connection.query('SELECT GET_LOCK(?, ?) AS got', [
    MIGRATION_LOCK_NAME,
    MIGRATION_LOCK_WAIT_SECONDS,
  ]);
  if ((locked as Array<{ got: number | null }>)[0]?.got !== 1) {
    throw new KubesftpError(
      ErrorCode.PROVIDER_UNAVAILABLE,
      `mysql: another process held the migration lock ${MIGRATION_LOCK_NAME} for ${MIGRATION_LOCK_WAIT_SECONDS} s`,
    );
  }
  try {
    await runMigrations(
      {
        prepare: async () => void (await connection.query(SCHEMA_VERSION_TABLE)),
        appliedVersions: async () => {
          const [rows] = await connection.query('SELECT version FROM schema_version');
          return (rows as Array<{ version: string }>).map((r) => r.version);
        },
        apply: async (migration) => {
          await connection.query(migration.sql);
          await connection.query('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)', [
            migration.version,
            Date.now(),
          ]);
        },
      },
      migrations,
    );
  } finally {
    await connection.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK_NAME]);
  }
}
