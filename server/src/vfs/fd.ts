/**
 * Numeric file descriptors for the local backend's resolver, and the /proc paths that act
 * relative to them.
 *
 * Node has no openat(2). On Linux `/proc/self/fd/<dirfd>/<name>` gives the same effect: the
 * kernel jumps to the directory the descriptor holds (wherever it has been moved since) and
 * looks up only `name` there, so a name checked once cannot be redirected by swapping a
 * directory on the way for a symlink. The callback API is used rather than fs/promises'
 * FileHandle objects: a descriptor lives for one request and wants no finalizer.
 * (libuv opens every descriptor with O_CLOEXEC itself, so none leaks into a child process.)
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import { ErrorCode, KubesftpError } from '../errors.js';

/** Linux O_PATH: a descriptor that names a place without opening its contents. */
export const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW } = constants;

/** A directory to look names up in, never following a final symlink. */
export const DIRECTORY_PATH_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW;
/** Any entry, a symlink itself included. */
export const ENTRY_PATH_FLAGS = O_PATH | O_NOFOLLOW;

/**
 * Runs a metadata system call at once, on the event loop, as a settled promise: decision 0020.
 * These calls (O_PATH opens, lstat, fstat) only look names up and read inodes, which a local
 * file system answers from its caches in microseconds, while a trip through libuv's thread
 * pool costs two thread switches and a loop wake-up each, several of them per small file.
 */
export function atOnce<A extends unknown[], T>(
  call: (...args: A) => T,
): (...args: A) => Promise<T> {
  // The executor runs at once; a throw in it rejects the promise.
  return (...args) => new Promise((resolve) => resolve(call(...args)));
}

/** Opens a place or a directory (O_PATH or O_DIRECTORY): never a file's contents. */
export const openFd = atOnce((path: string, flags: number, mode?: number): number =>
  openSync(path, flags, mode),
);
export const fstatFd = atOnce((fd: number): Stats => fstatSync(fd));
export const lstatPath = atOnce((path: string): Stats => lstatSync(path));
/**
 * lstat where nothing there is an answer, not a failure: null then. A missing name is the
 * usual case for an upload, and building the ENOENT error with its stack cost more than the
 * system call.
 */
export function lstatOrNullSync(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}
/** lstatOrNullSync for a caller that awaits: still run at once, on the event loop. */
export const lstatOrNull = atOnce(lstatOrNullSync);

/**
 * Closes at once (decision 0026): closing a place or directory descriptor only drops a reference,
 * and handing it to the thread pool woke a pool thread and then the loop, once per request.
 * The number is never used again, and a failed close changes nothing.
 */
export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF or EINTR: nothing to retry (Linux releases the descriptor either way).
  }
}

/**
 * This process's descriptor directory, named by the number that /proc/self points to (as this
 * /proc mount numbers it), so that no lookup has to follow the "self" link first: a listing of
 * 2000 names pays 2000 fewer link walks.
 */
const OWN_FD_DIR = `/proc/${ownProcName()}/fd`;

function ownProcName(): string {
  try {
    return readlinkSync('/proc/self');
  } catch {
    return 'self'; // no /proc: assertProcFdAvailable says so at start
  }
}

/** The path of `name` inside the directory `dirFd` holds. */
export function inDirectory(dirFd: number, name: string): string {
  return `${OWN_FD_DIR}/${dirFd}/${name}`;
}

/** The path of the entry `fd` holds itself. */
export function ofDescriptor(fd: number): string {
  return `${OWN_FD_DIR}/${fd}`;
}

/** Fails when /proc is not mounted: the local backend cannot confine paths without it. */
export async function assertProcFdAvailable(): Promise<void> {
  let fd: number | undefined;
  try {
    fd = await openFd('/', DIRECTORY_PATH_FLAGS);
    await fstatFd(fd);
    await lstatPath(inDirectory(fd, '.'));
  } catch (err) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      'local homes need Linux with /proc mounted (paths are confined through /proc/self/fd)',
      { cause: err },
    );
  } finally {
    if (fd !== undefined) closeFd(fd);
  }
}
