/**
 * Account checks shared by every driver: a user that passes here can be stored as is. The
 * structure (types, ranges, enums, the username pattern) comes from the account schema; the
 * rules a schema cannot say (CIDR ranges, normalized paths, parseable keys, S3 fields for S3
 * users) are here. Pure: no hashing, no native module; passwords arrive hashed. The schema's
 * checks are ajv's code for it, written ahead by `make gen` (config/precompiled.ts).
 */
import { isIP } from 'node:net';
import { isAbsolute, posix } from 'node:path';
import type { ErrorObject } from 'ajv';
import { parseAuthorizedKey } from '../auth/authorized-key.js';
import { isPasswordHash } from '../auth/password-formats.js';
import { keyPathOf } from '../config/validate.js';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import { FsProvider, MAX_ADMIN_DESCRIPTION } from './account-constants.js';
import { checkAccount, checkUsername } from './account-validators.generated.js';
import type {
  Admin,
  ListAdminsQuery,
  ListUsersQuery,
  NewAdmin,
  NewUser,
  QuotaDelta,
  User,
} from './types.js';

export { MAX_ADMIN_DESCRIPTION };

const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function invalid(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.INVALID_ARGUMENT, message);
}

export function validateUsername(username: string): void {
  if (!checkUsername(username)) {
    throw invalid(
      `username: ${JSON.stringify(username)} must be 1-255 characters of letters, digits, ".", "_", "@" or "-", and not "." or ".."`,
    );
  }
}

function reasonOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') {
    return `unknown property ${JSON.stringify((error.params as { additionalProperty: string }).additionalProperty)}`;
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return error.message ?? error.keyword;
}

/** The account schema's verdict, as `field.path: reason` for its first problem. */
function validateStructure(user: NewUser): void {
  const matches: boolean = checkAccount(user);
  if (matches) return;
  const error = checkAccount.errors?.[0];
  if (error === undefined) throw invalid('the account does not match the schema');
  if (error.instancePath === '/username') validateUsername(user.username);
  throw invalid(`${keyPathOf(error.instancePath) || '(account)'}: ${reasonOf(error)}`);
}

