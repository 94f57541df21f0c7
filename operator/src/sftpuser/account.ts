/**
 * The account an SftpUser asks for, as the data provider stores it (pure). The spec's
 * camelCase fields map to the account properties named in api/sftpuser.ts (ACCOUNT_FIELDS);
 * everything the spec leaves out takes the same default the REST API gives.
 */
import type { NewUser, User } from '../../../server/src/dataprovider/account-schema.js';
import { keyOf, type SftpUser } from '../api/objects.js';
import { PATHS } from '../sftpserver/layout.js';
import { accountFilesystem, type StorageSpec } from '../sftpserver/storage.js';
import { canonicalJson } from '../runtime/compare.js';

const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** Bytes of a Kubernetes quantity (10Gi, 500M, 1e9) or of a plain number; the CRD checked it. */
export function quantityBytes(value: number | string | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const match = /^([0-9.]+(?:[eE][-+]?[0-9]+)?)([KMGTPE]i|[kMGTPE]?)$/.exec(value.trim());
  if (match === null) throw new Error(`quota.size: ${JSON.stringify(value)} is not a quantity`);
  const [, number = '0', suffix = ''] = match;
  const factor = BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix] ?? 1;
  return Math.round(Number(number) * factor);
}

/** The account name: spec.username, or the SftpUser's own name. */
export function usernameOf(user: SftpUser): string {
  return user.spec.username ?? user.metadata.name;
}

/** What managed_by holds for accounts of this SftpUser. */
export function managedByOf(user: SftpUser): string {
  return keyOf(user);
}

/** The home below the server's storage: a directory of the claim, or an S3 prefix. */
function homeOf(user: SftpUser): string {
  return user.spec.home?.subPath ?? usernameOf(user);
}

export function homeDirOf(user: SftpUser): string {
  return `${PATHS.homes}/${homeOf(user)}`;
}

export interface AccountInput {
  user: SftpUser;
  /** The stored hash, or '' when the account has no password. */
  passwordHash: string;
  publicKeys: string[];
  /** The server's storage; unset means a local home. */
  storage?: StorageSpec;
}

type Limits = Pick<
  NewUser,
  'max_sessions' | 'quota_size' | 'quota_files' | 'upload_bandwidth' | 'download_bandwidth'
>;

/** Sessions, quota and bandwidth; 0 (unlimited) where the spec says nothing. */
function limitsOf(spec: SftpUser['spec']): Limits {
  return {
    max_sessions: spec.maxSessions ?? 0,
    quota_size: quantityBytes(spec.quota?.size),
    quota_files: spec.quota?.files ?? 0,
    upload_bandwidth: spec.bandwidth?.uploadKBps ?? 0,
    download_bandwidth: spec.bandwidth?.downloadKBps ?? 0,
  };
}

/** The account to store for an SftpUser. */
export function desiredAccount(input: AccountInput): NewUser {
  const { spec } = input.user;
  const expiration = spec.expiration === undefined ? 0 : Date.parse(spec.expiration);
  return {
    username: usernameOf(input.user),
    password: input.passwordHash,
    public_keys: input.publicKeys,
    status: spec.suspended === true ? 0 : 1,
    expiration_date: Number.isFinite(expiration) ? expiration : 0,
    home_dir: homeDirOf(input.user),
    uid: 0,
    gid: 0,
    ...limitsOf(spec),
    permissions: spec.permissions ?? { '/': ['*'] },
    filters: {
      allowed_ip: spec.filters?.allowedIPs ?? [],
      denied_ip: spec.filters?.deniedIPs ?? [],
    },
    filesystem: accountFilesystem(input.storage, homeOf(input.user)),
    managed_by: managedByOf(input.user),
  };
}

/** What the server keeps up to date itself, and the password (compared by digest). */
const UNCOMPARED_FIELDS = new Set([
  'password',
  'id',
  'used_quota_size',
  'used_quota_files',
  'last_quota_update',
  'last_login',
]);

/** Every account property but the password, as text that compares equal for equal accounts. */
function comparable(account: NewUser | User): string {
  const fields = Object.fromEntries(
    Object.entries(account).filter(([key]) => !UNCOMPARED_FIELDS.has(key)),
  );
  return canonicalJson(fields);
}

/** The stored account holds what the SftpUser asks for, password aside (checked by digest). */
export function sameAccountFields(stored: User, desired: NewUser): boolean {
  return comparable(stored) === comparable(desired);
}
