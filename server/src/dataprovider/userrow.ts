/**
 * The flat row shape of a user in SQL drivers: lists and objects live in JSON text columns.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import type { NewUser, User } from './types.js';

/** Account columns written on insert and update, in a fixed order. */
export const USER_COLUMNS = [
  'username',
  'password',
  'public_keys',
  'status',
  'expiration_date',
  'home_dir',
  'uid',
  'gid',
  'max_sessions',
  'quota_size',
  'quota_files',
  'permissions',
  'upload_bandwidth',
  'download_bandwidth',
  'filters',
  'filesystem',
  'managed_by',
] as const;

const JSON_COLUMNS = ['public_keys', 'permissions', 'filters', 'filesystem'] as const;

export type UserRow = Record<keyof User, unknown>;

/** The named parameters for USER_COLUMNS. */
export function toUserParams(user: NewUser): Record<string, string | number> {
  const params: Record<string, string | number> = {};
  for (const column of USER_COLUMNS) params[column] = user[column] as string | number;
  params['managed_by'] = user.managed_by ?? '';
  for (const column of JSON_COLUMNS) params[column] = JSON.stringify(user[column]);
  return params;
}

export function fromUserRow(row: UserRow): User {
  const user = { ...row } as Record<string, unknown>;
  for (const column of JSON_COLUMNS) {
    const value = row[column];
    // Servers with a JSON type (PostgreSQL jsonb) hand the value over already parsed.
    if (typeof value !== 'string') continue;
    try {
      user[column] = JSON.parse(value);
    } catch (err) {
      throw new KubesftpError(
        ErrorCode.FAILURE,
        `user ${String(row.username)}: column ${column} does not hold JSON`,
        { cause: err },
      );
    }
  }
  return user as unknown as User;
}
