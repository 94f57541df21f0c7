/**
 * An in-process driver for tests and `portable` mode. Nothing survives a restart, but it can
 * start from a dump file (`kubesftp dumpdata`). Every value crosses the boundary as a copy so
 * callers cannot change stored state by accident.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { loadDump, parseDump } from './dump.js';
import { DefenderHostMap } from './defender-hosts.js';
import type {
  Admin,
  DataProvider,
  DefenderHost,
  DefenderHostChange,
  DefenderPruneOptions,
  ListAdminsQuery,
  ListUsersQuery,
  NewAdmin,
  NewUser,
  QuotaDelta,
  User,
} from './types.js';
import {
  lastActiveAdmin,
  storableAdmin,
  storableUser,
  validateListQuery,
  validateQuotaDelta,
} from './validate.js';

function notFound(what: string): KubesftpError {
  return new KubesftpError(ErrorCode.NOT_FOUND, `${what} not found`);
}

function conflict(): KubesftpError {
  return new KubesftpError(ErrorCode.CONFLICT, 'the username is already taken');
}

/** Username comparison in code-point order, as SQLite's default BINARY collation sorts. */
function byUsername(a: { username: string }, b: { username: string }): number {
  if (a.username === b.username) return 0;
  return a.username < b.username ? -1 : 1;
}

export interface MemoryOptions {
  /** A dump to load on initialize(): data_provider.name, resolved against the config dir. */
  dumpFile?: string;
}

function unreadableDump(file: string, err: unknown): KubesftpError {
  const reason = err instanceof Error ? err.message : String(err);
  return new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `data_provider.name: the memory driver cannot load the dump ${file}: ${reason}`,
    { cause: err },
  );
}

export class MemoryProvider implements DataProvider {
  readonly driver = 'memory';
  readonly #options: MemoryOptions;
  readonly #users = new Map<number, User>();
  readonly #admins = new Map<string, Admin>();
  readonly #secrets = new Map<string, string>();
  readonly #defenderHosts = new DefenderHostMap();
  #nextUserId = 1;
  #nextAdminId = 1;

  constructor(options: MemoryOptions = {}) {
    this.#options = options;
  }

  /** Loads the dump file, if one is configured. Its passwords must already be hashes. */
  async initialize(): Promise<void> {
    const file = this.#options.dumpFile;
    if (file === undefined) return;
    try {
      await loadDump(this, parseDump(await readFile(file, 'utf8'), file), 'replace');
    } catch (err) {
      if (isKubesftpError(err) && err.code !== ErrorCode.INVALID_ARGUMENT) throw err;
      throw unreadableDump(file, err);
    }
  }

  async checkAvailability(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    return Promise.resolve();
  }

  #findByName(username: string): User | undefined {
    for (const user of this.#users.values()) if (user.username === username) return user;
    return undefined;
  }

  #requireByName(username: string): User {
    const user = this.#findByName(username);
    if (user === undefined) throw notFound(`user ${username}`);
    return user;
  }

  async getUserByUsername(username: string): Promise<User | undefined> {
    return Promise.resolve(structuredClone(this.#findByName(username)));
  }

  async getUserById(id: number): Promise<User | undefined> {
    return Promise.resolve(structuredClone(this.#users.get(id)));
  }

  async listUsers(query: ListUsersQuery): Promise<User[]> {
    validateListQuery(query);
    const matching = [...this.#users.values()].filter(
      (u) => query.username === undefined || u.username === query.username,
    );
    matching.sort(byUsername);
    if (query.order === 'DESC') matching.reverse();
    return Promise.resolve(
      structuredClone(matching.slice(query.offset, query.offset + query.limit)),
    );
  }

  async addUser(user: NewUser): Promise<User> {
    const prepared = storableUser(user);
    if (this.#findByName(prepared.username) !== undefined) throw conflict();
    const stored: User = {
      ...structuredClone(prepared),
      id: this.#nextUserId++,
      used_quota_size: 0,
      used_quota_files: 0,
      last_quota_update: 0,
      last_login: 0,
    };
    this.#users.set(stored.id, stored);
    return Promise.resolve(structuredClone(stored));
  }

  async updateUser(id: number, user: NewUser): Promise<User> {
    const existing = this.#users.get(id);
    if (existing === undefined) throw notFound(`user ${id}`);
    const prepared = storableUser(user, existing);
    const holder = this.#findByName(prepared.username);
    if (holder !== undefined && holder.id !== id) throw conflict();
    const current = this.#users.get(id);
    if (current === undefined) throw notFound(`user ${id}`);
    const stored: User = { ...current, ...structuredClone(prepared), id };
    this.#users.set(id, stored);
    return Promise.resolve(structuredClone(stored));
  }

  async deleteUser(id: number): Promise<void> {
    if (!this.#users.delete(id)) throw notFound(`user ${id}`);
    return Promise.resolve();
  }

  async updateQuota(username: string, delta: QuotaDelta): Promise<void> {
    validateQuotaDelta(delta);
    const user = this.#requireByName(username);
    user.used_quota_size = (delta.reset ? 0 : user.used_quota_size) + delta.sizeDelta;
    user.used_quota_files = (delta.reset ? 0 : user.used_quota_files) + delta.filesDelta;
    user.last_quota_update = Date.now();
    return Promise.resolve();
  }

  async updateLastLogin(username: string, when: number): Promise<void> {
    this.#requireByName(username).last_login = when;
    return Promise.resolve();
  }

  async getAdminByUsername(username: string): Promise<Admin | undefined> {
    return Promise.resolve(structuredClone(this.#admins.get(username)));
  }

  async listAdmins(query: ListAdminsQuery): Promise<Admin[]> {
    validateListQuery(query);
    const sorted = [...this.#admins.values()].sort(byUsername);
    if (query.order === 'DESC') sorted.reverse();
    return Promise.resolve(structuredClone(sorted.slice(query.offset, query.offset + query.limit)));
  }

  async addAdmin(admin: NewAdmin): Promise<Admin> {
    const prepared = storableAdmin(admin);
    if (this.#admins.has(prepared.username)) throw conflict();
    const stored: Admin = { ...prepared, id: this.#nextAdminId++ };
    this.#admins.set(stored.username, stored);
    return Promise.resolve(structuredClone(stored));
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    const existing = this.#requireAdmin(admin.username);
    const prepared = storableAdmin(admin, existing);
    if (prepared.status === 0 && !this.#anotherActiveAdmin(admin.username)) {
      throw lastActiveAdmin('disabled');
    }
    const stored: Admin = { ...prepared, id: existing.id };
    this.#admins.set(stored.username, stored);
    return Promise.resolve(structuredClone(stored));
  }

  async deleteAdmin(username: string): Promise<void> {
    const admin = this.#requireAdmin(username);
    if (admin.status === 1 && !this.#anotherActiveAdmin(username)) {
      throw lastActiveAdmin('deleted');
    }
    this.#admins.delete(username);
    return Promise.resolve();
  }

  #requireAdmin(username: string): Admin {
    const admin = this.#admins.get(username);
    if (admin === undefined) throw notFound(`admin ${username}`);
    return admin;
  }

  #anotherActiveAdmin(username: string): boolean {
    for (const admin of this.#admins.values()) {
      if (admin.status === 1 && admin.username !== username) return true;
    }
    return false;
  }

  async countAdmins(): Promise<number> {
    return Promise.resolve(this.#admins.size);
  }

  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    let value = this.#secrets.get(name);
    if (value === undefined) {
      value = create();
      this.#secrets.set(name, value);
    }
    return Promise.resolve(value);
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
