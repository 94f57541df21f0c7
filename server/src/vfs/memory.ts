/**
 * An in-memory backend: the reference for protocol tests and a scratch home for trials.
 * POSIX-like semantics (ENOENT, EEXIST, ENOTEMPTY, symlinks, hardlinks) with virtual paths only.
 * A Location holds the directory node that contains its name, as the local backend holds a
 * directory descriptor, so both behave alike when names change between locate and use.
 */
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import { DirectVfs } from './direct.js';
import {
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SETTABLE_MODE_BITS,
  type Backend,
  type DirEntry,
  type FileStat,
  type LocateOptions,
  type Location,
  type OpenFlags,
  type RenameOptions,
  type SetAttrs,
  type StatVfs,
  type VfsCapabilities,
  type VfsDir,
  type VfsFile,
  type WriteData,
  writeLength,
} from './types.js';
import { MAX_SYMLINK_HOPS, childPath, splitSegments, tooManyLinks } from './virtual-path.js';

const NAME_MAX = 255;
const BLOCK_SIZE = 4096;

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  nlink: number;
}
interface FileNode extends Meta {
  kind: 'file';
  /** Bytes [0, size) are the content; the rest is spare capacity for appends. */
  data: Buffer;
  size: number;
  /** Bound from MemoryVfsOptions.maxFileSize, kept on the node so growth can check it. */
  maxSize: number;
}
interface DirNode extends Meta {
  kind: 'dir';
  entries: Map<string, Node>;
  parent: DirNode | null;
  /** Removed from the tree: nothing may be created in it any more. */
  detached: boolean;
}
interface LinkNode extends Meta {
  kind: 'symlink';
  target: string;
}
type Node = FileNode | DirNode | LinkNode;

export interface MemoryVfsOptions {
  uid?: number;
  gid?: number;
  /** Size reported by statvfs, in bytes. */
  capacity?: number;
  /** Largest file size accepted, in bytes; writes past it fail with QUOTA_EXCEEDED. */
  maxFileSize?: number;
  /** Cleared from the mode of new files and directories, as a process umask; default 0o022. */
  umask?: number;
  capabilities?: Partial<VfsCapabilities>;
}

const ALL_CAPABILITIES: VfsCapabilities = {
  symlinks: true,
  hardlinks: true,
  posixRename: true,
  statvfs: true,
  fsync: true,
  chmod: true,
  chown: true,
  chtimes: true,
  atomicUpload: false,
  resumeUpload: true,
};

function fail(code: ErrorCode, message: string): never {
  throw new KubesftpError(code, message);
}

/** Runs synchronous work and reports a throw as a rejected promise, without an extra tick. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(toKubesftpError(err));
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function statOf(node: Node): FileStat {
  const type = node.kind === 'dir' ? S_IFDIR : node.kind === 'file' ? S_IFREG : S_IFLNK;
  const size =
    node.kind === 'file' ? node.size : node.kind === 'symlink' ? node.target.length : 4096;
  return {
    size,
    uid: node.uid,
    gid: node.gid,
    mode: type | (node.mode & 0o7777),
    atime: node.atime,
    mtime: node.mtime,
    nlink: node.nlink,
  };
}

function checkName(name: string): void {
  if (Buffer.byteLength(name) > NAME_MAX) fail(ErrorCode.INVALID_ARGUMENT, 'name too long');
}

/** Grows the backing buffer (doubling, so appends stay amortized); never past maxSize. */
function ensureCapacity(node: FileNode, size: number): void {
  if (size > node.maxSize) {
    fail(ErrorCode.QUOTA_EXCEEDED, `file would exceed ${node.maxSize} bytes`);
  }
  if (size <= node.data.length) return;
  const spare = Math.min(node.maxSize, Math.max(node.data.length * 2, 4096));
  const grown = Buffer.allocUnsafe(Math.max(size, spare));
  node.data.copy(grown, 0, 0, node.size);
  node.data = grown;
}

/** Sets the size; bytes between the old end and the new one read as zeros. */
function resize(node: FileNode, size: number): void {
  ensureCapacity(node, size);
  if (size > node.size) node.data.fill(0, node.size, size);
  node.size = size;
}

