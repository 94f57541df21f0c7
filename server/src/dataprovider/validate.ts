/**
 * Account checks shared by every driver and by the REST layer: a user that passes here can be
 * stored as is. Each failure names the field and the reason.
 */
import { isIP } from 'node:net';
import { isAbsolute, posix } from 'node:path';
import { hashPassword, isPasswordHash } from '../auth/passwords.js';
import { parseAuthorizedKey } from '../auth/publickeys.js';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import {
  FsProvider,
  PERMISSIONS,
  type Admin,
  type ListAdminsQuery,
  type ListUsersQuery,
  type NewAdmin,
  type NewUser,
  type QuotaDelta,
  type User,
} from './types.js';

const USERNAME = /^[A-Za-z0-9._@-]{1,255}$/;
const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const KNOWN_PERMISSIONS: ReadonlySet<string> = new Set(PERMISSIONS);

function invalid(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.INVALID_ARGUMENT, message);
}

export function validateUsername(username: string): void {
  if (!USERNAME.test(username) || username === '.' || username === '..') {
    throw invalid(
      `username: ${JSON.stringify(username)} must be 1-255 characters of letters, digits, ".", "_", "@" or "-"`,
    );
  }
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

function validateCounters(user: NewUser): void {
  const counters = [
    'expiration_date',
    'uid',
    'gid',
    'max_sessions',
    'quota_size',
    'quota_files',
    'upload_bandwidth',
    'download_bandwidth',
  ] as const;
  for (const field of counters) {
    const value = user[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw invalid(`${field}: must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
  }
  if (user.status !== 0 && user.status !== 1) throw invalid('status: must be 0 or 1');
}

function validateCredentials(user: NewUser): void {
  if (!Array.isArray(user.public_keys)) throw invalid('public_keys: must be a list');
  if (typeof user.password !== 'string') throw invalid('password: must be a string');
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
  if (typeof homeDir !== 'string' || !isAbsolute(homeDir)) {
    throw invalid(`home_dir: ${JSON.stringify(homeDir)} must be an absolute path`);
  }
}

function validatePermissionDir(dir: string, granted: unknown): void {
  const normalized = posix.normalize(dir);
  if (!dir.startsWith('/') || normalized !== dir || (dir !== '/' && dir.endsWith('/'))) {
    throw invalid(`permissions: ${JSON.stringify(dir)} must be a normalized absolute virtual path`);
  }
  if (!Array.isArray(granted) || granted.length === 0) {
    throw invalid(`permissions: ${JSON.stringify(dir)} must grant a non-empty list`);
  }
  for (const name of granted) {
    if (!KNOWN_PERMISSIONS.has(String(name))) {
      throw invalid(
        `permissions: ${JSON.stringify(dir)} has unknown permission ${JSON.stringify(name)}`,
      );
    }
  }
}

function validatePermissions(permissions: NewUser['permissions']): void {
  if (typeof permissions !== 'object' || permissions === null || Array.isArray(permissions)) {
    throw invalid('permissions: must map virtual directories to permission lists');
  }
  if (!Object.hasOwn(permissions, '/')) throw invalid('permissions: "/" must be present');
  for (const [dir, granted] of Object.entries(permissions)) validatePermissionDir(dir, granted);
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
    const list: unknown = filters?.[field];
    if (!Array.isArray(list)) throw invalid(`filters.${field}: must be a list of CIDR ranges`);
    for (const entry of list) {
      if (typeof entry !== 'string' || !isCidr(entry)) {
        throw invalid(
          `filters.${field}: ${JSON.stringify(entry)} is not a CIDR range like 192.0.2.0/24`,
        );
      }
    }
  }
}

function validateFilesystem(filesystem: NewUser['filesystem']): void {
  const provider = filesystem?.provider;
  if (provider !== FsProvider.local && provider !== FsProvider.s3) {
    throw invalid('filesystem.provider: must be 0 (local) or 1 (s3)');
  }
  if (provider !== FsProvider.s3) return;
  const s3 = filesystem.s3config;
  for (const field of ['bucket', 'region', 'access_key', 'access_secret'] as const) {
    if (typeof s3?.[field] !== 'string' || s3[field] === '') {
      throw invalid(`filesystem.s3config.${field}: required for the s3 provider`);
    }
  }
}

/** Throws INVALID_ARGUMENT naming the first field that cannot be stored. */
export function validateUser(user: NewUser): void {
  validateUsername(user.username);
  validateCredentials(user);
  validateCounters(user);
  validateHomeDir(user.home_dir);
  validatePermissions(user.permissions);
  validateFilters(user.filters);
  validateFilesystem(user.filesystem);
}

async function storablePassword(password: string): Promise<string> {
  if (password === '' || isPasswordHash(password)) return password;
  return hashPassword(password);
}

/**
 * Validates a user and hashes a clear-text password with argon2id; a known hash is kept as
 * given. On update, an empty password keeps the existing hash.
 */
export async function prepareUserForStorage(user: NewUser, existing?: User): Promise<NewUser> {
  const password = user.password === '' && existing ? existing.password : user.password;
  const keys = Array.isArray(user.public_keys)
    ? user.public_keys.map((k) => String(k).trim())
    : user.public_keys;
  const merged: NewUser = { ...user, password, public_keys: keys };
  validateUser(merged);
  return { ...merged, password: await storablePassword(merged.password) };
}

export const MAX_ADMIN_DESCRIPTION = 1024;

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
  if (admin.status !== 0 && admin.status !== 1) throw invalid('status: must be 0 or 1');
  if (typeof admin.description !== 'string' || admin.description.length > MAX_ADMIN_DESCRIPTION) {
    throw invalid(`description: must be a string of at most ${MAX_ADMIN_DESCRIPTION} characters`);
  }
}

/**
 * Same rules for administrators: a safe name and a non-empty password, stored hashed. On
 * update (`existing` given), an empty password and omitted properties keep the stored ones.
 */
export async function prepareAdminForStorage(
  admin: NewAdmin,
  existing?: Admin,
): Promise<Omit<Admin, 'id'>> {
  const merged: Omit<Admin, 'id'> = {
    username: admin.username,
    password: admin.password === '' && existing ? existing.password : admin.password,
    status: admin.status ?? existing?.status ?? 1,
    description: admin.description ?? existing?.description ?? '',
  };
  validateAdminProperties(merged);
  return { ...merged, password: await storablePassword(merged.password) };
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
