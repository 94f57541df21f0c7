/**
 * The backend factory: picks and prepares the storage backend for a user's home. session/
 * never chooses a backend itself.
 */
import { chmod, chown, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { LocalBackend } from './local.js';
import type { Backend } from './types.js';

export interface BackendSettings {
  umask: number;
  uploadMode: 0 | 1 | 2;
  setstatMode: 0 | 1;
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

export async function createBackend(user: User, settings: BackendSettings): Promise<Backend> {
  if (user.filesystem.provider !== 0) {
    throw new KubesftpError(ErrorCode.UNSUPPORTED, 'S3 homes are not available yet');
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
