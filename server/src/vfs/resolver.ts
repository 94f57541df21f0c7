/**
 * The one place where client paths become virtual paths and virtual paths become host paths.
 *
 * Symlink policy: a link target is read as if the process were chrooted into the user's root.
 * An absolute target starts at the root and `..` stops at the root, so no link, whatever it
 * says and whoever planted it, can lead outside. This matches what users of an OpenSSH
 * ChrootDirectory see, keeps links made by rsync, git or the client working, and makes a link to
 * "/etc" mean "<root>/etc". PATH_ESCAPE is therefore only raised for host paths found outside the
 * root after the fact: by toVirtual() and by the check on an opened handle.
 *
 * Residual race (TOCTOU): resolve() checks every component, then the caller acts on the host
 * path. A process that swaps a checked directory for a symlink in between could redirect the
 * call. Callers narrow this by never following the final component (O_NOFOLLOW, lstat) and by
 * asserting where an opened handle really is (assertHandleInside). Node has no openat2
 * RESOLVE_IN_ROOT, which would close the race completely.
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';

/** Symlinks followed in one resolution before giving up, as the kernel does with ELOOP. */
export const MAX_SYMLINK_HOPS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component (stat, open) or act on the link itself (lstat). */
  followFinal: boolean;
}

/** Path segments without empty names and ".", in order; ".." is kept. */
function splitSegments(value: string): string[] {
  return value.split('/').filter((segment) => segment !== '' && segment !== '.');
}

function assertNoNul(value: string): void {
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

async function lstatOrNull(hostPath: string): Promise<Stats | null> {
  try {
    return await lstat(hostPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw toKubesftpError(err);
  }
}

/** One resolution in progress: names already checked, and names still to walk (a stack). */
interface Walk {
  resolved: string[];
  pending: string[];
  hops: number;
  followFinal: boolean;
}

export class RootResolver {
  readonly #configuredRoot: string;
  #realRoot: string | undefined;

  /** @param root absolute host path of the user's home directory. */
  constructor(root: string) {
    if (!path.isAbsolute(root)) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'the root must be an absolute path');
    }
    assertNoNul(root);
    this.#configuredRoot = path.resolve(root);
  }

  /** The root as a host path with its own symlinks resolved (the root itself is trusted). */
  async hostRoot(): Promise<string> {
    if (this.#realRoot === undefined) {
      try {
        this.#realRoot = await realpath(this.#configuredRoot);
      } catch (err) {
        throw toKubesftpError(err);
      }
    }
    return this.#realRoot;
  }

  /**
   * Maps a virtual path to a host path inside the root. Every existing component is checked
   * with lstat and symlinks are expanded confined to the root. Only the last component may be
   * missing (to be created); a missing middle component is NO_SUCH_FILE, like the kernel says.
   */
  async resolve(virtualPath: string, options: ResolveOptions): Promise<string> {
    const root = await this.hostRoot();
    const walk: Walk = {
      resolved: [],
      pending: splitSegments(toVirtualPath(virtualPath)).reverse(),
      hops: 0,
      followFinal: options.followFinal,
    };
    while (walk.pending.length > 0) {
      await this.#step(root, walk);
    }
    return path.join(root, ...walk.resolved);
  }

  async #step(root: string, walk: Walk): Promise<void> {
    const name = walk.pending.pop() as string;
    if (name === '..') {
      // Only link targets carry "..": the resolved names are real directories, so popping one
      // is the physical parent, and an empty list is the root, where ".." stays.
      walk.resolved.pop();
      return;
    }
    const isLast = walk.pending.length === 0;
    const hostPath = path.join(root, ...walk.resolved, name);
    const stats = await lstatOrNull(hostPath);
    if (stats === null) {
      if (!isLast) throw new KubesftpError(ErrorCode.NO_SUCH_FILE, 'no such file or directory');
      walk.resolved.push(name);
      return;
    }
    if (stats.isSymbolicLink() && (!isLast || walk.followFinal)) {
      await this.#expandLink(hostPath, walk);
      return;
    }
    if (!isLast && !stats.isDirectory()) {
      throw new KubesftpError(ErrorCode.NOT_A_DIRECTORY, 'not a directory');
    }
    walk.resolved.push(name);
  }

  async #expandLink(hostPath: string, walk: Walk): Promise<void> {
    walk.hops += 1;
    if (walk.hops > MAX_SYMLINK_HOPS) {
      throw new KubesftpError(ErrorCode.NO_SUCH_FILE, 'too many levels of symbolic links');
    }
    let target: string;
    try {
      target = await readlink(hostPath);
    } catch (err) {
      throw toKubesftpError(err);
    }
    // As inside a chroot: an absolute target starts again at the root.
    if (target.startsWith('/')) walk.resolved.length = 0;
    walk.pending.push(...splitSegments(target).reverse());
  }

  /** True when `hostPath` is the root or below it (lexically; pass resolved paths only). */
  contains(hostPath: string): boolean {
    return this.#relativeInside(hostPath) !== null;
  }

  /** True when `hostPath` is the root directory itself. */
  isRoot(hostPath: string): boolean {
    return this.#relativeInside(hostPath) === '';
  }

  /** The virtual path of a host path inside the root; PATH_ESCAPE for anything else. */
  toVirtual(hostPath: string): string {
    const relative = this.#relativeInside(hostPath);
    if (relative === null) {
      throw new KubesftpError(ErrorCode.PATH_ESCAPE, 'path is outside the root');
    }
    return `/${relative.split(path.sep).join('/')}`;
  }

  /**
   * Checks where an opened descriptor really points (Linux /proc), which catches a component
   * swapped for a symlink between resolve() and open(). Skipped where /proc is not mounted.
   */
  async assertHandleInside(fd: number): Promise<void> {
    let opened: string;
    try {
      opened = await readlink(`/proc/self/fd/${fd}`);
    } catch {
      return;
    }
    if (!this.contains(opened.replace(/ \(deleted\)$/, ''))) {
      throw new KubesftpError(ErrorCode.PATH_ESCAPE, 'opened file is outside the root');
    }
  }

  #relativeInside(hostPath: string): string | null {
    const roots = [this.#realRoot, this.#configuredRoot];
    for (const root of roots) {
      if (root === undefined) continue;
      const relative = path.relative(root, path.resolve(hostPath));
      const outside =
        relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
      if (!outside) return relative;
    }
    return null;
  }
}
