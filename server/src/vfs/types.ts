/**
 * The file-system seam. Every path given to a Vfs is a *virtual* path: absolute, POSIX,
 * normalized, inside the user's root ("/" is the home). vfs/virtual-path.ts turns client input
 * into virtual paths; a Backend turns a virtual path into a Location (its resolver) and acts on
 * that Location only, so what was resolved and judged is what gets used.
 *
 * Two interfaces: protocol layers use a path-based Vfs (the policy layer in session/, or
 * DirectVfs in tests); storage backends implement Backend.
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
  /** Permission bits; only 0777 is ever applied (no setuid, setgid or sticky bit). */
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
  /** The opened directory's own attributes (not re-resolved by name). */
  stat(): Promise<FileStat>;
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

/** What a protocol knows about an open beyond SFTP's flags. */
export interface OpenHints {
  /** The size an upload announces up front (SCP does): quota can refuse it before any byte. */
  expectedSize?: number;
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
  open(path: string, flags: OpenFlags, attrs?: SetAttrs, hints?: OpenHints): Promise<VfsFile>;
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
  /** Gives back what the backend holds for the session (the home's descriptor). */
  close(): Promise<void>;
}

/**
 * A place in a user's tree as a backend resolved it. `path` is canonical: every symlink on the
 * way expanded, the final name too when the caller asked to follow it. The backend acts on this
 * very place even if names are swapped or renamed meanwhile, so a permission judged on `path`
 * is the permission of the place acted on.
 */
export interface Location {
  readonly path: string;
  /** Gives back what the backend holds for this place (a directory descriptor). Idempotent. */
  release(): void;
}

export interface LocateOptions {
  /** Follow a symlink in the final name (stat, open) or stop at the link itself (lstat). */
  followFinal: boolean;
}

/**
 * A storage backend. `locate` is its resolver; every other method acts on a Location it made
 * and never follows a symlink in the final name, whatever was there when it was located.
 */
export interface Backend {
  readonly capabilities: VfsCapabilities;
  /** A missing final name is fine (it may be created); a missing directory on the way is not. */
  locate(path: string, options: LocateOptions): Promise<Location>;
  /** The entry itself (a symlink is not followed). */
  stat(at: Location): Promise<FileStat>;
  open(at: Location, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile>;
  opendir(at: Location): Promise<VfsDir>;
  mkdir(at: Location, attrs?: SetAttrs): Promise<void>;
  rmdir(at: Location): Promise<void>;
  remove(at: Location): Promise<void>;
  rename(from: Location, to: Location, options: RenameOptions): Promise<void>;
  /** Stores `target` exactly as given; it is read as inside a chroot at the home. */
  symlink(at: Location, target: string): Promise<void>;
  readlink(at: Location): Promise<string>;
  link(existing: Location, at: Location): Promise<void>;
  /** The entry itself: on a symlink only owner and times apply (to the link). */
  setstat(at: Location, attrs: SetAttrs): Promise<void>;
  statvfs(at: Location): Promise<StatVfs>;
  close(): Promise<void>;
}

/** The mode bits a client may set: never setuid, setgid or sticky. */
export const SETTABLE_MODE_BITS = 0o777;

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
