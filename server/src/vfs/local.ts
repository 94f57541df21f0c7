/**
 * The local file-system backend: a user's home directory on a disk or a PVC.
 *
 * Every method acts on a LocalLocation from RootResolver: `name` inside a directory descriptor
 * the resolver opened and checked, never a path re-resolved from the home. Final names are
 * never followed (O_NOFOLLOW, lstat, lchown, or an O_PATH descriptor pinned first), so a name
 * swapped for a symlink after it was located cannot redirect the call.
 */
import { constants } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  mkdir,
  readlink,
  rename,
  rmdir,
  statfs,
  symlink,
  unlink,
} from 'node:fs/promises';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import { DirectVfs } from './direct.js';
import { closeFd, lstatPath, ofDescriptor, openFd } from './fd.js';
import type {
  Backend,
  FileStat,
  LocateOptions,
  Location,
  OpenFlags,
  RenameOptions,
  SetAttrs,
  StatVfs,
  VfsCapabilities,
  VfsDir,
  VfsFile,
} from './types.js';
import {
  applyAttrsAt,
  creationMode,
  newFileOwner,
  toFileStat,
  toStatVfs,
  type NewFileOwner,
  type SetstatMode,
} from './local-attrs.js';
import { openLocalDir } from './local-dir.js';
import { openLocalFile, type LocalFileSettings, type UploadMode } from './local-file.js';
import { LocalLocation, RootResolver } from './local-resolver.js';

export interface LocalBackendOptions {
  /** Absolute host path of the user's home directory. */
  root: string;
  /** Bits cleared from the mode of new files and directories (default 0o022). */
  umask?: number;
  /** 0 standard, 1 atomic, 2 atomic with resume (see local-file.ts). */
  uploadMode?: UploadMode;
  /** 1 ignores requests to change mode, owner and times, without an error. */
  setstatMode?: SetstatMode;
  /** Owner of new entries; applied only when the server runs as root and the id is > 0. */
  uid?: number;
  gid?: number;
}

async function mapped<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw toKubesftpError(err);
  }
}

/** Locations come from this backend's resolver; anything else is a programming error. */
function local(at: Location): LocalLocation {
  if (!(at instanceof LocalLocation)) {
    throw new KubesftpError(ErrorCode.FAILURE, 'a location from another backend');
  }
  return at;
}

/** The home directory itself must never be moved or removed. */
function notHome(at: Location): LocalLocation {
  const location = local(at);
  if (location.isHome) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'the home directory cannot be changed');
  }
  return location;
}

const NEW_DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export class LocalBackend implements Backend {
  readonly capabilities: VfsCapabilities = {
    symlinks: true,
    hardlinks: true,
    posixRename: true,
    statvfs: true,
    fsync: true,
    chmod: true,
    chown: true,
    chtimes: true,
    atomicUpload: true,
    resumeUpload: true,
  };

  readonly #resolver: RootResolver;
  readonly #settings: LocalFileSettings;

  constructor(options: LocalBackendOptions) {
    this.#resolver = new RootResolver(options.root);
    this.#settings = {
      umask: options.umask ?? 0o022,
      uploadMode: options.uploadMode ?? 0,
      setstatMode: options.setstatMode ?? 0,
      owner: newFileOwner(options.uid, options.gid),
    };
  }

  locate(path: string, options: LocateOptions): Promise<Location> {
    return this.#resolver.locate(path, options);
  }

  stat(at: Location): Promise<FileStat> {
    const seen = local(at).takeSeenStat();
    if (seen) return Promise.resolve(toFileStat(seen));
    return mapped(async () => toFileStat(await lstatPath(local(at).hostPath)));
  }

  open(at: Location, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    return openLocalFile({ at: local(at), flags, attrs }, this.#settings);
  }

  opendir(at: Location): Promise<VfsDir> {
    return mapped(() => openLocalDir(local(at).hostPath));
  }

  mkdir(at: Location, attrs?: SetAttrs): Promise<void> {
    return mapped(async () => {
      const hostPath = local(at).hostPath;
      const mode = creationMode(attrs?.mode, 0o777, this.#settings.umask);
      await mkdir(hostPath, mode);
      // mkdir() also applies the process umask: set the exact mode on the new directory itself,
      // through a descriptor, since its name could be swapped for a link right after creation.
      const fd = await openFd(hostPath, NEW_DIRECTORY_FLAGS);
      try {
        await setNewEntry(fd, { mode, owner: this.#settings.owner });
      } finally {
        closeFd(fd);
      }
    });
  }

  rmdir(at: Location): Promise<void> {
    return mapped(async () => rmdir(notHome(at).hostPath));
  }

  remove(at: Location): Promise<void> {
    return mapped(async () => unlink(notHome(at).hostPath));
  }

  rename(from: Location, to: Location, options: RenameOptions): Promise<void> {
    return mapped(async () => {
      const source = notHome(from).hostPath;
      const target = notHome(to).hostPath;
      if (options.overwrite) await rename(source, target);
      else await renameNoReplace(source, target);
    });
  }

  symlink(at: Location, target: string): Promise<void> {
    return mapped(async () => {
      const hostPath = local(at).hostPath;
      // Stored as given: the resolver reads it as inside a chroot, wherever the link moves.
      await symlink(target, hostPath);
      const owner = this.#settings.owner;
      if (owner !== undefined) await lchown(hostPath, owner.uid, owner.gid);
    });
  }

  readlink(at: Location): Promise<string> {
    return mapped(() => readlink(local(at).hostPath));
  }

  link(existing: Location, at: Location): Promise<void> {
    // link(2) does not follow a symlink given as the source on Linux.
    return mapped(() => link(local(existing).hostPath, local(at).hostPath));
  }

  setstat(at: Location, attrs: SetAttrs): Promise<void> {
    return mapped(() => applyAttrsAt(local(at), attrs, this.#settings.setstatMode));
  }

  statvfs(at: Location): Promise<StatVfs> {
    // The holding directory's file system: statfs on the name would follow a swapped-in link.
    return mapped(async () => toStatVfs(await statfs(ofDescriptor(local(at).dir.fd))));
  }

  close(): Promise<void> {
    return this.#resolver.close();
  }
}

/** Mode and owner of an entry just created, through its own descriptor. */
async function setNewEntry(
  fd: number,
  options: { mode: number; owner: NewFileOwner | undefined },
): Promise<void> {
  await chmod(ofDescriptor(fd), options.mode);
  if (options.owner !== undefined) {
    await chown(ofDescriptor(fd), options.owner.uid, options.owner.gid);
  }
}

/**
 * SFTP v3 rename: an existing target is FILE_EXISTS. For files, link() then unlink() refuses an
 * existing target atomically (as OpenSSH's sftp-server does); other entries are checked first,
 * leaving a small race because Node has no renameat2(RENAME_NOREPLACE). Both names lie in
 * directories the resolver holds, so the race can only replace the user's own entry.
 */
async function renameNoReplace(source: string, target: string): Promise<void> {
  const stats = await lstat(source);
  if (stats.isFile()) {
    try {
      await link(source, target);
      await unlink(source);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    }
  }
  if (await exists(target)) {
    throw new KubesftpError(ErrorCode.FILE_EXISTS, 'target already exists');
  }
  await rename(source, target);
}

async function exists(hostPath: string): Promise<boolean> {
  try {
    await lstat(hostPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A path-based Vfs over a LocalBackend, without policy: for tests and tools. */
export class LocalVfs extends DirectVfs {
  constructor(options: LocalBackendOptions) {
    super(new LocalBackend(options));
  }
}
