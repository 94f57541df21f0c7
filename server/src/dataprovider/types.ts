/**
 * The data-provider seam: what every driver implements. The account itself is defined once,
 * in account-schema.ts. Type-only and pure: the operator imports it without native modules.
 */

export { FsProvider, PERMISSIONS, type Permission } from './account-constants.js';
export type { NewUser, S3Config, User, UserFilesystem, UserFilters } from './account-schema.js';
import type { NewUser, User, UserFilesystem } from './account-schema.js';

export interface Admin {
  id: number;
  username: string;
  /** A password hash (argon2id, or an imported bcrypt, pbkdf2, md5crypt or sha512crypt one). */
  password: string;
  /** 1 active, 0 disabled: a disabled admin gets no token and its tokens stop working. */
  status: 0 | 1;
  description: string;
}

/**
 * What a caller supplies to create or replace an admin. On create, status defaults to 1 and
 * description to ''; on update, an omitted property or an empty password keeps the stored one.
 */
export interface NewAdmin {
  username: string;
  password: string;
  status?: 0 | 1;
  description?: string;
}

export interface ListAdminsQuery {
  offset: number;
  limit: number;
  order: 'ASC' | 'DESC';
}

export interface ListUsersQuery {
  offset: number;
  limit: number;
  order: 'ASC' | 'DESC';
  /** Exact username match when set. */
  username?: string;
}

export interface QuotaDelta {
  sizeDelta: number;
  filesDelta: number;
  /** Replace the stored usage with the deltas (after a rescan) instead of adding them. */
  reset: boolean;
}

/** One scored event of a client address. */
export interface DefenderEvent {
  /** Unix time in milliseconds. */
  at: number;
  score: number;
}

/** What the defender keeps about one client address. Times are Unix milliseconds. */
export interface DefenderHost {
  ip: string;
  /** Scored events still inside the observation window, oldest first. */
  events: DefenderEvent[];
  /** When the current or last ban ends; 0 when the address was never banned. */
  banUntil: number;
  /** Length of the last ban in milliseconds; the next ban grows from it. */
  banMs: number;
  updatedAt: number;
  /** From this time on the record holds nothing worth keeping and may be deleted. */
  expiresAt: number;
}

/** Computes an address's next record from its current one; undefined deletes it. Synchronous. */
export type DefenderHostChange = (current: DefenderHost | undefined) => DefenderHost | undefined;

export interface DefenderPruneOptions {
  /** Records that expired by this time are deleted. */
  now: number;
  /** Past this many records, the oldest are deleted down to `softLimit`; 0 means no limit. */
  hardLimit: number;
  softLimit: number;
}

/**
 * Where the defender keeps scores and bans. Every data provider is one (scores and bans shared
 * by all servers on it); the defender's memory driver is another.
 */
export interface DefenderHostStore {
  getDefenderHost(ip: string): Promise<DefenderHost | undefined>;
  /** Records not yet expired at `now`, most recently updated first. */
  listDefenderHosts(now: number): Promise<DefenderHost[]>;
  /**
   * Reads, changes and stores one record as one atomic step, also against other processes on
   * the same database. Resolves with the stored record.
   */
  updateDefenderHost(ip: string, change: DefenderHostChange): Promise<DefenderHost | undefined>;
  /** Resolves false when there was no record. */
  deleteDefenderHost(ip: string): Promise<boolean>;
  /** Deletes expired records and, past the hard limit, the oldest; resolves with the count. */
  pruneDefenderHosts(options: DefenderPruneOptions): Promise<number>;
}

/** A logged-in connection as the provider counts it: one row per connection, kept alive by its process. */
export interface SessionRecord {
  /** The connection id. */
  id: string;
  username: string;
  /** The server process holding the connection; its heartbeat keeps the row alive. */
  nodeId: string;
  protocol: string;
  clientIp: string;
  /** How long the row counts without a heartbeat, in milliseconds. */
  ttlMs: number;
}