function applyAttrs(node: Node, attrs: SetAttrs): void {
  if (attrs.size !== undefined) {
    if (node.kind === 'symlink') fail(ErrorCode.UNSUPPORTED, 'a symlink has no own size');
    if (node.kind !== 'file') fail(ErrorCode.IS_A_DIRECTORY, 'size applies to files only');
    resize(node, attrs.size);
  }
  if (attrs.mode !== undefined) {
    if (node.kind === 'symlink') fail(ErrorCode.UNSUPPORTED, 'a symlink has no own mode');
    node.mode = attrs.mode & SETTABLE_MODE_BITS;
  }
  if (attrs.uid !== undefined) node.uid = attrs.uid;
  if (attrs.gid !== undefined) node.gid = attrs.gid;
  if (attrs.atime !== undefined) node.atime = attrs.atime;
  if (attrs.mtime !== undefined) node.mtime = attrs.mtime;
}

class MemoryFile implements VfsFile {
  readonly #node: FileNode;
  readonly #flags: OpenFlags;
  #open = true;

  constructor(node: FileNode, flags: OpenFlags) {
    this.#node = node;
    this.#flags = flags;
  }

  #check(access: 'read' | 'write'): void {
    if (!this.#open) fail(ErrorCode.FAILURE, 'file is closed');
    if (!this.#flags[access]) fail(ErrorCode.PERMISSION_DENIED, `file not opened for ${access}`);
  }

  read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    return settle(() => {
      this.#check('read');
      const node = this.#node;
      const end = Math.min(node.size, position + length);
      if (position >= end) return Buffer.alloc(0);
      // A copy: the caller may hold the bytes while later writes change the file.
      const bytes = node.data.subarray(position, end);
      if (into === undefined) return Buffer.from(bytes);
      return into.subarray(0, bytes.copy(into));
    });
  }

  write(data: WriteData, position: number): Promise<void> {
    return settle(() => {
      this.#check('write');
      const node = this.#node;
      const at = this.#flags.append ? node.size : position;
      const end = at + writeLength(data);
      ensureCapacity(node, end);
      // Only a gap before the new data needs zeros; the data itself overwrites the rest.
      if (at > node.size) node.data.fill(0, node.size, at);
      let into = at;
      for (const chunk of Buffer.isBuffer(data) ? [data] : data) {
        into += chunk.copy(node.data, into);
      }
      if (end > node.size) node.size = end;
      node.mtime = now();
    });
  }

