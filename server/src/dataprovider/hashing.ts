/**
 * Passwords are hashed here, before any driver sees them: a clear-text password becomes
 * argon2id, a known hash is kept as given, an empty one stays empty (on update: keep the
 * stored hash). The server opens every driver through `hashingPasswords`; the drivers
 * themselves refuse clear text, so nothing else can store one by mistake. An account's S3
 * secret is sealed here too (secret-box.ts), so no driver ever stores it in clear.
 */
import { hashPassword, isPasswordHash } from '../auth/passwords.js';
import {
  NO_MASTER_KEY,
  secretBoxFor,
  type SecretBox,
  type SecretKeySettings,
} from './secret-box.js';
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

/** The storable form of a password: argon2id for clear text, a known hash or '' as given. */
export async function storablePassword(password: string): Promise<string> {
  if (password === '' || isPasswordHash(password)) return password;
  return hashPassword(password);
}

export async function withHashedPassword<T extends { password: string }>(record: T): Promise<T> {
  return { ...record, password: await storablePassword(record.password) };
}

/** The account with its S3 secret sealed (a secret already sealed with this key is kept). */
export async function withSealedSecret(user: NewUser, box: SecretBox): Promise<NewUser> {
  const s3 = user.filesystem?.s3config;
  if (s3 === undefined || typeof s3.access_secret !== 'string') return user;
  const sealed = await box.sealIfClear(s3.access_secret);
  return {
    ...user,
    filesystem: { ...user.filesystem, s3config: { ...s3, access_secret: sealed } },
  };
}

/**
 * Wraps a driver so that its user and admin writes receive hashed passwords and sealed S3
 * secrets. Without `secrets` the key is the one the driver keeps.
 */
export function hashingPasswords(
  driver: DataProvider,
  secrets: SecretKeySettings = NO_MASTER_KEY,
): DataProvider {
  return new HashingProvider(driver, secretBoxFor(secrets, driver));
}

class HashingProvider implements DataProvider {
  readonly #driver: DataProvider;
  readonly #secrets: SecretBox;

  constructor(driver: DataProvider, secrets: SecretBox) {
    this.#driver = driver;
    this.#secrets = secrets;
  }

  async #storable(user: NewUser): Promise<NewUser> {
    return withSealedSecret(await withHashedPassword(user), this.#secrets);
  }

  get driver(): string {
    return this.#driver.driver;
  }

  async addUser(user: NewUser): Promise<User> {
    return this.#driver.addUser(await this.#storable(user));
  }

  async updateUser(id: number, user: NewUser): Promise<User> {
    return this.#driver.updateUser(id, await this.#storable(user));
  }

  async addAdmin(admin: NewAdmin): Promise<Admin> {
    return this.#driver.addAdmin(await withHashedPassword(admin));
  }

  async updateAdmin(admin: NewAdmin): Promise<Admin> {
    return this.#driver.updateAdmin(await withHashedPassword(admin));
  }

  initialize(): Promise<void> {
    return this.#driver.initialize();
  }

  checkAvailability(): Promise<void> {
    return this.#driver.checkAvailability();
  }

  close(): Promise<void> {
    return this.#driver.close();
  }

  getUserByUsername(username: string): Promise<User | undefined> {
    return this.#driver.getUserByUsername(username);
  }

  getUserById(id: number): Promise<User | undefined> {
    return this.#driver.getUserById(id);
  }

  listUsers(query: ListUsersQuery): Promise<User[]> {
    return this.#driver.listUsers(query);
  }

  deleteUser(id: number): Promise<void> {
    return this.#driver.deleteUser(id);
  }

  deleteUserAndHome(id: number): Promise<HomeRemoval> {
    return this.#driver.deleteUserAndHome(id);
  }

  listHomeRemovals(): Promise<HomeRemoval[]> {
    return this.#driver.listHomeRemovals();
  }

  claimHomeRemoval(request: {
    nodeId: string;
    leaseMs: number;
  }): Promise<HomeRemovalClaim | undefined> {
    return this.#driver.claimHomeRemoval(request);
  }

  finishHomeRemoval(id: number, nodeId: string): Promise<void> {
    return this.#driver.finishHomeRemoval(id, nodeId);
  }

  deferHomeRemoval(retry: HomeRemovalRetry): Promise<void> {
    return this.#driver.deferHomeRemoval(retry);
  }

  dropHomeRemoval(id: number): Promise<void> {
    return this.#driver.dropHomeRemoval(id);
  }

  updateQuota(username: string, delta: QuotaDelta): Promise<void> {
    return this.#driver.updateQuota(username, delta);
  }

  updateLastLogin(username: string, when: number): Promise<void> {
    return this.#driver.updateLastLogin(username, when);
  }

  getAdminByUsername(username: string): Promise<Admin | undefined> {
    return this.#driver.getAdminByUsername(username);
  }

  listAdmins(query: ListAdminsQuery): Promise<Admin[]> {
    return this.#driver.listAdmins(query);
  }

  deleteAdmin(username: string): Promise<void> {
    return this.#driver.deleteAdmin(username);
  }

  countAdmins(): Promise<number> {
    return this.#driver.countAdmins();
  }

  getOrCreateSecret(name: string, create: () => string): Promise<string> {
    return this.#driver.getOrCreateSecret(name, create);
  }

  getDefenderHost(ip: string): Promise<DefenderHost | undefined> {
    return this.#driver.getDefenderHost(ip);
  }

  listDefenderHosts(now: number): Promise<DefenderHost[]> {
    return this.#driver.listDefenderHosts(now);
  }

  updateDefenderHost(ip: string, change: DefenderHostChange): Promise<DefenderHost | undefined> {
    return this.#driver.updateDefenderHost(ip, change);
  }

  deleteDefenderHost(ip: string): Promise<boolean> {
    return this.#driver.deleteDefenderHost(ip);
  }

  pruneDefenderHosts(options: DefenderPruneOptions): Promise<number> {
    return this.#driver.pruneDefenderHosts(options);
  }

  claimSession(claim: SessionClaim): Promise<boolean> {
    return this.#driver.claimSession(claim);
  }

  releaseSession(id: string): Promise<void> {
    return this.#driver.releaseSession(id);
  }

  releaseNodeSessions(nodeId: string): Promise<number> {
    return this.#driver.releaseNodeSessions(nodeId);
  }

  setSessionProtocol(id: string, protocol: string): Promise<void> {
    return this.#driver.setSessionProtocol(id, protocol);
  }

  heartbeatSessions(beat: SessionHeartbeat): Promise<string[]> {
    return this.#driver.heartbeatSessions(beat);
  }

  countSessions(username: string): Promise<number> {
    return this.#driver.countSessions(username);
  }

  revokedSessions(nodeId: string): Promise<string[]> {
    return this.#driver.revokedSessions(nodeId);
  }

  reserveQuota(request: QuotaRequest): Promise<QuotaGrant> {
    return this.#driver.reserveQuota(request);
  }

  settleQuota(settlement: QuotaSettlement): Promise<void> {
    return this.#driver.settleQuota(settlement);
  }

  watchUserChanges(handlers: UserChangeHandlers): UserChangeFeed | undefined {
    return this.#driver.watchUserChanges(handlers);
  }
}
