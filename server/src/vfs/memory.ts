/**
 * An in-memory Vfs: the reference backend for protocol tests and a scratch home for trials.
 * POSIX-like semantics (ENOENT, EEXIST, ENOTEMPTY, symlinks, hardlinks) with virtual paths only.
 */
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import {
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  type DirEntry,
  type FileStat,
  type OpenFlags,
  type RenameOptions,
  type SetAttrs,
  type StatVfs,
  type Vfs,
  type VfsCapabilities,
  type VfsDir,
  type VfsFile,
  type WriteData,
  writeLength,
} from './types.js';

const NAME_MAX = 255;
const MAX_SYMLINK_HOPS = 40;
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

function splitParent(path: string): { parent: string; name: string } {
  const at = path.lastIndexOf('/');
  return { parent: at <= 0 ? '/' : path.slice(0, at), name: path.slice(at + 1) };
}

function checkName(name: string): void {
  if (name === '') fail(ErrorCode.FILE_EXISTS, 'the root always exists');
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
    if (node.kind !== 'file') fail(ErrorCode.IS_A_DIRECTORY, 'size applies to files only');
    resize(node, attrs.size);
  }
  if (attrs.mode !== undefined) node.mode = attrs.mode & 0o7777;
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

/** One path walk in progress: directories entered so far and names still to visit (a stack). */
interface Walk {
  pending: string[];
  resolved: DirNode[];
  names: string[];
  hops: number;
}

interface Lookup {
  node: Node;
  /** Canonical virtual path of the node. */
  path: string;
}

export class MemoryVfs implements Vfs {
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
    return { kind: 'dir', entries: new Map(), parent, ...this.#meta(mode) };
  }

  /** Walks a virtual path; symlinks in the middle are always followed, the last one on request. */
  #lookup(path: string, followFinal: boolean): Lookup {
    const walk: Walk = {
      pending: path
        .split('/')
        .filter((part) => part !== '')
        .reverse(),
      resolved: [this.#root],
      names: [],
      hops: 0,
    };
    let node: Node = this.#root;
    while (walk.pending.length > 0) node = this.#step(walk, path, followFinal);
    return { node, path: `/${walk.names.join('/')}` };
  }

