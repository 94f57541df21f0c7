/**
 * The backend factory: picks and prepares the storage backend for a user's home. session/
 * never chooses a backend itself.
 */
import { chmod, chown, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FsProvider, type DataProvider, type User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { LocalBackend } from './local.js';
import type { S3Tuning } from './s3-settings.js';
import type { Backend } from './types.js';

export interface BackendSettings {
  umask: number;
  uploadMode: 0 | 1 | 2;
  setstatMode: 0 | 1;
  /** Opens sealed account secrets (the S3 access_secret); without it they are used as stored. */
  secrets?: { open(sealed: string): Promise<string> };
  /** S3 tuning that accounts do not set (tests reach rare paths with small files). */
  s3Tuning?: S3Tuning;
}

/**
 * Creates a local home on first use, as SFTPGo does: private to its owner (0700), owned by the
 * account's uid/gid when the server runs as root. Parents are created traversable (0755).
 */
export async function ensureLocalHome(user: User): Promise<void> {
  await mkdir(dirname(user.home_dir), { recursive: true, mode: 0o755 });
  try {
    await mkdir(user.home_dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  // mkdir() applied the process umask too; a home is exactly 0700.
  await chmod(user.home_dir, 0o700);
  const owned = user.uid > 0 || user.gid > 0;
  if (owned && process.getuid?.() === 0) {
    await chown(user.home_dir, user.uid > 0 ? user.uid : -1, user.gid > 0 ? user.gid : -1);
  }
}

/**
 * The backend of a user's home. The S3 backend and the AWS SDK behind it are loaded on the
 * first S3 login only, so a server without S3 accounts never loads them.
 */
export async function createBackend(user: User, settings: BackendSettings): Promise<Backend> {
  if (user.filesystem.provider === FsProvider.s3) {
    const { openS3Backend } = await import('./s3.js');
    const secrets = settings.secrets;
    return openS3Backend(user, {
      umask: settings.umask,
      openSecret: (sealed) => (secrets ? secrets.open(sealed) : Promise.resolve(sealed)),
      tuning: settings.s3Tuning,
    });
  }
  if (user.filesystem.provider !== FsProvider.local) {
    throw new KubesftpError(ErrorCode.UNSUPPORTED, 'unknown file system provider');
  }
  await ensureLocalHome(user);
  return new LocalBackend({
    root: user.home_dir,
    umask: settings.umask,
    uploadMode: settings.uploadMode,
    setstatMode: settings.setstatMode,
    uid: user.uid,
    gid: user.gid,
  });
}

const USER_PAGE = 500;

async function s3Users(provider: Pick<DataProvider, 'listUsers'>): Promise<User[]> {
  const users: User[] = [];
  for (let offset = 0; ; offset += USER_PAGE) {
    const page = await provider.listUsers({ offset, limit: USER_PAGE, order: 'ASC' });
    users.push(...page.filter((user) => user.filesystem.provider === FsProvider.s3));
    if (page.length < USER_PAGE) return users;
  }
}

/**
 * Aborts multipart uploads that a killed server left under the prefixes of S3 accounts (see
 * s3-sweep.ts). Loads the S3 code only when there is an S3 account.
 */
export async function sweepS3Uploads(options: {
  provider: Pick<DataProvider, 'listUsers'>;
  secrets: { open(sealed: string): Promise<string> };
  olderThanMs: number;
  onError: (home: { username: string; bucket: string; prefix: string }, err: unknown) => void;
}): Promise<{ homes: number; aborted: number }> {
  const users = await s3Users(options.provider);
  if (users.length === 0) return { homes: 0, aborted: 0 };
  const { sweepAbandonedUploads } = await import('./s3-sweep.js');
  return sweepAbandonedUploads({
    users,
    openSecret: (sealed) => options.secrets.open(sealed),
    olderThanMs: options.olderThanMs,
    onError: options.onError,
  });
}
