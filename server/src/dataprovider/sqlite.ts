/**
 * The embedded default driver: one SQLite file in WAL mode, so readers never wait on the
 * writer and several processes on one host can share it.
 */
import { statSync, type Stats } from 'node:fs';
import Database from 'better-sqlite3';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { assertPrivateMode, createPrivateFileSync } from '../private-files.js';
import { findMigrationsDir, loadMigrations, runMigrations, type Migration } from './migrate.js';
import { assertHomeFree, sameHome } from './home-removals.js';
import { SqliteDefenderHosts } from './sqlite-defender.js';
import { SqliteHomeRemovals } from './sqlite-home-removals.js';
import { SqliteSessions } from './sqlite-sessions.js';
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

export interface SqliteOptions {
  /** Database file path, already resolved against the config dir. */
  path: string;
  usersTable: string;
  /** Defaults to the repository's sql/sqlite. */
  migrationsDir?: string;
  /** How long a writer waits for another process's lock, in milliseconds. */
  busyTimeoutMs?: number;
}

/** Maps driver failures to core codes: a duplicate name is a CONFLICT, the rest unavailability. */
function toProviderError(err: unknown): KubesftpError {
  if (isKubesftpError(err)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new KubesftpError(ErrorCode.CONFLICT, 'the username is already taken', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KubesftpError(ErrorCode.PROVIDER_UNAVAILABLE, `sqlite: ${message}`, { cause: err });
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toProviderError(err);
  }
}

function cannotOpen(dbPath: string, err: unknown): KubesftpError {
  const message = err instanceof Error ? err.message : String(err);
  return new KubesftpError(
    ErrorCode.PROVIDER_UNAVAILABLE,
    `data_provider.name: cannot open the sqlite database ${dbPath}: ${message}`,
    { cause: err },
  );
}

/** SQLite creates the -wal and -shm files with the database file's mode, fixed past the umask. */
const DATABASE_FILE_SUFFIXES = ['', '-wal', '-shm'];

function assertDatabaseFilesPrivate(dbPath: string): void {
  for (const suffix of DATABASE_FILE_SUFFIXES) {
    const file = `${dbPath}${suffix}`;
    let stats: Stats;
    try {
      stats = statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw cannotOpen(dbPath, err);
    }
    // Anything but a file is left for SQLite to refuse with its own reason.
    if (!stats.isFile()) continue;
    assertPrivateMode({
      path: file,
      mode: stats.mode,
      key: 'data_provider.name',
      what: 'sqlite database',
    });
  }
}

/** SQLite's own names for a database that is not a file of that name. */
function isFileDatabase(dbPath: string): boolean {
  return dbPath !== '' && dbPath !== ':memory:' && !dbPath.startsWith('file:');
}

/** Opens the database file, creating it first as a private file: it holds password hashes. */
function openPrivateDatabase(dbPath: string): Database.Database {
  if (!isFileDatabase(dbPath)) return new Database(dbPath);
  try {
    createPrivateFileSync(dbPath);
  } catch (err) {
    throw cannotOpen(dbPath, err);
  }
  assertDatabaseFilesPrivate(dbPath);
  try {
    return new Database(dbPath);
  } catch (err) {
    throw cannotOpen(dbPath, err);
  }
}

function notFound(what: string): KubesftpError {
  return new KubesftpError(ErrorCode.NOT_FOUND, `${what} not found`);
}

const ASSIGNMENTS = USER_COLUMNS.map((c) => `${c} = @${c}`).join(', ');

/** True when an admin other than @username is active; guards the last one in the same statement. */
const ANOTHER_ACTIVE_ADMIN =
  'EXISTS (SELECT 1 FROM admins WHERE status = 1 AND username <> @username)';

export class SqliteProvider implements DataProvider {
  readonly driver = 'sqlite';
  readonly #db: Database.Database;
  readonly #options: SqliteOptions;
  /** The quoted users table name, validated as an identifier first. */
  readonly #users: string;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #defenderHosts: SqliteDefenderHosts;
  readonly #sessions: SqliteSessions;
  readonly #removals: SqliteHomeRemovals;

  constructor(options: SqliteOptions) {
    this.#options = options;
    this.#users = `"${validateTableName(options.usersTable, 'data_provider.users_table')}"`;
    this.#db = openPrivateDatabase(options.path);
    guarded(() => {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    });
    this.#defenderHosts = new SqliteDefenderHosts(this.#db, guarded);
    this.#sessions = new SqliteSessions(this.#db, this.#users, guarded);
    this.#removals = new SqliteHomeRemovals(this.#db, this.#users, guarded);
  }

  /** Statements are prepared on first use: the tables exist only after initialize(). */
  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get<T>(sql: string, params: Record<string, unknown> = {}): T | undefined {
    return guarded(() => this.#statement(sql).get(params) as T | undefined);
  }

  #all<T>(sql: string, params: Record<string, unknown> = {}): T[] {
    return guarded(() => this.#statement(sql).all(params) as T[]);
  }

  #changes(sql: string, params: Record<string, unknown> = {}): number {
    return guarded(() => this.#statement(sql).run(params).changes);
  }

  async initialize(): Promise<void> {
    const dir = this.#options.migrationsDir ?? findMigrationsDir('sqlite');
    const migrations = await loadMigrations(dir, { users_table: this.#users.slice(1, -1) });
    await runMigrations(
      {
        prepare: async () => {
          guarded(() =>
            this.#db.exec(
              'CREATE TABLE IF NOT EXISTS schema_version (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
            ),
          );
          return Promise.resolve();
        },
        appliedVersions: async () =>
          Promise.resolve(
            this.#all<{ version: string }>('SELECT version FROM schema_version').map(
              (r) => r.version,
            ),
          ),
        apply: async (migration) => Promise.resolve(this.#apply(migration)),
      },
      migrations,
    );
  }

  /** BEGIN IMMEDIATE takes the write lock first, so two processes never apply one migration twice. */
  #apply(migration: Migration): void {
    const applyOnce = this.#db.transaction(() => {
      const seen = this.#db
        .prepare('SELECT 1 FROM schema_version WHERE version = ?')
        .get(migration.version);
      if (seen !== undefined) return;
      this.#db.exec(migration.sql);
      this.#db
        .prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)')
        .run(migration.version, Date.now());
    });
    guarded(() => applyOnce.immediate());
  }

  async checkAvailability(): Promise<void> {
    this.#get('SELECT COUNT(*) AS n FROM schema_version');
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#defenderHosts.clear();
    this.#sessions.clear();
    this.#removals.clear();
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }

  async getUserByUsername(username: string): Promise<User | undefined> {
    const row = this.#get<UserRow>(`SELECT * FROM ${this.#users} WHERE username = @username`, {
      username,
    });
    return Promise.resolve(row && fromUserRow(row));
  }

  async getUserById(id: number): Promise<User | undefined> {
    const row = this.#get<UserRow>(`SELECT * FROM ${this.#users} WHERE id = @id`, { id });
    return Promise.resolve(row && fromUserRow(row));
  }

  async listUsers(query: ListUsersQuery): Promise<User[]> {
    validateListQuery(query);
    const where = query.username === undefined ? '' : 'WHERE username = @username';
    const order = query.order === 'DESC' ? 'DESC' : 'ASC';
    const rows = this.#all<UserRow>(
      `SELECT * FROM ${this.#users} ${where} ORDER BY username ${order} LIMIT @limit OFFSET @offset`,
      { username: query.username, limit: query.limit, offset: query.offset },
    );
    return Promise.resolve(rows.map(fromUserRow));
  }

  /** In BEGIN IMMEDIATE: the home is checked against removals and the row inserted as one step. */
  async addUser(user: NewUser): Promise<User> {
    const prepared = storableUser(user);
    const columns = USER_COLUMNS.join(', ');
    const values = USER_COLUMNS.map((c) => `@${c}`).join(', ');
    const row = this.#removals.immediate(() => {
      assertHomeFree(prepared, this.#removals.pending());
      return this.#statement(
        `INSERT INTO ${this.#users} (${columns}) VALUES (${values}) RETURNING *`,
      ).get(toUserParams(prepared)) as UserRow | undefined;
    });
    if (row === undefined)
      throw new KubesftpError(ErrorCode.FAILURE, 'the new user was not returned');
    return Promise.resolve(fromUserRow(row));
  }

  async updateUser(id: number, user: NewUser): Promise<User> {
    const existing = await this.getUserById(id);
    if (existing === undefined) throw notFound(`user ${id}`);
    const prepared = storableUser(user, existing);
    const update = (): UserRow | undefined =>
      this.#statement(`UPDATE ${this.#users} SET ${ASSIGNMENTS} WHERE id = @id RETURNING *`).get({
        ...toUserParams(prepared),
        id,
      }) as UserRow | undefined;
    const row = sameHome(prepared, existing)
      ? guarded(update)
      : this.#removals.immediate(() => {
          assertHomeFree(prepared, this.#removals.pending());
          return update();
        });
    if (row === undefined) throw notFound(`user ${id}`);
    return fromUserRow(row);
  }

  async deleteUser(id: number): Promise<void> {
    if (this.#changes(`DELETE FROM ${this.#users} WHERE id = @id`, { id }) === 0)
      throw notFound(`user ${id}`);
    return Promise.resolve();
  }

  async deleteUserAndHome(id: number): Promise<HomeRemoval> {
    return Promise.resolve(this.#removals.deleteUserAndHome(id));
  }

  async listHomeRemovals(): Promise<HomeRemoval[]> {
    return Promise.resolve(this.#removals.listHomeRemovals());
  }

  async claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined> {
    return Promise.resolve(this.#removals.claimHomeRemoval(request));
  }

  async finishHomeRemoval(id: number, nodeId: string): Promise<void> {
    this.#removals.finishHomeRemoval(id, nodeId);
    return Promise.resolve();
  }

  async deferHomeRemoval(retry: HomeRemovalRetry): Promise<void> {
    this.#removals.deferHomeRemoval(retry);
    return Promise.resolve();
  }

  async dropHomeRemoval(id: number): Promise<void> {
    this.#removals.dropHomeRemoval(id);
    return Promise.resolve();
  }

  /** One UPDATE, so concurrent transfers on any number of pods never lose an increment. */
  async updateQuota(username: string, delta: QuotaDelta): Promise<void> {
    validateQuotaDelta(delta);
    const set = delta.reset
      ? 'used_quota_size = @size, used_quota_files = @files'
      : 'used_quota_size = used_quota_size + @size, used_quota_files = used_quota_files + @files';
    const changes = this.#changes(
      `UPDATE ${this.#users} SET ${set}, last_quota_update = @now WHERE username = @username`,
      { size: delta.sizeDelta, files: delta.filesDelta, now: Date.now(), username },
    );
    if (changes === 0) throw notFound(`user ${username}`);
    return Promise.resolve();
  }

  async updateLastLogin(username: string, when: number): Promise<void> {
    const sql = `UPDATE ${this.#users} SET last_login = @when WHERE username = @username`;
    if (this.#changes(sql, { when, username }) === 0) throw notFound(`user ${username}`);
    return Promise.resolve();
  }

  async getAdminByUsername(username: string): Promise<Admin | undefined> {
    return Promise.resolve(
      this.#get<Admin>('SELECT * FROM admins WHERE username = @username', { username }),
    );
  }

  async listAdmins(query: ListAdminsQuery): Promise<Admin[]> {
    validateListQuery(query);
    const order = query.order === 'DESC' ? 'DESC' : 'ASC';
    return Promise.resolve(
      this.#all<Admin>(
        `SELECT * FROM admins ORDER BY username ${order} LIMIT @limit OFFSET @offset`,
        { limit: query.limit, offset: query.offset },
      ),
    );
  }

  async addAdmin(admin: NewAdmin): Promise<Admin> {
    const prepared = storableAdmin(admin);
    const row = this.#get<Admin>(
      `INSERT INTO admins (username, password, status, description)
       VALUES (@username, @password, @status, @description) RETURNING *`,
      prepared,
    );
    if (row === undefined)
      throw new KubesftpError(ErrorCode.FAILURE, 'the new admin was not returned');
    return Promise.resolve(row);
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    const existing = await this.getAdminByUsername(admin.username);
    if (existing === undefined) throw notFound(`admin ${admin.username}`);
    const prepared = storableAdmin(admin, existing);
    const row = this.#get<Admin>(
      `UPDATE admins SET password = @password, status = @status, description = @description
       WHERE username = @username AND (@status = 1 OR ${ANOTHER_ACTIVE_ADMIN}) RETURNING *`,
      prepared,
    );
    if (row === undefined) throw await this.#lastAdminOrMissing(admin.username, 'disabled');
    return row;
  }

  async deleteAdmin(username: string): Promise<void> {
    const sql = `DELETE FROM admins WHERE username = @username AND (status = 0 OR ${ANOTHER_ACTIVE_ADMIN})`;
    if (this.#changes(sql, { username }) === 0) {
      throw await this.#lastAdminOrMissing(username, 'deleted');
    }
  }

  /** Why a guarded admin write changed nothing: the admin is gone, or it is the last active one. */
  async #lastAdminOrMissing(username: string, verb: string): Promise<KubesftpError> {
    if ((await this.getAdminByUsername(username)) === undefined)
      return notFound(`admin ${username}`);
    return lastActiveAdmin(verb);
  }

  async countAdmins(): Promise<number> {
    return Promise.resolve(this.#get<{ n: number }>('SELECT COUNT(*) AS n FROM admins')?.n ?? 0);
  }

  /** INSERT OR IGNORE then SELECT: whichever process inserts first, all read the same value. */
  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    const select = 'SELECT value FROM secrets WHERE name = @name';
    let row = this.#get<{ value: string }>(select, { name });
    if (row === undefined) {
      this.#changes('INSERT OR IGNORE INTO secrets (name, value) VALUES (@name, @value)', {
        name,
        value: create(),
      });
      row = this.#get<{ value: string }>(select, { name });
    }
    if (row === undefined)
      throw new KubesftpError(ErrorCode.FAILURE, `secret ${name} was not stored`);
    return Promise.resolve(row.value);
  }

  async claimSession(claim: SessionClaim): Promise<boolean> {
    return Promise.resolve(this.#sessions.claimSession(claim));
  }

  async releaseSession(id: string): Promise<void> {
    this.#sessions.releaseSession(id);
    return Promise.resolve();
  }

  async releaseNodeSessions(nodeId: string): Promise<number> {
    return Promise.resolve(this.#sessions.releaseNodeSessions(nodeId));
  }

  async setSessionProtocol(id: string, protocol: string): Promise<void> {
    this.#sessions.setSessionProtocol(id, protocol);
    return Promise.resolve();
  }

  async heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    return Promise.resolve(this.#sessions.heartbeatSessions(beat));
  }

  async countSessions(username: string): Promise<number> {
    return Promise.resolve(this.#sessions.countSessions(username));
  }

  async revokedSessions(nodeId: string): Promise<string[]> {
    return Promise.resolve(this.#sessions.revokedSessions(nodeId));
  }

  async reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    return Promise.resolve(this.#sessions.reserveQuota(request));
  }

  async settleQuota(settlement: QuotaSettlement): Promise<void> {
    this.#sessions.settleQuota(settlement);
    return Promise.resolve();
  }

  /** Other processes on the file are seen by polling revokedSessions. */
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
