/**
 * Removes the data of one deleted account's home through its storage backend, so local, PVC
 * and S3 homes are removed alike and nothing is followed out of the home. Before anything is
 * removed, a local home must lie strictly inside data_provider.users_base_dir (never the base
 * itself, never "/"), be a real directory (not a symlink) and resolve inside the base with its
 * parents' symlinks followed; an S3 home must have a key prefix (never the whole bucket).
 * Anything else is refused and left as it is.
 */
import { lstat, realpath, rmdir } from 'node:fs/promises';
import { isAbsolute, posix } from 'node:path';
import { FsProvider, type HomeRemoval, type User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { createBackend } from '../vfs/backends.js';
import { DirectVfs } from '../vfs/direct.js';
import { LocalBackend } from '../vfs/local.js';
import { emptyDirectory } from '../vfs/remove-tree.js';

export interface RemoveHomeSettings {
  /** data_provider.users_base_dir: local homes are removed only strictly inside it. */
  usersBaseDir: string;
  /** Opens the sealed S3 secret of an S3 home. */
  secrets: { open(sealed: string): Promise<string> };
}

/** What was there: `entries` removed inside the home, or nothing at all. */
export type RemoveHomeResult = { found: true; entries: number } | { found: false };

/** A removal that must never be done: its home is not one kubesftp may remove. */
export class HomeRemovalRefused extends KubesftpError {
  constructor(message: string) {
    super(ErrorCode.PATH_ESCAPE, message);
    this.name = 'HomeRemovalRefused';
  }
}

/** The home as an account would have it, for the backend factory. */
function accountOf(removal: HomeRemoval): User {
  return {
    id: 1,
    username: removal.username,
    password: '',
    public_keys: [],
    status: 1,
    expiration_date: 0,
    home_dir: removal.home_dir,
    uid: 0,
    gid: 0,
    max_sessions: 0,
    quota_size: 0,
    quota_files: 0,
    permissions: { '/': ['*'] },
    upload_bandwidth: 0,
    download_bandwidth: 0,
    filters: { allowed_ip: [], denied_ip: [] },
    filesystem: removal.filesystem,
    used_quota_size: 0,
    used_quota_files: 0,
    last_quota_update: 0,
    last_login: 0,
  };
}

function strictlyInside(path: string, base: string): boolean {
  return base === '/' ? path !== '/' : path.startsWith(`${base}/`);
}

/** The checked host path of a local home, or undefined when nothing is there. */
async function checkedLocalHome(
  removal: HomeRemoval,
  baseDir: string,
): Promise<string | undefined> {
  const refuse = (why: string): never => {
    throw new HomeRemovalRefused(`not removing the home ${removal.home_dir}: ${why}`);
  };
  if (baseDir === '' || !isAbsolute(baseDir)) refuse('data_provider.users_base_dir is not set');
  const base = posix.normalize(`${baseDir}/`).replace(/\/$/, '') || '/';
  const home = posix.normalize(`${removal.home_dir}/`).replace(/\/$/, '') || '/';
  if (!isAbsolute(removal.home_dir) || !strictlyInside(home, base)) {
    refuse(`it is not inside the homes base ${base}`);
  }
  let stats;
  try {
    stats = await lstat(home);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (stats.isSymbolicLink()) refuse('it is a symlink');
  if (!stats.isDirectory()) refuse('it is not a directory');
  const [realHome, realBase] = await Promise.all([realpath(home), realpath(base)]);
  if (!strictlyInside(realHome, realBase))
    refuse(`it resolves to ${realHome}, outside ${realBase}`);
  return home;
}

async function removeLocalHome(
  removal: HomeRemoval,
  settings: RemoveHomeSettings,
): Promise<RemoveHomeResult> {
  const home = await checkedLocalHome(removal, settings.usersBaseDir);
  if (home === undefined) return { found: false };
  const vfs = new DirectVfs(new LocalBackend({ root: home }));
  let entries: number;
  try {
    entries = await emptyDirectory(vfs, '/');
  } finally {
    await vfs.close();
  }
  // rmdir never follows a symlink and fails on anything written meanwhile: retried later.
  await rmdir(home);
  return { found: true, entries };
}

async function removeS3Home(
  removal: HomeRemoval,
  settings: RemoveHomeSettings,
): Promise<RemoveHomeResult> {
  const config = removal.filesystem.s3config;
  if (config === undefined || config.key_prefix.split('/').every((s) => s === '')) {
    throw new HomeRemovalRefused(
      `not removing the S3 home of ${removal.username}: it has no key prefix (the whole bucket)`,
    );
  }
  const backend = await createBackend(accountOf(removal), {
    umask: 0o022,
    uploadMode: 0,
    setstatMode: 0,
    secrets: settings.secrets,
  });
  const vfs = new DirectVfs(backend);
  let entries: number;
  try {
    entries = await emptyDirectory(vfs, '/');
  } finally {
    await vfs.close();
  }
  const { deleteS3HomeMarker } = await import('../vfs/s3-home-marker.js');
  await deleteS3HomeMarker(config, await settings.secrets.open(config.access_secret));
  return { found: true, entries };
}

/** Removes the home of `removal`; throws HomeRemovalRefused for a home it must not touch. */
export async function removeHome(
  removal: HomeRemoval,
  settings: RemoveHomeSettings,
): Promise<RemoveHomeResult> {
  return removal.filesystem.provider === FsProvider.s3
    ? removeS3Home(removal, settings)
    : removeLocalHome(removal, settings);
}
