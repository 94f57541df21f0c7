/**
 * The PostgreSQL driver, the cluster default: any number of kubesftp processes share one
 * database. Every rule that must hold across processes is settled by the database itself:
 * quota in one UPDATE, defender records and admin guards under row locks, secrets by a
 * unique key, migrations under an advisory lock.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import { AsyncHomeRemovals, POSTGRES_REMOVALS, homeRemovalStatements } from './home-removal-sql.js';
import { assertHomeFree, sameHome } from './home-removals.js';
import { findMigrationsDir, loadMigrations, runMigrations, type Migration } from './migrate.js';
import type { NetworkOptions } from './network-options.js';
import { PgPool, clientConfig, type PgQuery } from './postgresql-pool.js';
import { PostgresDefenderHosts } from './postgresql-defender.js';
import { listenForUserChanges } from './postgresql-listener.js';
import { PostgresSessions } from './postgresql-sessions.js';
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
  UserChangeHandlers,
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

export interface PostgresOptions {
  network: NetworkOptions;
  usersTable: string;
  /** Defaults to the repository's sql/postgresql. */
  migrationsDir?: string;
}

/** The advisory lock every kubesftp process takes to migrate ("kubesftp" in ASCII, truncated). */
export const MIGRATION_LOCK_KEY = 0x6b75626573667470n.toString();

const JSON_COLUMNS = new Set(['public_keys', 'permissions', 'filters', 'filesystem']);
const VALUES = USER_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? `@${c}::jsonb` : `@${c}`)).join(', ');
const ASSIGNMENTS = USER_COLUMNS.map(
  (c) => `${c} = ${JSON_COLUMNS.has(c) ? `@${c}::jsonb` : `@${c}`}`,
).join(', ');

const SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version VARCHAR(64) PRIMARY KEY, applied_at BIGINT NOT NULL)`;

function notFound(what: string): KubesftpError {
  return new KubesftpError(ErrorCode.NOT_FOUND, `${what} not found`);
}

function only<T>(rows: T[], what: string): T {
  const row = rows[0];
  if (row === undefined) throw new KubesftpError(ErrorCode.FAILURE, `${what} was not returned`);
  return row;
}

export class PostgresProvider implements DataProvider {
  readonly driver = 'postgresql';
  readonly #pool: PgPool;
  readonly #options: PostgresOptions;
  /** The quoted users table name, validated as an identifier first. */
  readonly #users: string;
  readonly #defenderHosts: PostgresDefenderHosts;
  readonly #sessions: PostgresSessions;
  readonly #removals: AsyncHomeRemovals;

  constructor(options: PostgresOptions) {
    this.#options = options;
    this.#users = `"${validateTableName(options.usersTable, 'data_provider.users_table')}"`;
    this.#pool = new PgPool(options.network);
    this.#defenderHosts = new PostgresDefenderHosts(this.#pool);
    this.#sessions = new PostgresSessions(this.#pool, this.#users);
    this.#removals = new AsyncHomeRemovals(
      {
        query: this.#pool.query,
        transaction: (work) => this.#pool.transaction(work),
        returningId: true,
      },
      homeRemovalStatements(POSTGRES_REMOVALS, this.#users),
    );
  }

  /**
   * Applies pending migrations holding a session advisory lock, so processes starting together
   * migrate one after the other and the later ones find nothing left to do.
   */
  async initialize(): Promise<void> {
    const dir = this.#options.migrationsDir ?? findMigrationsDir('postgresql');
    const migrations = await loadMigrations(dir, { users_table: this.#users.slice(1, -1) });
    await this.#pool.withClient(async (query) => {
      await query('SELECT pg_advisory_lock(@key::bigint)', { key: MIGRATION_LOCK_KEY });
      try {
        await runMigrations(
          {
            prepare: async () => void (await query(SCHEMA_VERSION_TABLE)),
            appliedVersions: async () =>
              (await query<{ version: string }>('SELECT version FROM schema_version')).rows.map(
                (r) => r.version,
              ),
            apply: (migration) => applyMigration(query, migration),
          },
          migrations,
        );
      } finally {
        await query('SELECT pg_advisory_unlock(@key::bigint)', { key: MIGRATION_LOCK_KEY });
      }
    });
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
    const rows = await this.#pool.transaction(async (query) => {
      assertHomeFree(prepared, await this.#removals.pendingUnderLock(query));
      const sql = `INSERT INTO ${this.#users} (${USER_COLUMNS.join(', ')}) VALUES (${VALUES}) RETURNING *`;
      return (await query<UserRow>(sql, toUserParams(prepared))).rows;
    });
    return fromUserRow(only(rows, 'the new user'));
  }

  /** One statement while the home stays; a new home is checked as addUser checks it. */
  async updateUser(id: number, user: NewUser): Promise<User> {
    const existing = await this.getUserById(id);
    if (existing === undefined) throw notFound(`user ${id}`);
    const prepared = storableUser(user, existing);
    const update = async (query: PgQuery): Promise<UserRow[]> => {
      const sql = `UPDATE ${this.#users} SET ${ASSIGNMENTS} WHERE id = @id RETURNING *`;
      return (await query<UserRow>(sql, { ...toUserParams(prepared), id })).rows;
    };
    const rows = sameHome(prepared, existing)
      ? await update(this.#pool.query)
      : await this.#pool.transaction(async (query) => {
          assertHomeFree(prepared, await this.#removals.pendingUnderLock(query));
          return update(query);
        });
    if (rows[0] === undefined) throw notFound(`user ${id}`);
    return fromUserRow(rows[0]);
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
    const { rows } = await this.#pool.query<Admin>(
      `INSERT INTO admins (username, password, status, description)
       VALUES (@username, @password, @status, @description) RETURNING *`,
      storableAdmin(admin),
    );
    return only(rows, 'the new admin');
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    const existing = await this.getAdminByUsername(admin.username);
    if (existing === undefined) throw notFound(`admin ${admin.username}`);
    const prepared = storableAdmin(admin, existing);
    const row = await this.#pool.transaction(async (query) => {
      await lockActiveAdmins(query);
      const { rows } = await query<Admin>(
        `UPDATE admins SET password = @password, status = @status, description = @description
         WHERE username = @username AND (@status = 1 OR ${ANOTHER_ACTIVE_ADMIN}) RETURNING *`,
        prepared,
      );
      return rows[0];
    });
    if (row === undefined) throw await this.#lastAdminOrMissing(admin.username, 'disabled');
    return row;
  }

  async deleteAdmin(username: string): Promise<void> {
    const count = await this.#pool.transaction(async (query) => {
      await lockActiveAdmins(query);
      const sql = `DELETE FROM admins WHERE username = @username AND (status = 0 OR ${ANOTHER_ACTIVE_ADMIN})`;
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
    return rows[0]?.n ?? 0;
  }

  /** The first process to insert wins; every process then reads the same committed value. */
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    const select = 'SELECT value FROM secrets WHERE name = @name';
    let { rows } = await this.#pool.query<{ value: string }>(select, { name });
    if (rows[0] === undefined) {
      await this.#pool.query(
        'INSERT INTO secrets (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING',
        { name, value: create() },
      );
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

  /** LISTEN on a connection of its own, reconnecting when it drops. */
  watchUserChanges(handlers: UserChangeHandlers): UserChangeFeed {
    return listenForUserChanges(clientConfig(this.#options.network), handlers);
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

/** True when an admin other than @username is active; guards the last one in the writing statement. */
const ANOTHER_ACTIVE_ADMIN =
  'EXISTS (SELECT 1 FROM admins WHERE status = 1 AND username <> @username)';

/**
 * Without this, two transactions could each see the other's admin still active (READ
 * COMMITTED reads a snapshot) and disable the last two at once. Holding the active rows makes
 * the second wait, and its guarded statement then reads the first one's result.
 */
async function lockActiveAdmins(query: PgQuery): Promise<void> {
  await query('SELECT id FROM admins WHERE status = 1 ORDER BY id FOR UPDATE');
}

/** DDL is transactional in PostgreSQL: the file and its version record commit together. */
async function applyMigration(query: PgQuery, migration: Migration): Promise<void> {
  await query('BEGIN');
  try {
    await query(migration.sql);
    await query('INSERT INTO schema_version (version, applied_at) VALUES (@version, @now)', {
      version: migration.version,
      now: Date.now(),
    });
    await query('COMMIT');
  } catch (err) {
    await query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
