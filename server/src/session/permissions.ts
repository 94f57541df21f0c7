import { posix } from 'node:path';
import { PERMISSIONS, type Permission, type User } from '../dataprovider/types.js';
import { isAtOrBelow, parentPath } from '../vfs/virtual-path.js';

/**
 * What each file-system operation needs, and where it is judged: in the directory that holds
 * the entry ("parent"), or in the directory itself ("self", for listing it). Every protocol
 * (SFTP, SCP, commands) goes through these rows in the policy layer, always on the location the
 * backend resolved, symlinks expanded. docs/security.md maps each SFTP request to its rows.
 */
export const OPERATION_RULES = {
  stat: { needs: 'list', judgedIn: 'parent' },
  readlink: { needs: 'list', judgedIn: 'parent' },
  list: { needs: 'list', judgedIn: 'self' },
  download: { needs: 'download', judgedIn: 'parent' },
  upload: { needs: 'upload', judgedIn: 'parent' },
  overwrite: { needs: 'overwrite', judgedIn: 'parent' },
  mkdir: { needs: 'create_dirs', judgedIn: 'parent' },
  rmdir: { needs: 'delete', judgedIn: 'parent' },
  remove: { needs: 'delete', judgedIn: 'parent' },
  rename: { needs: 'rename', judgedIn: 'parent' },
  symlink: { needs: 'create_symlinks', judgedIn: 'parent' },
  link: { needs: 'create_symlinks', judgedIn: 'parent' },
  chmod: { needs: 'chmod', judgedIn: 'parent' },
  chown: { needs: 'chown', judgedIn: 'parent' },
  chtimes: { needs: 'chtimes', judgedIn: 'parent' },
  truncate: { needs: 'overwrite', judgedIn: 'parent' },
} as const satisfies Record<string, { needs: Permission; judgedIn: 'parent' | 'self' }>;

export type Operation = keyof typeof OPERATION_RULES;

/** Operations on an entry's own attributes. */
const ATTRIBUTE_OPERATIONS: ReadonlySet<Operation> = new Set(['chmod', 'chown', 'chtimes']);

const GRANTABLE = PERMISSIONS.filter((perm) => perm !== '*');

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
    return this.allowedIn(perm, parentPath(path));
  }

  /** Whether `operation` on the entry at `path` is allowed. */
  permits(operation: Operation, path: string): boolean {
    return this.allowedIn(OPERATION_RULES[operation].needs, this.judgedDirectory(operation, path));
  }

  /**
   * The directory an operation on `path` is judged in: its parent, or itself for listing. A
   * directory that has a rule of its own is governed by it for its own attributes too, so
   * "/ro": ["list"] keeps "/ro" itself from being chmod'ed by a user with chmod in "/".
   */
  judgedDirectory(operation: Operation, path: string): string {
    if (OPERATION_RULES[operation].judgedIn === 'self') return path;
    if (ATTRIBUTE_OPERATIONS.has(operation) && this.#isRuleDirectory(path)) return path;
    return parentPath(path);
  }

  #isRuleDirectory(path: string): boolean {
    return path !== '/' && this.#byDir.some(([dir]) => dir === path);
  }

  /** True when every permission granted in `dir` is also granted in `than`. */
  grantsNoMore(dir: string, than: string): boolean {
    return GRANTABLE.every((perm) => !this.allowedIn(perm, dir) || this.allowedIn(perm, than));
  }

  /**
   * True when a configured directory other than "/" is `path` or lies below it. Moving such a
   * directory would carry its files out from under their rule, so rename refuses it.
   */
  hasRuleAtOrBelow(path: string): boolean {
    return this.#byDir.some(([dir]) => dir !== '/' && isAtOrBelow(dir, path));
  }

  /**
   * True when every path in the home has all of `perms`: "/" and every configured directory
   * grant them. What acts on the whole home without asking (a system binary) needs this.
   */
  grantsEverywhere(perms: readonly Permission[]): boolean {
    const dirs = this.#byDir.map(([dir]) => dir);
    if (!dirs.includes('/')) return false;
    return dirs.every((dir) => perms.every((perm) => this.allowedIn(perm, dir)));
  }

  #forDir(dir: string): ReadonlySet<Permission> {
    for (const [base, perms] of this.#byDir) {
      if (isAtOrBelow(dir, base)) return perms;
    }
    return new Set();
  }
}