  #step(walk: Walk, path: string, followFinal: boolean): Node {
    const name = walk.pending.pop()!;
    const dir = walk.resolved[walk.resolved.length - 1]!;
    if (name === '.' || name === '..') {
      if (name === '..' && walk.resolved.length > 1) {
        walk.resolved.pop();
        walk.names.pop();
      }
      return walk.resolved[walk.resolved.length - 1]!;
    }
    const child = dir.entries.get(name);
    if (child === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${path}`);
    if (child.kind === 'symlink' && (walk.pending.length > 0 || followFinal)) {
      if (++walk.hops > MAX_SYMLINK_HOPS) fail(ErrorCode.NO_SUCH_FILE, `symlink loop: ${path}`);
      // An absolute target starts again at the root: the home is all a link can reach.
      if (child.target.startsWith('/')) {
        walk.resolved.length = 1;
        walk.names.length = 0;
      }
      const parts = child.target.split('/').filter((part) => part !== '');
      for (let i = parts.length - 1; i >= 0; i--) walk.pending.push(parts[i]!);
      return walk.resolved[walk.resolved.length - 1]!;
    }
    if (walk.pending.length > 0 && child.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, path);
    if (child.kind === 'dir') walk.resolved.push(child);
    walk.names.push(name);
    return child;
  }

  #dir(path: string): DirNode {
    const { node } = this.#lookup(path, true);
    if (node.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${path}`);
    return node;
  }

  /** The directory that holds `path` and the final name, for operations that create or unlink. */
  #parentOf(path: string): { dir: DirNode; name: string } {
    const { parent, name } = splitParent(path);
    return { dir: this.#dir(parent), name };
  }

  stat(path: string): Promise<FileStat> {
    return settle(() => statOf(this.#lookup(path, true).node));
  }

  lstat(path: string): Promise<FileStat> {
    return settle(() => statOf(this.#lookup(path, false).node));
  }

  realpath(path: string): Promise<string> {
    return settle(() => this.#lookup(path, true).path);
  }

  open(path: string, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    return settle(() => this.#open(path, flags, attrs));
  }

  #open(path: string, flags: OpenFlags, attrs?: SetAttrs): VfsFile {
    const { dir, name } = this.#parentOf(path);
    let node = dir.entries.get(name);
    if (node !== undefined && flags.create && flags.exclusive) fail(ErrorCode.FILE_EXISTS, path);
    if (node?.kind === 'symlink') node = this.#followLink(path);
    if (node === undefined) {
      if (!flags.create) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${path}`);
      return new MemoryFile(this.#createFile(dir, name, attrs), flags);
    }
    if (node.kind !== 'file') fail(ErrorCode.IS_A_DIRECTORY, `not a regular file: ${path}`);
    if (flags.truncate && flags.write) resize(node, 0);
    return new MemoryFile(node, flags);
  }

  #createFile(dir: DirNode, name: string, attrs: SetAttrs | undefined): FileNode {
    checkName(name);
    const mode = (attrs?.mode ?? 0o666) & 0o7777 & ~this.#umask;
    const created: FileNode = {
      kind: 'file',
      data: Buffer.alloc(0),
      size: 0,
      maxSize: this.#maxFileSize,
      ...this.#meta(mode),
    };
    dir.entries.set(name, created);
    dir.mtime = now();
    return created;
  }

  /** Opening through a dangling link is refused rather than creating its target. */
  #followLink(path: string): Node {
    try {
      return this.#lookup(path, true).node;
    } catch {
      return fail(ErrorCode.NO_SUCH_FILE, `dangling symlink: ${path}`);
    }
  }

  opendir(path: string): Promise<VfsDir> {
    return settle(() => new MemoryDir(this.#dir(path)));
  }

  mkdir(path: string, attrs?: SetAttrs): Promise<void> {
    return settle(() => {
      const { dir, name } = this.#parentOf(path);
      checkName(name);
      if (dir.entries.has(name)) fail(ErrorCode.FILE_EXISTS, `exists: ${path}`);
      dir.entries.set(name, this.#newDir(dir, (attrs?.mode ?? 0o777) & 0o7777 & ~this.#umask));
      dir.nlink++;
      dir.mtime = now();
    });
  }

  rmdir(path: string): Promise<void> {
    return settle(() => {
      const { dir, name } = this.#parentOf(path);
      if (name === '') fail(ErrorCode.PERMISSION_DENIED, 'the root cannot be removed');
      const node = dir.entries.get(name);
      if (node === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${path}`);
      if (node.kind !== 'dir') fail(ErrorCode.NOT_A_DIRECTORY, `not a directory: ${path}`);
      if (node.entries.size > 0) fail(ErrorCode.DIR_NOT_EMPTY, `not empty: ${path}`);
      dir.entries.delete(name);
      dir.nlink--;
      dir.mtime = now();
    });
  }

  remove(path: string): Promise<void> {
    return settle(() => {
      const { dir, name } = this.#parentOf(path);
      const node = dir.entries.get(name);
      if (node === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${path}`);
      if (node.kind === 'dir') fail(ErrorCode.IS_A_DIRECTORY, `is a directory: ${path}`);
      dir.entries.delete(name);
      node.nlink--;
      dir.mtime = now();
    });
  }

  rename(from: string, to: string, options: RenameOptions): Promise<void> {
    return settle(() => this.#rename(from, to, options));
  }

  #rename(from: string, to: string, options: RenameOptions): void {
    const source = this.#parentOf(from);
    const target = this.#parentOf(to);
    const node = source.dir.entries.get(source.name);
    if (node === undefined) fail(ErrorCode.NO_SUCH_FILE, `no such file: ${from}`);
    if (source.name === '' || target.name === '') fail(ErrorCode.PERMISSION_DENIED, 'root');
    checkName(target.name);
    const existing = target.dir.entries.get(target.name);
    if (existing === node) return;
    if (node.kind === 'dir' && this.#isInside(target.dir, node)) {
      fail(ErrorCode.INVALID_ARGUMENT, 'cannot move a directory into itself');
    }
    if (existing !== undefined) this.#checkReplace(node, existing, options);
    source.dir.entries.delete(source.name);
    if (existing !== undefined) existing.nlink--;
    target.dir.entries.set(target.name, node);
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

  symlink(linkPath: string, target: string): Promise<void> {
    return settle(() => {
      const { dir, name } = this.#parentOf(linkPath);
      checkName(name);
      if (dir.entries.has(name)) fail(ErrorCode.FILE_EXISTS, `exists: ${linkPath}`);
      dir.entries.set(name, { kind: 'symlink', target, ...this.#meta(0o777) });
      dir.mtime = now();
    });
  }

  readlink(path: string): Promise<string> {
    return settle(() => {
      const { node } = this.#lookup(path, false);
      if (node.kind !== 'symlink') fail(ErrorCode.INVALID_ARGUMENT, `not a symlink: ${path}`);
      return node.target;
    });
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return settle(() => {
      const { node } = this.#lookup(existingPath, false);
      if (node.kind === 'dir') fail(ErrorCode.PERMISSION_DENIED, 'hard links to directories');
      const { dir, name } = this.#parentOf(newPath);
      checkName(name);
      if (dir.entries.has(name)) fail(ErrorCode.FILE_EXISTS, `exists: ${newPath}`);
      dir.entries.set(name, node);
      node.nlink++;
      dir.mtime = now();
    });
  }

  setstat(path: string, attrs: SetAttrs): Promise<void> {
    return settle(() => applyAttrs(this.#lookup(path, true).node, attrs));
  }

  lsetstat(path: string, attrs: SetAttrs): Promise<void> {
    return settle(() => applyAttrs(this.#lookup(path, false).node, attrs));
  }

  statvfs(path: string): Promise<StatVfs> {
    return settle(() => {
      this.#lookup(path, true);
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