  stat(): Promise<FileStat> {
    return Promise.resolve(statOf(this.#node));
  }

  setstat(attrs: SetAttrs): Promise<void> {
    return settle(() => {
      if (!this.#open) fail(ErrorCode.FAILURE, 'file is closed');
      applyAttrs(this.#node, attrs);
    });
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#open = false;
    return Promise.resolve();
  }

  abort(): Promise<void> {
    this.#open = false;
    return Promise.resolve();
  }
}

class MemoryDir implements VfsDir {
  readonly #node: DirNode;
  readonly #names: string[];
  #at = 0;

  constructor(node: DirNode) {
    this.#node = node;
    this.#names = [...node.entries.keys()];
  }

  stat(): Promise<FileStat> {
    return Promise.resolve(statOf(this.#node));
  }

  next(max: number): Promise<DirEntry[] | null> {
    if (this.#at >= this.#names.length) return Promise.resolve(null);
    const entries: DirEntry[] = [];
    while (this.#at < this.#names.length && entries.length < max) {
      const name = this.#names[this.#at++]!;
      // Entries removed after opendir are skipped, as readdir may do.
      const node = this.#node.entries.get(name);
      if (node !== undefined) entries.push({ name, stat: statOf(node) });
    }
    return Promise.resolve(entries);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A place in the tree: the directory holding it and its name there, or the root itself. */
class MemoryLocation implements Location {
  readonly path: string;
  readonly dir: DirNode;
  /** null for the root. */
  readonly name: string | null;

  constructor(options: { path: string; dir: DirNode; name: string | null }) {
    this.path = options.path;
    this.dir = options.dir;
    this.name = options.name;
  }

  get entry(): Node | undefined {
    return this.name === null ? this.dir : this.dir.entries.get(this.name);
  }

  /** The entry, or NO_SUCH_FILE. */
  existing(): Node {
    const node = this.entry;
    if (node === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${this.path}`);
    return node;
  }

  /** The name to create, in a directory still in the tree. */
  newName(): string {
    if (this.name === null) fail(ErrorCode.FILE_EXISTS, 'the root always exists');
    if (this.dir.detached) fail(ErrorCode.NO_SUCH_FILE, `no such directory: ${this.path}`);
    checkName(this.name);
    if (this.dir.entries.has(this.name)) fail(ErrorCode.FILE_EXISTS, `exists: ${this.path}`);
    return this.name;
  }

  /** The name of an entry to unlink or move; the root is never one. */
  ownName(): string {
    if (this.name === null) fail(ErrorCode.PERMISSION_DENIED, 'the root cannot be changed');
    return this.name;
  }

  release(): void {}
}

function memory(at: Location): MemoryLocation {
  if (!(at instanceof MemoryLocation)) fail(ErrorCode.FAILURE, 'a location from another backend');
  return at;
}

/** One path walk in progress: directories entered so far (root first) and names still to visit. */
interface Walk {
  pending: string[];
  dirs: DirNode[];
  names: string[];
  hops: number;
}

function locationOf(walk: Walk, name: string | null): MemoryLocation {
  const here = `/${walk.names.join('/')}`;
  if (name !== null) {
    return new MemoryLocation({ path: childPath(here, name), dir: walk.dirs.at(-1)!, name });
  }
  if (walk.dirs.length === 1)
    return new MemoryLocation({ path: '/', dir: walk.dirs[0]!, name: null });
  // Ended on a directory reached through a link: name it from its parent.
  return new MemoryLocation({ path: here, dir: walk.dirs.at(-2)!, name: walk.names.at(-1)! });
}

function expandLink(walk: Walk, link: LinkNode): void {
  if (++walk.hops > MAX_SYMLINK_HOPS) throw tooManyLinks();
  // As inside a chroot: an absolute target starts again at the root, which is all a link reaches.
  if (link.target.startsWith('/')) {
    walk.dirs.length = 1;
    walk.names.length = 0;
  }
  walk.pending.push(...splitSegments(link.target).reverse());
}

/** One name of the walk: ".." climbs (never above the root), a link expands, a directory is entered. */
function step(walk: Walk, followFinal: boolean): MemoryLocation | null {
  const name = walk.pending.pop()!;
  const dir = walk.dirs.at(-1)!;
  if (name === '..') {
    if (walk.dirs.length > 1) {
      walk.dirs.pop();
      walk.names.pop();
    }
    return null;
  }
  const isLast = walk.pending.length === 0;
  const child = dir.entries.get(name);
  if (child?.kind === 'symlink' && (!isLast || followFinal)) {
    expandLink(walk, child);
    return null;
  }
  if (isLast) return locationOf(walk, name);
  if (child === undefined) fail(ErrorCode.NO_SUCH_FILE, 'no such file or directory');
  if (child.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, 'not a directory');
  walk.dirs.push(child);
  walk.names.push(name);
  return null;
}

export class MemoryBackend implements Backend {
  readonly capabilities: VfsCapabilities;
  readonly #root: DirNode;
  readonly #uid: number;
  readonly #gid: number;
  readonly #capacity: number;
  readonly #umask: number;
  readonly #maxFileSize: number;

  constructor(options: MemoryVfsOptions = {}) {
    this.capabilities = { ...ALL_CAPABILITIES, ...options.capabilities };
    this.#uid = options.uid ?? 1000;
    this.#gid = options.gid ?? 1000;
    this.#capacity = options.capacity ?? 1024 ** 4;
    this.#umask = options.umask ?? 0o022;
    this.#maxFileSize = options.maxFileSize ?? 2 * 1024 ** 3;
    this.#root = this.#newDir(null, 0o755);
  }

  #meta(mode: number): Meta {
    const t = now();
    return { mode, uid: this.#uid, gid: this.#gid, atime: t, mtime: t, nlink: 1 };
  }

  #newDir(parent: DirNode | null, mode: number): DirNode {
    return { kind: 'dir', entries: new Map(), parent, detached: false, ...this.#meta(mode) };
  }

  locate(path: string, options: LocateOptions): Promise<Location> {
    return settle(() => {
      const walk: Walk = {
        pending: splitSegments(path).reverse(),
        dirs: [this.#root],
        names: [],
        hops: 0,
      };
      while (walk.pending.length > 0) {
        const found = step(walk, options.followFinal);
        if (found !== null) return found;
      }
      return locationOf(walk, null);
    });
  }

  stat(at: Location): Promise<FileStat> {
    return settle(() => statOf(memory(at).existing()));
  }

  open(at: Location, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    return settle(() => this.#open(memory(at), flags, attrs));
  }

  #open(at: MemoryLocation, flags: OpenFlags, attrs?: SetAttrs): VfsFile {
    const node = at.entry;
    if (node === undefined) {
      if (!flags.create) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${at.path}`);
      return new MemoryFile(this.#createFile(at, attrs), flags);
    }
    if (flags.create && flags.exclusive) fail(ErrorCode.FILE_EXISTS, at.path);
    // The location was followed: a link here now was put in place since, and is not followed.
    if (node.kind === 'symlink') fail(ErrorCode.NO_SUCH_FILE, `a symlink: ${at.path}`);
    if (node.kind !== 'file') fail(ErrorCode.IS_A_DIRECTORY, `not a regular file: ${at.path}`);
    if (flags.truncate && flags.write) resize(node, 0);
    return new MemoryFile(node, flags);
  }

  #createFile(at: MemoryLocation, attrs: SetAttrs | undefined): FileNode {
    const name = at.newName();
    const mode = (attrs?.mode ?? 0o666) & SETTABLE_MODE_BITS & ~this.#umask;
    const created: FileNode = {
      kind: 'file',
      data: Buffer.alloc(0),
      size: 0,
      maxSize: this.#maxFileSize,
      ...this.#meta(mode),
    };
    at.dir.entries.set(name, created);
    at.dir.mtime = now();
    return created;
  }

  opendir(at: Location): Promise<VfsDir> {
    return settle(() => {
      const node = memory(at).existing();
      if (node.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${at.path}`);
      return new MemoryDir(node);
    });
  }

  mkdir(at: Location, attrs?: SetAttrs): Promise<void> {
    return settle(() => {
      const location = memory(at);
      const name = location.newName();
      const mode = (attrs?.mode ?? 0o777) & SETTABLE_MODE_BITS & ~this.#umask;
      location.dir.entries.set(name, this.#newDir(location.dir, mode));
      location.dir.nlink++;
      location.dir.mtime = now();
    });
  }

  rmdir(at: Location): Promise<void> {
    return settle(() => {
      const location = memory(at);
      const name = location.ownName();
      const node = location.existing();
      if (node.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${at.path}`);
      if (node.entries.size > 0) fail(ErrorCode.DIR_NOT_EMPTY, `not empty: ${at.path}`);
      location.dir.entries.delete(name);
      node.detached = true;
      location.dir.nlink--;
      location.dir.mtime = now();
    });
  }

  remove(at: Location): Promise<void> {
    return settle(() => {
      const location = memory(at);
      const name = location.ownName();
      const node = location.existing();
      if (node.kind === 'dir') fail(ErrorCode.IS_A_DIRECTORY, `is a directory: ${at.path}`);
      location.dir.entries.delete(name);
      node.nlink--;
      location.dir.mtime = now();
    });
  }

  rename(from: Location, to: Location, options: RenameOptions): Promise<void> {
    return settle(() => this.#rename(memory(from), memory(to), options));
  }

  #rename(source: MemoryLocation, target: MemoryLocation, options: RenameOptions): void {
    const sourceName = source.ownName();
    const targetName = target.ownName();
    const node = source.existing();
    checkName(targetName);
    if (target.dir.detached) fail(ErrorCode.NO_SUCH_FILE, `no such directory: ${target.path}`);
    const existing = target.entry;
    if (existing === node) return;
    if (node.kind === 'dir' && this.#isInside(target.dir, node)) {
      fail(ErrorCode.INVALID_ARGUMENT, 'cannot move a directory into itself');
    }
    if (existing !== undefined) this.#checkReplace(node, existing, options);
    source.dir.entries.delete(sourceName);
    if (existing !== undefined) existing.nlink--;
    if (existing?.kind === 'dir') existing.detached = true;
    target.dir.entries.set(targetName, node);
    if (node.kind === 'dir') this.#reparent(node, source.dir, target.dir);
    source.dir.mtime = target.dir.mtime = now();
  }

  #checkReplace(node: Node, existing: Node, options: RenameOptions): void {
    if (!options.overwrite) fail(ErrorCode.FILE_EXISTS, 'rename target exists');
    if (existing.kind === 'dir' && node.kind !== 'dir') fail(ErrorCode.IS_A_DIRECTORY, 'target');
    if (existing.kind !== 'dir' && node.kind === 'dir') fail(ErrorCode.NOT_A_DIRECTORY, 'target');
    if (existing.kind === 'dir' && existing.entries.size > 0)
      fail(ErrorCode.DIR_NOT_EMPTY, 'target');
  }

  #reparent(node: DirNode, from: DirNode, to: DirNode): void {
    node.parent = to;
    from.nlink--;
    to.nlink++;
  }

  #isInside(dir: DirNode, ancestor: DirNode): boolean {
    for (let at: DirNode | null = dir; at !== null; at = at.parent)
      if (at === ancestor) return true;
    return false;
  }

  symlink(at: Location, target: string): Promise<void> {
    return settle(() => {
      const location = memory(at);
      const name = location.newName();
      location.dir.entries.set(name, { kind: 'symlink', target, ...this.#meta(0o777) });
      location.dir.mtime = now();
    });
  }

  readlink(at: Location): Promise<string> {
    return settle(() => {
      const node = memory(at).existing();
      if (node.kind !== 'symlink') fail(ErrorCode.INVALID_ARGUMENT, `not a symlink: ${at.path}`);
      return node.target;
    });
  }

  link(existing: Location, at: Location): Promise<void> {
    return settle(() => {
      const node = memory(existing).existing();
      if (node.kind === 'dir') fail(ErrorCode.PERMISSION_DENIED, 'hard links to directories');
      const location = memory(at);
      const name = location.newName();
      location.dir.entries.set(name, node);
      node.nlink++;
      location.dir.mtime = now();
    });
  }

  setstat(at: Location, attrs: SetAttrs): Promise<void> {
    return settle(() => applyAttrs(memory(at).existing(), attrs));
  }

  statvfs(at: Location): Promise<StatVfs> {
    return settle(() => {
      memory(at).existing();
      const { bytes, files } = this.#usage(this.#root, new Set());
      const blocks = Math.floor(this.#capacity / BLOCK_SIZE);
      const free = Math.max(0, blocks - Math.ceil(bytes / BLOCK_SIZE));
      return {
        bsize: BLOCK_SIZE,
        frsize: BLOCK_SIZE,
        blocks,
        bfree: free,
        bavail: free,
        files: 1_000_000,
        ffree: Math.max(0, 1_000_000 - files),
        favail: Math.max(0, 1_000_000 - files),
        fsid: 0,
        flag: 0,
        namemax: NAME_MAX,
      };
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Bytes and inodes in use; hardlinked files count once. */
  #usage(dir: DirNode, seen: Set<Node>): { bytes: number; files: number } {
    let bytes = 0;
    let files = 1;
    for (const node of dir.entries.values()) {
      if (seen.has(node)) continue;
      seen.add(node);
      if (node.kind === 'dir') {
        const sub = this.#usage(node, seen);
        bytes += sub.bytes;
        files += sub.files;
      } else {
        bytes += node.kind === 'file' ? node.size : 0;
        files++;
      }
    }
    return { bytes, files };
  }
}

/** A path-based Vfs over a fresh MemoryBackend, without policy: what protocol tests drive. */
export class MemoryVfs extends DirectVfs {
  constructor(options: MemoryVfsOptions = {}) {
    super(new MemoryBackend(options));
  }
}
