/**
 * The data provider of the embedded record drivers, over record tables: memory keeps them in
 * Maps, kv in one LMDB file. Every operation runs inside the store's transaction, so a read,
 * a check and a write are one step for every user of the store (LMDB serializes its writers
 * across processes too). Users are keyed by name, with an index from id to name.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import { DefenderRecords } from './defender-hosts.js';
import { accountInside, assertHomeFree, sameHome } from './home-removals.js';
import { computeGrant } from './quota-grant.js';
import type { RecordTable } from './record-table.js';
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

/** A session row: the record, when it stops counting, and the quota it holds reserved. */
export interface StoredSession extends SessionRecord {
  expiresAt: number;
  reservedSize: number;
  reservedFiles: number;
}

/** A removal with its lease: who holds it, and when it is due (again). */
export interface StoredHomeRemoval extends HomeRemoval {
  claimedBy: string;
  notBefore: number;
}

export interface RecordTables {
  /** By username. */
  users: RecordTable<User>;
  /** User id (decimal) to username. */
  userIds: RecordTable<string>;
  /** By username. */
  admins: RecordTable<Admin>;
  secrets: RecordTable<string>;
  defenderHosts: RecordTable<DefenderHost>;
  sessions: RecordTable<StoredSession>;
  /** By id (decimal). */
  homeRemovals: RecordTable<StoredHomeRemoval>;
  /** The last id given to a user ("user"), an admin ("admin") and a removal ("homeRemoval"). */
  counters: RecordTable<number>;
}

export interface RecordStore extends RecordTables {
  /** Runs `step` as one atomic change of the store; a throw undoes what it wrote. */
  write<T>(step: () => T): T;
  /** Runs `step` on one consistent view of the store. */
  read<T>(step: () => T): T;
}

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

