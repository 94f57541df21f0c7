/**
 * The file-system seam. Every path given to a Vfs is a *virtual* path: absolute, POSIX,
 * normalized, inside the user's root ("/" is the home). Only vfs/resolver.ts turns client
 * input into virtual paths and virtual paths into backend locations.
 *
 * Errors are KubesftpError values (server/src/errors.ts); backends map their native errors
 * with toKubesftpError so protocol layers never see errno strings.
 */

/** Times are in whole seconds since the epoch, as SFTP v3 carries them. */
export interface FileStat {
  size: number;
  uid: number;
  gid: number;
  /** Full st_mode: file type bits and permission bits. */
  mode: number;
  atime: number;
  mtime: number;
  nlink: number;
}

/** Attributes a client asks to change; absent fields stay as they are. */
export interface SetAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Permission bits only (07777). */
  mode?: number;
  atime?: number;
  mtime?: number;
}

export interface DirEntry {
  name: string;
  /** The entry itself, not what a symlink points to (lstat). */
  stat: FileStat;
}

export interface OpenFlags {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
  truncate: boolean;
  exclusive: boolean;
}

export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** Bytes to write: one buffer, or buffers that follow each other. */
export type WriteData = Buffer | readonly Buffer[];

/** The byte count of a write. */
export function writeLength(data: WriteData): number {
  if (Buffer.isBuffer(data)) return data.length;
  let total = 0;
  for (const chunk of data) total += chunk.length;
  return total;
}

export interface VfsFile {
  /**
   * Reads up to `length` bytes at `position`; an empty buffer means end of file. With `into`
   * (at least `length` bytes), the bytes land there and the result is a view of it.
   */
  read(length: number, position: number, into?: Buffer): Promise<Buffer>;
  /**
   * Writes `data` at `position`. A list is written as one contiguous range, in order, so
   * requests that continue each other reach the backend as one call without being copied.
   * The bytes are reused once the returned promise settles: a backend that keeps them longer
   * (to upload them later, say) must copy them.
   */
  write(data: WriteData, position: number): Promise<void>;
  stat(): Promise<FileStat>;
  setstat(attrs: SetAttrs): Promise<void>;
  sync(): Promise<void>;
  /** Completes the file: for atomic uploads this is when the data reaches the requested path. */
  close(): Promise<void>;
  /** Ends the file after a failure or disconnect: atomic uploads discard (or keep, for resume). */
  abort(): Promise<void>;
}

export interface VfsDir {
  /** Returns up to `max` entries, or null once the directory is exhausted. */
  next(max: number): Promise<DirEntry[] | null>;
  close(): Promise<void>;
}

/** What a backend can do. Protocol layers advertise only what is true here. */
export interface VfsCapabilities {
  symlinks: boolean;
  hardlinks: boolean;
  /** rename that replaces an existing target in one step. */
  posixRename: boolean;
  statvfs: boolean;
  fsync: boolean;
  chmod: boolean;
  chown: boolean;
  chtimes: boolean;
  atomicUpload: boolean;
  resumeUpload: boolean;
}

export interface RenameOptions {
  /** Replace an existing target (posix-rename); otherwise an existing target is FILE_EXISTS. */
  overwrite: boolean;
}

export interface Vfs {
  readonly capabilities: VfsCapabilities;
  stat(path: string): Promise<FileStat>;
  lstat(path: string): Promise<FileStat>;
  /** The canonical virtual path, symlinks followed, never outside the root. */
  realpath(path: string): Promise<string>;
  open(path: string, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile>;
  opendir(path: string): Promise<VfsDir>;
  mkdir(path: string, attrs?: SetAttrs): Promise<void>;
  rmdir(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  rename(from: string, to: string, options: RenameOptions): Promise<void>;
  /** Creates `linkPath` pointing at `target` (a virtual path or one relative to the link). */
  symlink(linkPath: string, target: string): Promise<void>;
  /** The link's target as the client should see it (virtual, never a host path). */
  readlink(path: string): Promise<string>;
  link(existingPath: string, newPath: string): Promise<void>;
  setstat(path: string, attrs: SetAttrs): Promise<void>;
  lsetstat(path: string, attrs: SetAttrs): Promise<void>;
  statvfs(path: string): Promise<StatVfs>;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export function isDirectory(stat: FileStat): boolean {
  return (stat.mode & S_IFMT) === S_IFDIR;
}
export function isRegularFile(stat: FileStat): boolean {
  return (stat.mode & S_IFMT) === S_IFREG;
}
export function isSymlink(stat: FileStat): boolean {
  return (stat.mode & S_IFMT) === S_IFLNK;
}
