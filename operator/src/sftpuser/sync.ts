/**
 * Writes one account to a server's database, or finds it already as declared. The password is
 * hashed only when it must be written: it is taken as current when the stored hash still has
 * the digest recorded in the status (or in this process's own record of its last write, which
 * the cached status may not show yet) and the password Secret has the resourceVersion recorded
 * there. So a resync of an unchanged account reads one row and writes nothing, and a hash or
 * any field changed in the database behind the operator is written back.
 */
import type { NewUser, User } from '../../../server/src/dataprovider/account-schema.js';
import type { DataProvider } from '../../../server/src/dataprovider/types.js';
import { validateUser } from '../../../server/src/dataprovider/validate.js';
import { ErrorCode, isKubesftpError } from '../../../server/src/errors.js';
import { UserReason } from '../api/conditions.js';
import type { SftpUser } from '../api/objects.js';
import { desiredAccount, managedByOf, sameAccountFields, usernameOf } from './account.js';
import type { StorageSpec } from '../sftpserver/storage.js';
import type { Credentials } from './credentials.js';
import { GENERATED_ITERATIONS, hashDigest, hashPassword } from './password-hash.js';
import type { AppliedAccount, UserProblem } from './status.js';

/**
 * What an account without a password holds: a hash that no password matches, as "!" in
 * /etc/shadow. (An empty password tells the provider to keep the stored hash.)
 */
export const LOCKED_PASSWORD = '$pbkdf2-sha256$1$locked$';

export type SyncOutcome = 'created' | 'updated' | 'reverted' | 'unchanged';

export interface SyncResult {
  ok: true;
  outcome: SyncOutcome;
  applied: AppliedAccount;
}

export interface SyncOptions {
  provider: DataProvider;
  user: SftpUser;
  credentials: Credentials;
  /** The server's storage, which decides the account's filesystem. */
  storage?: StorageSpec;
  hashIterations: number;
  written: WrittenPasswords;
}

interface WrittenPassword {
  uid: string;
  hashDigest: string;
  secretName: string;
  resourceVersion: string;
}

/**
 * The password hashes this process wrote, by SftpUser. The status that records a write reaches
 * the cache a moment after it is written; a reconcile in between (the finalizer, the generated
 * Secret and the status each bring the user back once) would otherwise hash the same password
 * again and write it a second time.
 */
export class WrittenPasswords {
  readonly #byKey = new Map<string, WrittenPassword>();

  remember(user: SftpUser, stored: User, source: Credentials['password']): void {
    if (source === undefined) return;
    this.#byKey.set(managedByOf(user), {
      uid: user.metadata.uid ?? '',
      hashDigest: hashDigest(stored.password),
      secretName: source.secretName,
      resourceVersion: source.resourceVersion,
    });
  }

  /** This process stored `storedHash` from the Secret version `source` names. */
  wrote(user: SftpUser, storedHash: string, source: NonNullable<Credentials['password']>): boolean {
    const written = this.#byKey.get(managedByOf(user));
    return (
      written !== undefined &&
      written.uid === (user.metadata.uid ?? '') &&
      written.hashDigest === hashDigest(storedHash) &&
      written.secretName === source.secretName &&
      written.resourceVersion === source.resourceVersion
    );
  }

  forget(key: string): void {
    this.#byKey.delete(key);
  }
}

function usernameTaken(existing: User): UserProblem {
  const owner = existing.managed_by ? `SftpUser ${existing.managed_by}` : 'the REST API';
  return {
    reason: UserReason.UsernameTaken,
    message: `account ${existing.username} already exists, managed by ${owner}`,
  };
}

/** The stored hash is the one this SftpUser's current password was hashed to. */
function passwordCurrent(existing: User | undefined, options: SyncOptions): boolean {
  if (existing === undefined) return false;
  const source = options.credentials.password;
  if (source === undefined) return existing.password === LOCKED_PASSWORD;
  const status = options.user.status;
  return (
    (status?.passwordHashDigest === hashDigest(existing.password) &&
      status.appliedSecrets?.[source.secretName] === source.resourceVersion) ||
    options.written.wrote(options.user, existing.password, source)
  );
}

function accountProblem(err: unknown): UserProblem {
  if (isKubesftpError(err, ErrorCode.INVALID_ARGUMENT)) {
    return { reason: UserReason.AccountInvalid, message: err.message };
  }
  if (isKubesftpError(err, ErrorCode.CONFLICT)) {
    return { reason: UserReason.UsernameTaken, message: err.message };
  }
  if (isKubesftpError(err, ErrorCode.HOME_BEING_REMOVED)) {
    return { reason: UserReason.HomeBeingRemoved, message: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { reason: UserReason.DatabaseUnavailable, message };
}

async function storedHash(existing: User | undefined, options: SyncOptions): Promise<string> {
  const source = options.credentials.password;
  if (source === undefined) return LOCKED_PASSWORD;
  if (existing !== undefined && passwordCurrent(existing, options)) return existing.password;
  return hashPassword(
    source.plain,
    source.generated ? GENERATED_ITERATIONS : options.hashIterations,
  );
}

function appliedFrom(stored: User, options: SyncOptions): AppliedAccount {
  return {
    appliedSecrets: options.credentials.appliedSecrets,
    passwordHashDigest: hashDigest(stored.password),
    usage: { sizeBytes: stored.used_quota_size, files: stored.used_quota_files },
  };
}

/** A spec change or a Secret change explains a write; without one, it reverts drift. */
function writeOutcome(existing: User | undefined, options: SyncOptions): SyncOutcome {
  if (existing === undefined) return 'created';
  const { user, credentials } = options;
  const declaredChange =
    user.status?.observedGeneration !== user.metadata.generation ||
    JSON.stringify(user.status?.appliedSecrets ?? {}) !==
      JSON.stringify(credentials.appliedSecrets);
  return declaredChange ? 'updated' : 'reverted';
}

async function write(
  existing: User | undefined,
  account: NewUser,
  provider: DataProvider,
): Promise<User> {
  return existing === undefined
    ? provider.addUser(account)
    : provider.updateUser(existing.id, account);
}

export async function syncAccount(
  options: SyncOptions,
): Promise<SyncResult | ({ ok: false } & UserProblem)> {
  const { provider, user, credentials } = options;
  try {
    const existing = await provider.getUserByUsername(usernameOf(user));
    if (existing !== undefined && existing.managed_by !== managedByOf(user)) {
      return { ok: false, ...usernameTaken(existing) };
    }
    const publicKeys = credentials.publicKeys;
    const checked = desiredAccount({
      user,
      passwordHash: existing?.password || LOCKED_PASSWORD,
      publicKeys,
      storage: options.storage,
    });
    validateUser(checked);
    if (
      existing !== undefined &&
      passwordCurrent(existing, options) &&
      sameAccountFields(existing, checked)
    ) {
      return { ok: true, outcome: 'unchanged', applied: appliedFrom(existing, options) };
    }
    const account = desiredAccount({
      user,
      passwordHash: await storedHash(existing, options),
      publicKeys,
      storage: options.storage,
    });
    const stored = await write(existing, account, provider);
    options.written.remember(user, stored, credentials.password);
    return {
      ok: true,
      outcome: writeOutcome(existing, options),
      applied: appliedFrom(stored, options),
    };
  } catch (err) {
    return { ok: false, ...accountProblem(err) };
  }
}
