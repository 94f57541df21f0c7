import { posix } from 'node:path';
import type { Permission, User } from '../dataprovider/types.js';

/**
 * Per-directory permissions: a path gets the permissions of the deepest configured directory
 * that contains it ("/" always exists). Checks on a file use its parent directory, as SFTPGo
 * does: uploading `/in/a.txt` needs `upload` on `/in`.
 */
export class Permissions {
  readonly #byDir: [string, ReadonlySet<Permission>][];

  constructor(permissions: User['permissions']) {
    // Deepest directories first so the first match wins.
    this.#byDir = Object.entries(permissions)
      .map(([dir, perms]): [string, ReadonlySet<Permission>] => [
        posix.normalize(dir).replace(/(.)\/$/, '$1'),
        new Set(perms),
      ])
      .sort((a, b) => b[0].length - a[0].length);
  }

  /** Whether `perm` is granted in directory `dir` (a virtual directory path). */
  allowedIn(perm: Permission, dir: string): boolean {
    const perms = this.#forDir(dir);
    return perms.has('*') || perms.has(perm);
  }

  /** Whether `perm` is granted for an item at `path`, judged by its parent directory. */
  allowedFor(perm: Permission, path: string): boolean {
    return this.allowedIn(perm, posix.dirname(path));
  }

  #forDir(dir: string): ReadonlySet<Permission> {
    for (const [base, perms] of this.#byDir) {
      if (dir === base || base === '/' || dir.startsWith(`${base}/`)) return perms;
    }
    return new Set();
  }
}
