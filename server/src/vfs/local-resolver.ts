/**
 * The local backend's resolver: virtual paths become Locations, each holding a descriptor of
 * the directory that contains the final name.
 *
 * The walk starts at a descriptor of the home and opens one name at a time relative to the
 * directory descriptor reached so far, never following a symlink by itself (see fd.ts). A
 * symlink is read and expanded here, as if the process were chrooted into the home: an
 * absolute target starts again at the home and ".." stops there. So no link, whoever planted it
 * and whatever it says, leads outside; and an operation that later acts on
 * `<directory descriptor>/<name>` acts where this walk looked, whatever is renamed or swapped
 * for a link meanwhile. See docs/decisions/0002-symlinks-as-in-a-chroot.md.
 */
import type { Stats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import { DIRECTORY_PATH_FLAGS, closeFd, inDirectory, lstatOrNull, openFd } from './fd.js';
import type { LocateOptions, Location } from './types.js';
import {
  MAX_SYMLINK_HOPS,
  childPath,
  splitSegments,
  toVirtualPath,
  tooManyLinks,
} from './virtual-path.js';

/** A directory descriptor shared by the walk and the locations that use it; closed at zero. */
export class DirRef {
  readonly fd: number;
  #refs = 1;

  constructor(fd: number) {
    this.fd = fd;
  }

  retain(): this {
    if (this.#refs <= 0) throw new KubesftpError(ErrorCode.FAILURE, 'directory already closed');
    this.#refs += 1;
    return this;
  }

  release(): void {
    if (this.#refs <= 0) return;
    this.#refs -= 1;
    if (this.#refs === 0) closeFd(this.fd);
  }
}

/** A place in the home: the directory that holds it and its name there ("." for the home). */
export class LocalLocation implements Location {
  readonly path: string;
  readonly dir: DirRef;
  readonly name: string;
  #released = false;
  /** What the walk's lstat of the final name saw: null for nothing there, undefined unknown. */
  #seen: Stats | null | undefined;

  constructor(options: { path: string; dir: DirRef; name: string; seen?: Stats | null }) {
    this.path = options.path;
    this.dir = options.dir;
    this.name = options.name;
    this.#seen = options.seen;
  }

  /**
   * The lstat the walk made of the final name, given out once: the request that located this
   * place may use it instead of asking the kernel again (one thread-pool trip less per OPEN or
   * STAT). It is as fresh as a second lstat would be; later uses of the location look again.
   */
  takeSeenStat(): Stats | null | undefined {
    const seen = this.#seen;
    this.#seen = undefined;
    return seen;
  }

  /** Where system calls act: `name` inside the held directory, never re-resolved from the home. */
  get hostPath(): string {
    return inDirectory(this.dir.fd, this.name);
  }

  /** The path of a sibling entry (an atomic upload's temp file). */
  sibling(name: string): string {
    return inDirectory(this.dir.fd, name);
  }

  get isHome(): boolean {
    return this.path === '/';
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.dir.release();
  }
}

/** One resolution in progress: the directories entered (home first) and names still to walk. */
class Walk {
  readonly dirs: DirRef[];
  readonly names: string[] = [];
  readonly pending: string[];
  hops = 0;

  constructor(home: DirRef, virtualPath: string) {
    this.dirs = [home.retain()];
    this.pending = splitSegments(toVirtualPath(virtualPath)).reverse();
  }

  get current(): DirRef {
    return this.dirs[this.dirs.length - 1]!;
  }

  enter(dir: DirRef, name: string): void {
    this.dirs.push(dir);
    this.names.push(name);
  }

  /** "..": the physical parent of where the walk is, and the home's parent is the home. */
  up(): void {
    if (this.dirs.length <= 1) return;
    this.dirs.pop()!.release();
    this.names.pop();
  }

  /** An absolute link target: back to the home. */
  toHome(): void {
    while (this.dirs.length > 1) this.up();
  }

  expand(target: string): void {
    this.hops += 1;
    if (this.hops > MAX_SYMLINK_HOPS) throw tooManyLinks();
    if (target.startsWith('/')) this.toHome();
    this.pending.push(...splitSegments(target).reverse());
  }

  /** The location of `name` in the current directory, or of the current directory itself. */
  locationOf(name: string | null, seen?: Stats | null): LocalLocation {
    if (name !== null) {
      const path = childPath(`/${this.names.join('/')}`, name);
      return new LocalLocation({ path, dir: this.current.retain(), name, seen });
    }
    if (this.dirs.length === 1) {
      return new LocalLocation({ path: '/', dir: this.current.retain(), name: '.' });
    }
    // Ended on a directory reached through a link: name it from its parent.
    const last = this.names[this.names.length - 1]!;
    const parent = this.dirs[this.dirs.length - 2]!;
    const path = `/${this.names.join('/')}`;
    return new LocalLocation({ path, dir: parent.retain(), name: last });
  }

  releaseAll(): void {
    for (const dir of this.dirs.splice(0)) dir.release();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

export class RootResolver {
  readonly #root: string;
  #home: Promise<DirRef> | undefined;
  #closed = false;

  /** @param root absolute host path of the user's home directory (trusted, from the account). */
  constructor(root: string) {
    if (!root.startsWith('/')) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'the root must be an absolute path');
    }
    if (root.includes('\0')) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'the root contains a NUL byte');
    }
    this.#root = root;
  }

  #homeRef(): Promise<DirRef> {
    if (this.#closed) {
      return Promise.reject(new KubesftpError(ErrorCode.FAILURE, 'the session has ended'));
    }
    const pending = (this.#home ??= openFd(this.#root, DIRECTORY_PATH_FLAGS).then(
      (fd) => new DirRef(fd),
    ));
    // A home that could not be opened is tried again on the next request.
    pending.catch(() => {
      if (this.#home === pending) this.#home = undefined;
    });
    return pending;
  }

  /**
   * Resolves a virtual path to a Location. Only the final name may be missing (to be created);
   * a missing or non-directory name on the way fails as the kernel would.
   */
  async locate(virtualPath: string, options: LocateOptions): Promise<LocalLocation> {
    let walk: Walk;
    try {
      walk = new Walk(await this.#homeRef(), virtualPath);
    } catch (err) {
      throw toKubesftpError(err);
    }
    try {
      return await this.#walk(walk, options.followFinal);
    } catch (err) {
      throw toKubesftpError(err);
    } finally {
      walk.releaseAll();
    }
  }

  async #walk(walk: Walk, followFinal: boolean): Promise<LocalLocation> {
    while (walk.pending.length > 0) {
      const name = walk.pending.pop()!;
      if (name === '..') {
        walk.up();
        continue;
      }
      if (walk.pending.length > 0) {
        await this.#enter(walk, name);
        continue;
      }
      if (!followFinal) return walk.locationOf(name);
      const link = await this.#lookAt(walk.current, name);
      if (link.target === null) return walk.locationOf(name, link.seen);
      walk.expand(link.target);
    }
    return walk.locationOf(null);
  }

  /** Opens a directory on the way, or expands the symlink found there. */
  async #enter(walk: Walk, name: string): Promise<void> {
    const path = inDirectory(walk.current.fd, name);
    try {
      walk.enter(new DirRef(await openFd(path, DIRECTORY_PATH_FLAGS)), name);
      return;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        throw new KubesftpError(ErrorCode.NO_SUCH_FILE, 'no such file or directory');
      }
      if (!isErrno(err, 'ENOTDIR') && !isErrno(err, 'ELOOP')) throw err;
    }
    const { target } = await this.#lookAt(walk.current, name);
    if (target === null) throw new KubesftpError(ErrorCode.NOT_A_DIRECTORY, 'not a directory');
    walk.expand(target);
  }

  /**
   * The target of `name` when it is a symlink (null for anything else or nothing), and what
   * its lstat saw when it is no link: the stat, null when nothing is there, undefined unknown.
   */
  async #lookAt(
    dir: DirRef,
    name: string,
  ): Promise<{ target: string | null; seen?: Stats | null }> {
    const path = inDirectory(dir.fd, name);
    const stats = await lstatOrNull(path);
    if (stats === null) return { target: null, seen: null };
    if (!stats.isSymbolicLink()) return { target: null, seen: stats };
    try {
      return { target: await readlink(path) };
    } catch (err) {
      // Gone, or replaced by a non-link since: it is no link to expand.
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EINVAL')) return { target: null };
      throw err;
    }
  }

  /** Closes the home's descriptor once every location using it is released. */
  async close(): Promise<void> {
    this.#closed = true;
    const home = this.#home;
    this.#home = undefined;
    if (home !== undefined) (await home.catch(() => undefined))?.release();
  }
}
