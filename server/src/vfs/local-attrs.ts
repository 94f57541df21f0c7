/**
 * Attribute conversions and setstat for the local backend: node Stats to FileStat, and
 * SetAttrs applied to an open handle or to a located entry without following it.
 */
import {
  fchmod,
  fchown,
  ftruncate,
  futimes,
  readFileSync,
  type Stats,
  type StatsFs,
} from 'node:fs';
import { chmod, chown, lchown, lutimes, truncate, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../errors.js';
import { ENTRY_PATH_FLAGS, closeFd, fstatFd, ofDescriptor, openFd } from './fd.js';
import type { LocalLocation } from './local-resolver.js';
import { SETTABLE_MODE_BITS, type FileStat, type SetAttrs, type StatVfs } from './types.js';

/** setstat_mode: 0 applies every attribute, 1 silently ignores mode, owner and times. */
export type SetstatMode = 0 | 1;

/** Owner given to new files and directories (only when the server runs as root). */
export interface NewFileOwner {
  uid: number;
  gid: number;
}

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
  return (requested ?? fallback) & SETTABLE_MODE_BITS & ~umask;
}

let processUmask: number | undefined;

/**
 * The process umask, read once from /proc (process.umask() without an argument is deprecated:
 * it reads by setting). The server never changes it.
 */
function currentUmask(): number {
  if (processUmask === undefined) {
    const status = readFileSync('/proc/self/status', 'utf8');
    const found = /^Umask:\s+([0-7]+)$/m.exec(status)?.[1];
    // Unknown: assume it clears everything, so every new entry gets an explicit chmod.
    processUmask = found === undefined ? 0o7777 : parseInt(found, 8);
  }
  return processUmask;
}

/**
 * Whether open(2) or mkdir(2) with `mode` already gives the entry exactly `mode`: no special
 * bits (the kernel may drop setgid) and none the process umask clears. Then the chmod after
 * creation, a thread-pool trip per uploaded file, can be skipped.
 */
export function createdWithExactMode(mode: number): boolean {
  return (mode & ~0o777) === 0 && (mode & currentUmask()) === 0;
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

const onFd = {
  truncate: promisify(ftruncate),
  chmod: promisify(fchmod),
  chown: promisify(fchown),
  utimes: promisify(futimes),
};

/** Applies attributes to the open file `fd` (an FSETSTAT). */
export async function applyAttrsToFd(
  fd: number,
  attrs: SetAttrs,
  setstatMode: SetstatMode,
): Promise<void> {
  const wanted = effectiveAttrs(attrs, setstatMode);
  if (wanted.size !== undefined) await onFd.truncate(fd, wanted.size);
  if (wanted.mode !== undefined) await onFd.chmod(fd, wanted.mode & SETTABLE_MODE_BITS);
  if (hasOwner(wanted)) await onFd.chown(fd, wanted.uid ?? -1, wanted.gid ?? -1);
  if (hasTimes(wanted)) await onFd.utimes(fd, ...bothTimes(wanted, await fstatFd(fd)));
}

function hasAny(attrs: SetAttrs): boolean {
  return attrs.size !== undefined || attrs.mode !== undefined || hasOwner(attrs) || hasTimes(attrs);
}

/** Owner and times of a symlink itself; Linux gives a link no mode or size of its own. */
async function applyToLink(at: LocalLocation, attrs: SetAttrs, current: Stats): Promise<void> {
  if (attrs.size !== undefined || attrs.mode !== undefined) {
    throw new KubesftpError(ErrorCode.UNSUPPORTED, 'a symlink has no own size or mode');
  }
  if (hasOwner(attrs)) await lchown(at.hostPath, attrs.uid ?? -1, attrs.gid ?? -1);
  if (hasTimes(attrs)) await lutimes(at.hostPath, ...bothTimes(attrs, current));
}

/** Acts on the inode an O_PATH descriptor holds: `/proc/self/fd/N` leads to it and no further. */
async function applyToEntry(fd: number, attrs: SetAttrs, current: Stats): Promise<void> {
  const entry = ofDescriptor(fd);
  if (attrs.size !== undefined) {
    if (!current.isFile()) throw new KubesftpError(ErrorCode.IS_A_DIRECTORY, 'not a regular file');
    await truncate(entry, attrs.size);
  }
  if (attrs.mode !== undefined) await chmod(entry, attrs.mode & SETTABLE_MODE_BITS);
  if (hasOwner(attrs)) await chown(entry, attrs.uid ?? -1, attrs.gid ?? -1);
  if (hasTimes(attrs)) await utimes(entry, ...bothTimes(attrs, current));
}

/**
 * Applies attributes to a located entry without following it: the entry is pinned by an O_PATH
 * descriptor first, so a name swapped for a symlink afterwards changes nothing elsewhere.
 */
export async function applyAttrsAt(
  at: LocalLocation,
  attrs: SetAttrs,
  setstatMode: SetstatMode,
): Promise<void> {
  const wanted = effectiveAttrs(attrs, setstatMode);
  if (!hasAny(wanted)) return;
  const fd = await openFd(at.hostPath, ENTRY_PATH_FLAGS);
  try {
    const current = await fstatFd(fd);
    if (current.isSymbolicLink()) await applyToLink(at, wanted, current);
    else await applyToEntry(fd, wanted, current);
  } finally {
    closeFd(fd);
  }
}