export interface SessionClaim extends SessionRecord {
  /**
   * The user's max_sessions as read at login; 0 means no limit. When it is set the provider
   * reads the current value again under the user's row lock, so concurrent logins on any
   * number of processes cannot pass it.
   */
  maxSessions: number;
}

export interface SessionHeartbeat {
  nodeId: string;
  ttlMs: number;
  /** The sessions the process holds: rows the provider lost (a long outage) are made again. */
  sessions: SessionRecord[];
}

/** Space asked of the user's quota for one session, on top of what the session holds. */
export interface QuotaRequest {
  session: SessionRecord;
  /** Wanted: granted in full when the quota leaves that much. */
  size: number;
  files: number;
  /** Needed: granted when the quota leaves less than wanted but at least this; else refused. */
  minSize: number;
  minFiles: number;
}

export type QuotaGrant =
  | {
      granted: true;
      size: number;
      files: number;
      /** What the quota leaves after this grant, Infinity where there is no limit. */
      sizeLeft: number;
      filesLeft: number;
    }
  | {
      granted: false;
      exceeded: 'size' | 'files';
      /**
       * The usage alone leaves room for what was needed: only reservations of live sessions
       * stand in the way, and they end in use or given back.
       */
      held: boolean;
    };

/** A change of stored usage, and the part of a session's reservation it used up. */
export interface QuotaSettlement {
  username: string;
  /** The session whose reservation shrinks; undefined when none was drawn on. */
  sessionId: string | undefined;
  sizeDelta: number;
  filesDelta: number;
  /** Reserved bytes and files of the session now counted in the usage (never below 0). */
  releasedSize: number;
  releasedFiles: number;
}

/** What a driver that pushes changes tells the server: a user changed, the feed (re)connected or dropped. */
export interface UserChangeHandlers {
  changed(username: string): void;
  connected(): void;
  disconnected(err: Error): void;
}

export interface UserChangeFeed {
  close(): Promise<void>;
}

/**
 * What holds across processes besides accounts: sessions counted for max_sessions, space
 * reserved for uploads, and the news that an account was disabled or deleted.
 */
export interface ClusterStore {
  /** Inserts the session row; resolves false (and inserts nothing) when max_sessions is reached. */
  claimSession(claim: SessionClaim): Promise<boolean>;
  /** Deletes the row, and with it whatever quota the session still held reserved. */
  releaseSession(id: string): Promise<void>;
  /**
   * Deletes every row of a process known to be gone (a worker that died), with their
   * reservations, without waiting for the ttl. Resolves with the count.
   */
  releaseNodeSessions(nodeId: string): Promise<number>;
  /** Records what the session serves now (SFTP, SCP, SSH); a row that is gone stays gone. */
  setSessionProtocol(id: string, protocol: string): Promise<void>;
  /**
   * Extends every row of the process by ttl, makes again the listed rows the provider lost,
   * and deletes rows expired for longer than ttl. Resolves with the ids made again.
   */
  heartbeatSessions(beat: SessionHeartbeat): Promise<string[]>;
  /** Sessions of the user that have not expired. */
  countSessions(username: string): Promise<number>;
  /** Sessions of the process whose user was deleted or disabled: to be closed. */
  revokedSessions(nodeId: string): Promise<string[]>;
  /**
   * Reserves quota for a session under the user's row lock: usage plus every live session's
   * reservation never passes the limits the database holds now.
   */
  reserveQuota(request: QuotaRequest): Promise<QuotaGrant>;
  /**
   * Adds to the stored usage and takes the used-up part off the session's reservation,
   * atomically. A user deleted meanwhile has nothing to settle: that resolves too.
   */
  settleQuota(settlement: QuotaSettlement): Promise<void>;
  /** Pushes account changes as they commit; undefined when the driver cannot (callers poll). */
  watchUserChanges(handlers: UserChangeHandlers): UserChangeFeed | undefined;
}

/**
 * A home whose account was deleted together with its data (reclaimPolicy Delete). The row is
 * written in the transaction that deletes the account, and a server process that sees the
 * homes removes the data; until then no account may be given that home (HOME_BEING_REMOVED).
 */
