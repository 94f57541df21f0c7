/**
 * Attribute conversions and setstat for the local backend: node Stats to FileStat, and
 * SetAttrs applied to an open handle or to a resolved host path.
 */
import { constants, type Stats, type StatsFs } from 'node:fs';
import { chmod, chown, lchown, lstat, lutimes, open, utimes } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { FileStat, SetAttrs, StatVfs } from './types.js';

/** setstat_mode: 0 applies every attribute, 1 silently ignores mode, owner and times. */
export type SetstatMode = 0 | 1;

/** Owner given to new files and directories (only when the server runs as root). */
export interface NewFileOwner {
  uid: number;
  gid: number;
}

const PERMISSION_BITS = 0o7777;

export function toFileStat(stats: Stats): FileStat {
  return {
    size: stats.size,
    uid: stats.uid,
    gid: stats.gid,
    mode: stats.mode,
    atime: Math.floor(stats.atimeMs / 1000),
    mtime: Math.floor(stats.mtimeMs / 1000),
    nlink: stats.nlink,
  };
}

export function toStatVfs(stats: StatsFs): StatVfs {
  return {
    bsize: stats.bsize,
    frsize: stats.bsize,
    blocks: stats.blocks,
    bfree: stats.bfree,
    bavail: stats.bavail,
    files: stats.files,
    ffree: stats.ffree,
    favail: stats.ffree,
    fsid: 0,
    flag: 0,
    namemax: 255,
  };
}

/** Permission bits for a new entry: the client's (or the default) with the umask cleared. */
export function creationMode(
  requested: number | undefined,
  fallback: number,
  umask: number,
): number {
  return (requested ?? fallback) & PERMISSION_BITS & ~umask;
}

/** The owner for new entries, or undefined when it should not (or cannot) be changed. */
export function newFileOwner(
  uid: number | undefined,
  gid: number | undefined,
): NewFileOwner | undefined {
  const wanted = (uid ?? 0) > 0 || (gid ?? 0) > 0;
  if (!wanted || process.getuid?.() !== 0) return undefined;
  return { uid: (uid ?? 0) > 0 ? (uid as number) : -1, gid: (gid ?? 0) > 0 ? (gid as number) : -1 };
}

/** Only the size survives ignore mode: truncation is data, not metadata. */
function effectiveAttrs(attrs: SetAttrs, setstatMode: SetstatMode): SetAttrs {
  return setstatMode === 1 ? { size: attrs.size } : attrs;
}

function hasOwner(attrs: SetAttrs): boolean {
  return attrs.uid !== undefined || attrs.gid !== undefined;
}

function hasTimes(attrs: SetAttrs): boolean {
  return attrs.atime !== undefined || attrs.mtime !== undefined;
}

/** Both times, taking a missing one from the current stat. */
function bothTimes(attrs: SetAttrs, current: Stats): [number, number] {
  return [attrs.atime ?? current.atimeMs / 1000, attrs.mtime ?? current.mtimeMs / 1000];
}

export async function applyAttrsToHandle(
  handle: FileHandle,
  attrs: SetAttrs,
  setstatMode: SetstatMode,
): Promise<void> {
  const wanted = effectiveAttrs(attrs, setstatMode);
  if (wanted.size !== undefined) await handle.truncate(wanted.size);
  if (wanted.mode !== undefined) await handle.chmod(wanted.mode & PERMISSION_BITS);
  if (hasOwner(wanted)) await handle.chown(wanted.uid ?? -1, wanted.gid ?? -1);
  if (hasTimes(wanted)) await handle.utimes(...bothTimes(wanted, await handle.stat()));
}

/** Truncates through a descriptor opened without following, so a late symlink is refused. */
async function truncateNoFollow(hostPath: string, size: number): Promise<void> {
  const handle = await open(hostPath, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/**
 * Applies attributes to a resolved host path. `onLink` is true for lsetstat on a symlink: owner
 * and times go to the link itself; Linux cannot change a link's mode or size.
 */
export async function applyAttrsToPath(options: {
  hostPath: string;
  attrs: SetAttrs;
  setstatMode: SetstatMode;
  onLink: boolean;
}): Promise<void> {
  const { hostPath, onLink } = options;
  const wanted = effectiveAttrs(options.attrs, options.setstatMode);
  if (onLink && (wanted.size !== undefined || wanted.mode !== undefined)) {
    throw new KubesftpError(ErrorCode.UNSUPPORTED, 'a symlink has no own size or mode');
  }
  if (wanted.size !== undefined) await truncateNoFollow(hostPath, wanted.size);
  if (wanted.mode !== undefined) await chmod(hostPath, wanted.mode & PERMISSION_BITS);
  if (hasOwner(wanted)) {
    await (onLink ? lchown : chown)(hostPath, wanted.uid ?? -1, wanted.gid ?? -1);
  }
  if (hasTimes(wanted)) {
    const times = bothTimes(wanted, await lstat(hostPath));
    await (onLink ? lutimes : utimes)(hostPath, ...times);
  }
}