function page<T extends { username: string }>(
  rows: T[],
  query: { offset: number; limit: number; order: 'ASC' | 'DESC' },
): T[] {
  rows.sort(byUsername);
  if (query.order === 'DESC') rows.reverse();
  return rows.slice(query.offset, query.offset + query.limit);
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

function removalsInOrder(t: RecordTables): StoredHomeRemoval[] {
  return t.homeRemovals.values().sort((a, b) => a.id - b.id);
}

function publicRemoval(stored: StoredHomeRemoval): HomeRemoval {
  return {
    id: stored.id,
    username: stored.username,
    home_dir: stored.home_dir,
    filesystem: stored.filesystem,
    requested_at: stored.requested_at,
    attempts: stored.attempts,
    last_error: stored.last_error,
  };
}

export abstract class RecordProvider implements DataProvider {
  abstract readonly driver: string;
  abstract initialize(): Promise<void>;
  abstract checkAvailability(): Promise<void>;
  abstract close(): Promise<void>;

  /** The store, open from initialize() on. */
  protected abstract store(): RecordStore;

  async #write<T>(step: (t: RecordTables) => T): Promise<T> {
    const store = this.store();
    return Promise.resolve(store.write(() => step(store)));
  }

  async #read<T>(step: (t: RecordTables) => T): Promise<T> {
    const store = this.store();
    return Promise.resolve(store.read(() => step(store)));
  }

  /** A provider's defender table has no entry limits: the defender prunes it. */
  #defender(t: RecordTables): DefenderRecords {
    return new DefenderRecords(t.defenderHosts, { hardLimit: 0, softLimit: 0 });
  }

  #nextId(t: RecordTables, kind: 'user' | 'admin' | 'homeRemoval'): number {
    const id = (t.counters.get(kind) ?? 0) + 1;
    t.counters.put(kind, id);
    return id;
  }

  #requireUser(t: RecordTables, username: string): User {
    const user = t.users.get(username);
    if (user === undefined) throw notFound(`user ${username}`);
    return user;
  }

  #userById(t: RecordTables, id: number): User | undefined {
    const username = t.userIds.get(String(id));
    return username === undefined ? undefined : t.users.get(username);
  }

  async getUserByUsername(username: string): Promise<User | undefined> {
    return this.#read((t) => t.users.get(username));
  }

  async getUserById(id: number): Promise<User | undefined> {
    return this.#read((t) => this.#userById(t, id));
  }

  async listUsers(query: ListUsersQuery): Promise<User[]> {
    validateListQuery(query);
    return this.#read((t) => {
      if (query.username !== undefined) {
        const user = t.users.get(query.username);
        return page(user === undefined ? [] : [user], query);
      }
      return page(t.users.values(), query);
    });
  }

  async addUser(user: NewUser): Promise<User> {
    const prepared = storableUser(user);
    return this.#write((t) => {
      if (t.users.get(prepared.username) !== undefined) throw conflict();
      assertHomeFree(prepared, t.homeRemovals.values());
      const stored: User = {
        ...prepared,
        id: this.#nextId(t, 'user'),
        used_quota_size: 0,
        used_quota_files: 0,
        last_quota_update: 0,
        last_login: 0,
      };
      t.users.put(stored.username, stored);
      t.userIds.put(String(stored.id), stored.username);
      return stored;
    });
  }

  async updateUser(id: number, user: NewUser): Promise<User> {
    return this.#write((t) => {
      const current = this.#userById(t, id);
      if (current === undefined) throw notFound(`user ${id}`);
      const prepared = storableUser(user, current);
      const holder = t.users.get(prepared.username);
      if (holder !== undefined && holder.id !== id) throw conflict();
      if (!sameHome(prepared, current)) assertHomeFree(prepared, t.homeRemovals.values());
      const stored: User = { ...current, ...prepared, id };
      if (stored.username !== current.username) t.users.delete(current.username);
      t.users.put(stored.username, stored);
      t.userIds.put(String(id), stored.username);
      return stored;
    });
  }

  async deleteUser(id: number): Promise<void> {
    return this.#write((t) => {
      const username = t.userIds.get(String(id));
      if (username === undefined) throw notFound(`user ${id}`);
      t.userIds.delete(String(id));
      t.users.delete(username);
    });
  }

  async deleteUserAndHome(id: number): Promise<HomeRemoval> {
    return this.#write((t) => {
      const user = this.#userById(t, id);
      if (user === undefined) throw notFound(`user ${id}`);
      t.userIds.delete(String(id));
      t.users.delete(user.username);
      const now = Date.now();
      const removal: HomeRemoval = {
        id: this.#nextId(t, 'homeRemoval'),
        username: user.username,
        home_dir: user.home_dir,
        filesystem: user.filesystem,
        requested_at: now,
        attempts: 0,
        last_error: '',
      };
      t.homeRemovals.put(String(removal.id), { ...removal, claimedBy: '', notBefore: now });
      return removal;
    });
  }

  /** In a write transaction: it sees what other processes on the file committed just now. */
  async listHomeRemovals(): Promise<HomeRemoval[]> {
    return this.#write((t) => removalsInOrder(t).map(publicRemoval));
  }

  async claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined> {
    return this.#write((t) => {
      const now = Date.now();
      const next = removalsInOrder(t).find((r) => r.notBefore <= now);
      if (next === undefined) return undefined;
      const removal = publicRemoval(next);
      const user = accountInside(removal, t.users.values());
      if (user !== undefined) {
        t.homeRemovals.delete(String(next.id));
        return { kind: 'in_use', removal, usedBy: user.username };
      }
      t.homeRemovals.put(String(next.id), {
        ...next,
        claimedBy: request.nodeId,
        notBefore: now + request.leaseMs,
      });
      return { kind: 'claimed', removal };
    });
  }

  async finishHomeRemoval(id: number, nodeId: string): Promise<void> {
    return this.#write((t) => {
      if (t.homeRemovals.get(String(id))?.claimedBy === nodeId) t.homeRemovals.delete(String(id));
    });
  }

  async deferHomeRemoval(retry: HomeRemovalRetry): Promise<void> {
    return this.#write((t) => {
      const current = t.homeRemovals.get(String(retry.id));
      if (current?.claimedBy !== retry.nodeId) return;
      t.homeRemovals.put(String(retry.id), {
        ...current,
        attempts: current.attempts + 1,
        last_error: retry.error.slice(0, 1000),
        claimedBy: '',
        notBefore: Date.now() + retry.afterMs,
      });
    });
  }

  async dropHomeRemoval(id: number): Promise<void> {
    return this.#write((t) => {
      t.homeRemovals.delete(String(id));
    });
  }

  async updateQuota(username: string, delta: QuotaDelta): Promise<void> {
    validateQuotaDelta(delta);
    return this.#write((t) => {
      const user = this.#requireUser(t, username);
      user.used_quota_size = (delta.reset ? 0 : user.used_quota_size) + delta.sizeDelta;
      user.used_quota_files = (delta.reset ? 0 : user.used_quota_files) + delta.filesDelta;
      user.last_quota_update = Date.now();
      t.users.put(username, user);
    });
  }

  async updateLastLogin(username: string, when: number): Promise<void> {
    return this.#write((t) => {
      const user = this.#requireUser(t, username);
      t.users.put(username, { ...user, last_login: when });
    });
  }

  async getAdminByUsername(username: string): Promise<Admin | undefined> {
    return this.#read((t) => t.admins.get(username));
  }

  async listAdmins(query: ListAdminsQuery): Promise<Admin[]> {
    validateListQuery(query);
    return this.#read((t) => page(t.admins.values(), query));
  }

  async addAdmin(admin: NewAdmin): Promise<Admin> {
    const prepared = storableAdmin(admin);
    return this.#write((t) => {
      if (t.admins.get(prepared.username) !== undefined) throw conflict();
      const stored: Admin = { ...prepared, id: this.#nextId(t, 'admin') };
      t.admins.put(stored.username, stored);
      return stored;
    });
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    return this.#write((t) => {
      const existing = this.#requireAdmin(t, admin.username);
      const prepared = storableAdmin(admin, existing);
      if (prepared.status === 0 && !this.#anotherActiveAdmin(t, admin.username)) {
        throw lastActiveAdmin('disabled');
      }
      const stored: Admin = { ...prepared, id: existing.id };
      t.admins.put(stored.username, stored);
      return stored;
    });
  }

  async deleteAdmin(username: string): Promise<void> {
    return this.#write((t) => {
      const admin = this.#requireAdmin(t, username);
      if (admin.status === 1 && !this.#anotherActiveAdmin(t, username)) {
        throw lastActiveAdmin('deleted');
      }
      t.admins.delete(username);
    });
  }

  #requireAdmin(t: RecordTables, username: string): Admin {
    const admin = t.admins.get(username);
    if (admin === undefined) throw notFound(`admin ${username}`);
    return admin;
  }

  #anotherActiveAdmin(t: RecordTables, username: string): boolean {
    return t.admins.values().some((a) => a.status === 1 && a.username !== username);
  }

  async countAdmins(): Promise<number> {
    return this.#read((t) => t.admins.count());
  }

  async getOrCreateSecret(name: string, create: () => string): Promise<string> {
    return this.#write((t) => {
      let value = t.secrets.get(name);
      if (value === undefined) {
        value = create();
        t.secrets.put(name, value);
      }
      return value;
    });
  }

  #liveSessions(t: RecordTables, username: string, now: number): StoredSession[] {
    return t.sessions.values().filter((s) => s.username === username && s.expiresAt > now);
  }

  async claimSession(claim: SessionClaim): Promise<boolean> {
    return this.#write((t) => {
      const user = this.#requireUser(t, claim.username);
      const now = Date.now();
      const max = claim.maxSessions > 0 ? user.max_sessions : 0;
      if (max > 0 && this.#liveSessions(t, claim.username, now).length >= max) return false;
      t.sessions.put(claim.id, storedSession(claim, now));
      return true;
    });
  }

  async releaseSession(id: string): Promise<void> {
    return this.#write((t) => {
      t.sessions.delete(id);
    });
  }

  async releaseNodeSessions(nodeId: string): Promise<number> {
    return this.#write((t) => {
      const gone = t.sessions.values().filter((s) => s.nodeId === nodeId);
      for (const session of gone) t.sessions.delete(session.id);
      return gone.length;
    });
  }

  async setSessionProtocol(id: string, protocol: string): Promise<void> {
    return this.#write((t) => {
      const session = t.sessions.get(id);
      if (session !== undefined) t.sessions.put(id, { ...session, protocol });
    });
  }

  async heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    return this.#write((t) => {
      const now = Date.now();
      for (const session of t.sessions.values()) {
        if (session.nodeId === beat.nodeId) {
          t.sessions.put(session.id, { ...session, expiresAt: now + beat.ttlMs });
        } else if (session.expiresAt < now - beat.ttlMs) {
          t.sessions.delete(session.id);
        }
      }
      const remade = beat.sessions.filter((s) => t.sessions.get(s.id) === undefined);
      for (const session of remade) t.sessions.put(session.id, storedSession(session, now));
      return remade.map((s) => s.id);
    });
  }

  async countSessions(username: string): Promise<number> {
    return this.#read((t) => this.#liveSessions(t, username, Date.now()).length);
  }

  async revokedSessions(nodeId: string): Promise<string[]> {
    return this.#read((t) =>
      t.sessions
        .values()
        .filter((s) => s.nodeId === nodeId && t.users.get(s.username)?.status !== 1)
        .map((s) => s.id),
    );
  }

  async reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    return this.#write((t) => {
      const user = this.#requireUser(t, request.session.username);
      const now = Date.now();
      const live = this.#liveSessions(t, user.username, now);
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
      const session = t.sessions.get(request.session.id) ?? storedSession(request.session, now);
      session.reservedSize += grant.size;
      session.reservedFiles += grant.files;
      t.sessions.put(session.id, session);
      return grant;
    });
  }

  async settleQuota(settlement: QuotaSettlement): Promise<void> {
    validateQuotaDelta({ ...settlement, reset: false });
    return this.#write((t) => {
      const user = t.users.get(settlement.username);
      if (user === undefined) return;
      user.used_quota_size += settlement.sizeDelta;
      user.used_quota_files += settlement.filesDelta;
      user.last_quota_update = Date.now();
      t.users.put(user.username, user);
      const id = settlement.sessionId;
      const session = id === undefined ? undefined : t.sessions.get(id);
      if (session !== undefined) {
        session.reservedSize = Math.max(session.reservedSize - settlement.releasedSize, 0);
        session.reservedFiles = Math.max(session.reservedFiles - settlement.releasedFiles, 0);
        t.sessions.put(session.id, session);
      }
    });
  }

  /** Nothing pushes changes: a single store has no other writer to hear from (callers poll). */
  watchUserChanges(): UserChangeFeed | undefined {
    return undefined;
  }

  async getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    return this.#read((t) => this.#defender(t).get(ip));
  }

  async listDefenderHosts(now: number): Promise<DefenderHost[]> {
    return this.#read((t) => this.#defender(t).list(now));
  }

  async updateDefenderHost(
    ip: string,
    change: DefenderHostChange,
  ): Promise<DefenderHost | undefined> {
    return this.#write((t) => this.#defender(t).update(ip, change));
  }

  async deleteDefenderHost(ip: string): Promise<boolean> {
    return this.#write((t) => this.#defender(t).delete(ip));
  }

  async pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return this.#write((t) => this.#defender(t).prune(options));
  }
}
