/**
 * An in-process driver for tests and `portable` mode. Nothing survives a restart, but it can
 * start from a dump file (`kubesftp dumpdata`). Every value crosses the boundary as a copy so
 * callers cannot change stored state by accident.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { loadDump, parseDump } from './dump.js';
import { DefenderHostMap } from './defender-hosts.js';
import { computeGrant } from './quota-grant.js';
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
  QuotaGrant,
  QuotaRequest,
  QuotaSettlement,
  SessionClaim,
  SessionHeartbeat,
  SessionRecord,
  User,
  UserChangeFeed,
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

interface StoredSession extends SessionRecord {
  expiresAt: number;
  reservedSize: number;
  reservedFiles: number;
}

function storedSession(record: SessionRecord, now: number): StoredSession {
  return {
    id: record.id,
    username: record.username,
    nodeId: record.nodeId,
    protocol: record.protocol,
    clientIp: record.clientIp,
    ttlMs: record.ttlMs,
    expiresAt: now + record.ttlMs,
    reservedSize: 0,
    reservedFiles: 0,
  };
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
  readonly #sessions = new Map<string, StoredSession>();
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

  #liveSessions(username: string, now: number): StoredSession[] {
    return [...this.#sessions.values()].filter((s) => s.username === username && s.expiresAt > now);
  }

  async claimSession(claim: SessionClaim): Promise<boolean> {
    const user = this.#requireByName(claim.username);
    const now = Date.now();
    const max = claim.maxSessions > 0 ? user.max_sessions : 0;
    if (max > 0 && this.#liveSessions(claim.username, now).length >= max) return false;
    this.#sessions.set(claim.id, storedSession(claim, now));
    return Promise.resolve(true);
  }

  async releaseSession(id: string): Promise<void> {
    this.#sessions.delete(id);
    return Promise.resolve();
  }

  async heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    const now = Date.now();
    for (const session of this.#sessions.values()) {
      if (session.nodeId === beat.nodeId) session.expiresAt = now + beat.ttlMs;
      else if (session.expiresAt < now - beat.ttlMs) this.#sessions.delete(session.id);
    }
    const remade = beat.sessions.filter((s) => !this.#sessions.has(s.id));
    for (const session of remade) this.#sessions.set(session.id, storedSession(session, now));
    return Promise.resolve(remade.map((s) => s.id));
  }

  async countSessions(username: string): Promise<number> {
    return Promise.resolve(this.#liveSessions(username, Date.now()).length);
  }

  async revokedSessions(nodeId: string): Promise<string[]> {
    const revoked = [...this.#sessions.values()].filter((s) => {
      if (s.nodeId !== nodeId) return false;
      return this.#findByName(s.username)?.status !== 1;
    });
    return Promise.resolve(revoked.map((s) => s.id));
  }

  async reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    const user = this.#requireByName(request.session.username);
    const now = Date.now();
    const live = this.#liveSessions(user.username, now);
    const grant = computeGrant(
      {
        quotaSize: user.quota_size,
        quotaFiles: user.quota_files,
        usedSize: user.used_quota_size,
        usedFiles: user.used_quota_files,
        reservedSize: live.reduce((sum, s) => sum + s.reservedSize, 0),
        reservedFiles: live.reduce((sum, s) => sum + s.reservedFiles, 0),
      },
      request,
    );
    if (!grant.granted) return grant;
    let session = this.#sessions.get(request.session.id);
    if (session === undefined) {
      session = storedSession(request.session, now);
      this.#sessions.set(session.id, session);
    }
    session.reservedSize += grant.size;
    session.reservedFiles += grant.files;
    return Promise.resolve(grant);
  }

  async settleQuota(settlement: QuotaSettlement): Promise<void> {
    const user = this.#findByName(settlement.username);
    if (user === undefined) return;
    validateQuotaDelta({ ...settlement, reset: false });
    user.used_quota_size += settlement.sizeDelta;
    user.used_quota_files += settlement.filesDelta;
    user.last_quota_update = Date.now();
    const session =
      settlement.sessionId === undefined ? undefined : this.#sessions.get(settlement.sessionId);
    if (session !== undefined) {
      session.reservedSize = Math.max(session.reservedSize - settlement.releasedSize, 0);
      session.reservedFiles = Math.max(session.reservedFiles - settlement.releasedFiles, 0);
    }
    return Promise.resolve();
  }

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
