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
import { close, constants, fstat, lstat, open, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../errors.js';

/** Linux O_PATH: a descriptor that names a place without opening its contents. */
export const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW } = constants;

/** A directory to look names up in, never following a final symlink. */
export const DIRECTORY_PATH_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW;
/** Any entry, a symlink itself included. */
export const ENTRY_PATH_FLAGS = O_PATH | O_NOFOLLOW;

export const openFd = promisify(open) as (
  path: string,
  flags: number,
  mode?: number,
) => Promise<number>;
export const fstatFd = promisify(fstat) as (fd: number) => Promise<Stats>;
export const lstatPath = promisify(lstat) as (path: string) => Promise<Stats>;

/** Closes without waiting: the number is never used again, and a failed close changes nothing. */
export function closeFd(fd: number): void {
  close(fd, () => undefined);
}

/** The path of `name` inside the directory `dirFd` holds. */
export function inDirectory(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

/** The path of the entry `fd` holds itself. */
export function ofDescriptor(fd: number): string {
  return `/proc/self/fd/${fd}`;
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