export interface HomeRemoval {
  id: number;
  username: string;
  home_dir: string;
  /** The account's storage as it was: an S3 home needs its bucket, prefix and credentials. */
  filesystem: UserFilesystem;
  /** Unix milliseconds. */
  requested_at: number;
  /** Failed attempts so far, and the last failure. */
  attempts: number;
  last_error: string;
}

/**
 * What a claim found: a removal this process now holds for the lease, or one that was dropped
 * because an account uses that home (or a directory inside it) again.
 */
export type HomeRemovalClaim =
  | { kind: 'claimed'; removal: HomeRemoval }
  | { kind: 'in_use'; removal: HomeRemoval; usedBy: string };

export interface HomeRemovalRetry {
  id: number;
  nodeId: string;
  error: string;
  /** The removal is due again this many milliseconds from now. */
  afterMs: number;
}

/**
 * Removals of deleted accounts' homes, shared by every process on the provider. A claim and an
 * account write that gives a home are serialized, so a home is never removed while an account
 * can use it.
 */
export interface HomeRemovalStore {
  /** Deletes the account and records its home for removal, in one transaction. */
  deleteUserAndHome(id: number): Promise<HomeRemoval>;
  listHomeRemovals(): Promise<HomeRemoval[]>;
  /** Takes the oldest due removal for `leaseMs`; undefined when none is due. */
  claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined>;
  /** The home is gone: the row goes (only if `nodeId` still holds it). */
  finishHomeRemoval(id: number, nodeId: string): Promise<void>;
  /** The attempt failed: counted, and due again later. */
  deferHomeRemoval(retry: HomeRemovalRetry): Promise<void>;
  /** Gives up a removal without removing anything. */
  dropHomeRemoval(id: number): Promise<void>;
}

/**
 * One interface for every driver. Methods are async even where a driver is synchronous
 * (SQLite) so Postgres and MySQL fit the same seam. Failures throw KubesftpError:
 * NOT_FOUND, CONFLICT (duplicate username), INVALID_ARGUMENT, PROVIDER_UNAVAILABLE.
 */
export interface DataProvider extends DefenderHostStore, ClusterStore, HomeRemovalStore {
  readonly driver: string;
  /** Applies pending migrations; safe to call on every start and from several pods. */
  initialize(): Promise<void>;
  checkAvailability(): Promise<void>;
  close(): Promise<void>;

  getUserByUsername(username: string): Promise<User | undefined>;
  getUserById(id: number): Promise<User | undefined>;
  listUsers(query: ListUsersQuery): Promise<User[]>;
  /**
   * Refuses with HOME_BEING_REMOVED a home at or inside one still being removed (addUser and
   * updateUser alike).
   */
  addUser(user: NewUser): Promise<User>;
  /** Replaces the account properties of user `id`; usage counters are left alone. */
  updateUser(id: number, user: NewUser): Promise<User>;
  deleteUser(id: number): Promise<void>;
  updateQuota(username: string, delta: QuotaDelta): Promise<void>;
  updateLastLogin(username: string, when: number): Promise<void>;

  getAdminByUsername(username: string): Promise<Admin | undefined>;
  /** Admins ordered by username. */
  listAdmins(query: ListAdminsQuery): Promise<Admin[]>;
  addAdmin(admin: NewAdmin): Promise<Admin>;
  /**
   * Replaces the properties of the admin named `admin.username`. Refuses with CONFLICT to
   * disable the last active admin, in the same statement that writes, so two pods cannot both
   * disable one of the last two.
   */
  updateAdmin(admin: NewAdmin): Promise<Admin>;
  /** Refuses with CONFLICT to delete the last active admin, as updateAdmin does. */
  deleteAdmin(username: string): Promise<void>;
  countAdmins(): Promise<number>;

  /** A named secret kept by the provider (token signing key), created once, shared by all pods. */
  getOrCreateSecret(name: string, create: () => string): Promise<string>;
}
