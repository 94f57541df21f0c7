/**
 * What every driver decides the same way about homes being removed (pure, no I/O): which
 * account's home lies at or inside a home being removed, and the refusal an account write gets
 * for such a home. A home above one being removed (the homes base itself, say) is no conflict:
 * removing a directory inside it is what its owner asked for.
 */
import { posix } from 'node:path';
import { ErrorCode, KubesftpError } from '../errors.js';
import { FsProvider } from './account-constants.js';
import type { UserFilesystem } from './account-schema.js';
import type { HomeRemoval } from './types.js';

/** The parts of an account that say where its data lives. */
export interface HomePlace {
  username: string;
  home_dir: string;
  filesystem: UserFilesystem;
}

/** Where a home's data lives, as a storage identity and a path in it ending in "/". */
function placeOf(home: Pick<HomePlace, 'home_dir' | 'filesystem'>): {
  storage: string;
  path: string;
} {
  const s3 = home.filesystem.s3config;
  if (home.filesystem.provider === FsProvider.s3 && s3 !== undefined) {
    const segments = s3.key_prefix.split('/').filter((s) => s !== '' && s !== '.');
    return { storage: `s3 ${s3.endpoint} ${s3.bucket}`, path: `/${segments.join('/')}/` };
  }
  const path = posix.normalize(`${home.home_dir}/`);
  return { storage: 'local', path };
}

/** `inner` is the same home as `outer` or a directory inside it, on the same storage. */
export function homeWithin(
  inner: Pick<HomePlace, 'home_dir' | 'filesystem'>,
  outer: Pick<HomePlace, 'home_dir' | 'filesystem'>,
): boolean {
  const a = placeOf(inner);
  const b = placeOf(outer);
  return a.storage === b.storage && a.path.startsWith(b.path);
}

/** The first of `accounts` whose home lies at or inside the removal's home. */
export function accountInside(
  removal: HomePlace,
  accounts: readonly HomePlace[],
): HomePlace | undefined {
  return accounts.find((account) => homeWithin(account, removal));
}

/** Throws HOME_BEING_REMOVED when `account` would get a home at or inside a pending removal. */
export function assertHomeFree(
  account: Pick<HomePlace, 'home_dir' | 'filesystem'>,
  pending: readonly HomeRemoval[],
): void {
  const removal = pending.find((each) => homeWithin(account, each));
  if (removal === undefined) return;
  throw new KubesftpError(
    ErrorCode.HOME_BEING_REMOVED,
    `the home ${removal.home_dir} of the deleted account ${removal.username} is still being ` +
      'removed; try again once it is gone',
  );
}

/** The same home, as a write that changes an account compares it. */
export function sameHome(
  a: Pick<HomePlace, 'home_dir' | 'filesystem'>,
  b: Pick<HomePlace, 'home_dir' | 'filesystem'>,
): boolean {
  return homeWithin(a, b) && homeWithin(b, a);
}

/** The row of a removal as the SQL drivers keep it: filesystem as JSON text. */
export interface HomeRemovalRow {
  id: unknown;
  username: string;
  home_dir: string;
  filesystem: unknown;
  requested_at: unknown;
  attempts: unknown;
  last_error: string;
}

export function fromRemovalRow(row: HomeRemovalRow): HomeRemoval {
  return {
    id: Number(row.id),
    username: row.username,
    home_dir: row.home_dir,
    filesystem: parseFilesystem(row.filesystem),
    requested_at: Number(row.requested_at),
    attempts: Number(row.attempts),
    last_error: row.last_error,
  };
}

export function parseFilesystem(value: unknown): UserFilesystem {
  return (typeof value === 'string' ? JSON.parse(value) : value) as UserFilesystem;
}
