/**
 * Pure virtual-path arithmetic, shared by every backend: no file system is touched here.
 * A virtual path is absolute, POSIX, normalized, and "/" is the user's home.
 */
import { ErrorCode, KubesftpError } from '../errors.js';

/** Symlinks followed in one resolution before giving up, as the kernel does with ELOOP. */
export const MAX_SYMLINK_HOPS = 40;

/** Path segments without empty names and ".", in order; ".." is kept. */
export function splitSegments(value: string): string[] {
  return value.split('/').filter((segment) => segment !== '' && segment !== '.');
}

export function assertNoNul(value: string): void {
  if (value.includes('\0')) {
    throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'path contains a NUL byte');
  }
}

/**
 * Turns a path received from a client into a virtual path: absolute, POSIX, normalized, with
 * "/" the user's home. Relative paths start at `cwd`; ".." never climbs above "/".
 */
export function toVirtualPath(clientPath: string, cwd = '/'): string {
  assertNoNul(clientPath);
  assertNoNul(cwd);
  const joined = clientPath.startsWith('/') ? clientPath : `${cwd}/${clientPath}`;
  const kept: string[] = [];
  for (const segment of splitSegments(joined)) {
    if (segment === '..') kept.pop();
    else kept.push(segment);
  }
  return `/${kept.join('/')}`;
}

/** The directory holding a virtual path; the root's is the root. */
export function parentPath(virtualPath: string): string {
  const at = virtualPath.lastIndexOf('/');
  return at <= 0 ? '/' : virtualPath.slice(0, at);
}

/** A virtual path one name below `dir`. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** True when `path` is `ancestor` or lies below it. */
export function isAtOrBelow(path: string, ancestor: string): boolean {
  return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`);
}

/** Too many links in one resolution: the kernel says ELOOP, SFTP clients see "no such file". */
export function tooManyLinks(): KubesftpError {
  return new KubesftpError(ErrorCode.NO_SUCH_FILE, 'too many levels of symbolic links');
}