/** Table names are spliced into SQL, so only plain identifiers are accepted. */
export function validateTableName(name: string, key: string): string {
  if (!SQL_IDENTIFIER.test(name)) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${key}: ${JSON.stringify(name)} must be a plain SQL identifier (letters, digits, "_")`,
    );
  }
  return name;
}

/** Clear text never reaches a driver: the caller hashes first (see hashing.ts). */
function validatePasswordStorable(password: string): void {
  if (password !== '' && !isPasswordHash(password)) {
    throw invalid(
      'password: must be hashed before it is stored (a clear-text password reached the provider)',
    );
  }
}

function validateCredentials(user: NewUser): void {
  validatePasswordStorable(user.password);
  if (user.password === '' && user.public_keys.length === 0) {
    throw invalid('password, public_keys: a password or at least one public key is required');
  }
  user.public_keys.forEach((key, index) => {
    try {
      parseAuthorizedKey(String(key));
    } catch (err) {
      if (!isKubesftpError(err)) throw err;
      throw invalid(`public_keys[${index}]: ${err.message}`);
    }
  });
}

function validateHomeDir(homeDir: string): void {
  if (!isAbsolute(homeDir)) {
    throw invalid(`home_dir: ${JSON.stringify(homeDir)} must be an absolute path`);
  }
}

function validatePermissionDir(dir: string): void {
  const normalized = posix.normalize(dir);
  if (!dir.startsWith('/') || normalized !== dir || (dir !== '/' && dir.endsWith('/'))) {
    throw invalid(`permissions: ${JSON.stringify(dir)} must be a normalized absolute virtual path`);
  }
}

function validatePermissions(permissions: NewUser['permissions']): void {
  if (!Object.hasOwn(permissions, '/')) throw invalid('permissions: "/" must be present');
  for (const dir of Object.keys(permissions)) validatePermissionDir(dir);
}

/** True for `address/prefix` with a prefix that fits the address family. */
export function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) {
    return false;
  }
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

function validateFilters(filters: NewUser['filters']): void {
  for (const field of ['allowed_ip', 'denied_ip'] as const) {
    for (const entry of filters[field]) {
      if (!isCidr(entry)) {
        throw invalid(
          `filters.${field}: ${JSON.stringify(entry)} is not a CIDR range like 192.0.2.0/24`,
        );
      }
    }
  }
}

function validateFilesystem(filesystem: NewUser['filesystem']): void {
  if (filesystem.provider !== FsProvider.s3) return;
  const s3 = filesystem.s3config;
  for (const field of ['bucket', 'region'] as const) {
    if (typeof s3?.[field] !== 'string' || s3[field] === '') {
      throw invalid(`filesystem.s3config.${field}: required for the s3 provider`);
    }
  }
  // Both keys, or neither: then the server's own credentials (environment, web identity,
  // instance role) reach the bucket, and no secret is stored with the account.
  if ((s3!.access_key === '') !== (s3!.access_secret === '')) {
    throw invalid(
      'filesystem.s3config.access_key and access_secret: set both, or neither to use the credentials of the server',
    );
  }
  validateS3Details(s3!);
}

/** What the schema cannot say about an S3 home: part sizes S3 accepts, a URL, a clean prefix. */
function validateS3Details(s3: NonNullable<NewUser['filesystem']['s3config']>): void {
  for (const field of ['upload_part_size', 'download_part_size'] as const) {
    const size = s3[field];
    if (size !== undefined && size !== 0 && size < 5) {
      throw invalid(`filesystem.s3config.${field}: S3 parts are 5 to 5120 MiB (0 for the default)`);
    }
  }
  if (s3.endpoint !== '' && !/^https?:\/\/[^\s/]+/.test(s3.endpoint)) {
    throw invalid('filesystem.s3config.endpoint: must be an http:// or https:// URL, or empty');
  }
  const segments = s3.key_prefix.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw invalid('filesystem.s3config.key_prefix: may not hold "." or ".." segments');
  }
}

/** Throws INVALID_ARGUMENT naming the first field that cannot be stored. */
export function validateUser(user: NewUser): void {
  validateStructure(user);
  validateCredentials(user);
  validateHomeDir(user.home_dir);
  validatePermissions(user.permissions);
  validateFilters(user.filters);
  validateFilesystem(user.filesystem);
}

/**
 * What a driver stores for `user`: validated, keys trimmed, and on update (`existing` given) an
 * empty password keeping the stored hash. Throws INVALID_ARGUMENT for anything else.
 */
export function storableUser(user: NewUser, existing?: User): NewUser {
  const password = user.password === '' && existing ? existing.password : user.password;
  const keys = Array.isArray(user.public_keys)
    ? user.public_keys.map((k) => (typeof k === 'string' ? k.trim() : k))
    : user.public_keys;
  const merged: NewUser = {
    ...user,
    password,
    public_keys: keys,
    managed_by: user.managed_by ?? '',
  };
  validateUser(merged);
  return merged;
}

/** The refusal every driver gives for a write that would leave no active administrator. */
export function lastActiveAdmin(verb: string): KubesftpError {
  return new KubesftpError(
    ErrorCode.CONFLICT,
    `the last active administrator cannot be ${verb}; create or enable another one first`,
  );
}

function validateAdminProperties(admin: Omit<Admin, 'id'>): void {
  validateUsername(admin.username);
  if (typeof admin.password !== 'string' || admin.password === '') {
    throw invalid('password: an administrator needs a password');
  }
  validatePasswordStorable(admin.password);
  if (admin.status !== 0 && admin.status !== 1) throw invalid('status: must be 0 or 1');
  if (typeof admin.description !== 'string' || admin.description.length > MAX_ADMIN_DESCRIPTION) {
    throw invalid(`description: must be a string of at most ${MAX_ADMIN_DESCRIPTION} characters`);
  }
}

/**
 * Same rules for administrators: a safe name and a hashed password. On update (`existing`
 * given), an empty password and omitted properties keep the stored ones.
 */
export function storableAdmin(admin: NewAdmin, existing?: Admin): Omit<Admin, 'id'> {
  const merged: Omit<Admin, 'id'> = {
    username: admin.username,
    password: admin.password === '' && existing ? existing.password : admin.password,
    status: admin.status ?? existing?.status ?? 1,
    description: admin.description ?? existing?.description ?? '',
  };
  validateAdminProperties(merged);
  return merged;
}

/** Checks paging arguments before they reach a query. */
export function validateListQuery(query: ListUsersQuery | ListAdminsQuery): void {
  if (!Number.isSafeInteger(query.offset) || query.offset < 0) {
    throw invalid('offset: must be a non-negative integer');
  }
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) {
    throw invalid('limit: must be a positive integer');
  }
  if (query.order !== 'ASC' && query.order !== 'DESC') throw invalid('order: must be ASC or DESC');
}

/** Quota deltas are whole bytes and files. */
export function validateQuotaDelta(delta: QuotaDelta): void {
  if (!Number.isSafeInteger(delta.sizeDelta) || !Number.isSafeInteger(delta.filesDelta)) {
    throw invalid('quota: size and files deltas must be integers');
  }
}
