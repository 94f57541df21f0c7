/**
 * The local file-system backend: a user's home directory on a disk or a PVC.
 *
 * Every virtual path goes through RootResolver first; methods that act on an entry itself
 * (lstat, remove, rename, readlink, mkdir, symlink, link) never follow its last component, and
 * the others follow it inside the root and then act with O_NOFOLLOW or lstat on the result.
 */
import {
  chmod,
  lchown,
  link,
  lstat,
  mkdir,
  opendir,
  readlink,
  rename,
  rmdir,
  statfs,
  symlink,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import type {
  FileStat,
  OpenFlags,
  RenameOptions,
  SetAttrs,
  StatVfs,
  Vfs,
  VfsCapabilities,
  VfsDir,
  VfsFile,
} from './types.js';
import {
  applyAttrsToPath,
  creationMode,
  newFileOwner,
  toFileStat,
  toStatVfs,
  type SetstatMode,
} from './local-attrs.js';
import { LocalDir } from './local-dir.js';
import { openLocalFile, type LocalFileSettings, type UploadMode } from './local-file.js';
import { RootResolver, toVirtualPath } from './resolver.js';

export interface LocalVfsOptions {
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

const FOLLOW = { followFinal: true };
const NO_FOLLOW = { followFinal: false };

export class LocalVfs implements Vfs {
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

  constructor(options: LocalVfsOptions) {
    this.#resolver = new RootResolver(options.root);
    this.#settings = {
      resolver: this.#resolver,
      umask: options.umask ?? 0o022,
      uploadMode: options.uploadMode ?? 0,
      setstatMode: options.setstatMode ?? 0,
      owner: newFileOwner(options.uid, options.gid),
    };
  }

  stat(virtualPath: string): Promise<FileStat> {
    return mapped(async () => {
      // The resolver followed every link, so lstat sees the target without following again.
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      return toFileStat(await lstat(hostPath));
    });
  }

  lstat(virtualPath: string): Promise<FileStat> {
    return mapped(async () => toFileStat(await lstat(await this.#hostPath(virtualPath))));
  }

  realpath(virtualPath: string): Promise<string> {
    return mapped(async () => {
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      return this.#resolver.toVirtual(hostPath);
    });
  }

  open(virtualPath: string, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    return mapped(async () => {
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      return openLocalFile({ hostPath, flags, attrs }, this.#settings);
    });
  }

  opendir(virtualPath: string): Promise<VfsDir> {
    return mapped(async () => {
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      return new LocalDir(await opendir(hostPath, { bufferSize: 128 }), hostPath);
    });
  }

  mkdir(virtualPath: string, attrs?: SetAttrs): Promise<void> {
    return mapped(async () => {
      const hostPath = await this.#hostPath(virtualPath);
      const mode = creationMode(attrs?.mode, 0o777, this.#settings.umask);
      await mkdir(hostPath, mode);
      // mkdir() also applies the process umask; set the exact mode the configured umask gives.
      await chmod(hostPath, mode);
      await this.#chownNew(hostPath);
    });
  }

  rmdir(virtualPath: string): Promise<void> {
    return mapped(async () => rmdir(await this.#hostPathNotRoot(virtualPath)));
  }

  remove(virtualPath: string): Promise<void> {
    return mapped(async () => unlink(await this.#hostPathNotRoot(virtualPath)));
  }

  rename(from: string, to: string, options: RenameOptions): Promise<void> {
    return mapped(async () => {
      const source = await this.#hostPathNotRoot(from);
      const target = await this.#hostPathNotRoot(to);
      if (options.overwrite) await rename(source, target);
      else await renameNoReplace(source, target);
    });
  }

  symlink(linkPath: string, target: string): Promise<void> {
    return mapped(async () => {
      const hostPath = await this.#hostPath(linkPath);
      const stored = this.#storedLinkTarget(hostPath, target);
      await symlink(stored, hostPath);
      await this.#chownNew(hostPath);
    });
  }

  readlink(virtualPath: string): Promise<string> {
    return mapped(async () => {
      const target = await readlink(await this.#hostPath(virtualPath));
      // An absolute target means a path from the root (as in a chroot), so it is already virtual.
      return target.startsWith('/') ? toVirtualPath(target) : target;
    });
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return mapped(async () => {
      const source = await this.#hostPath(existingPath);
      await link(source, await this.#hostPath(newPath));
    });
  }

  setstat(virtualPath: string, attrs: SetAttrs): Promise<void> {
    return mapped(async () => {
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      await applyAttrsToPath({
        hostPath,
        attrs,
        setstatMode: this.#settings.setstatMode,
        onLink: false,
      });
    });
  }

  lsetstat(virtualPath: string, attrs: SetAttrs): Promise<void> {
    return mapped(async () => {
      const hostPath = await this.#hostPath(virtualPath);
      const onLink = (await lstat(hostPath)).isSymbolicLink();
      await applyAttrsToPath({ hostPath, attrs, setstatMode: this.#settings.setstatMode, onLink });
    });
  }

  statvfs(virtualPath: string): Promise<StatVfs> {
    return mapped(async () => {
      const hostPath = await this.#resolver.resolve(virtualPath, FOLLOW);
      return toStatVfs(await statfs(hostPath));
    });
  }

  /** The host path of the entry itself (a final symlink is not followed). */
  #hostPath(virtualPath: string): Promise<string> {
    return this.#resolver.resolve(virtualPath, NO_FOLLOW);
  }

  /** As #hostPath, refusing the home directory itself, which must never be moved or removed. */
  async #hostPathNotRoot(virtualPath: string): Promise<string> {
    const hostPath = await this.#hostPath(virtualPath);
    if (this.#resolver.isRoot(hostPath)) {
      throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'the home directory cannot be changed');
    }
    return hostPath;
  }

  /**
   * The target to store for a new link: the client's target (virtual, or relative to the link)
   * made virtual from the link's real directory, then written relative to that directory. A stored
   * link is thus always relative and, resolved through the resolver, stays inside the root.
   */
  #storedLinkTarget(linkHostPath: string, clientTarget: string): string {
    const linkDir = this.#resolver.toVirtual(path.dirname(linkHostPath));
    const virtualTarget = toVirtualPath(clientTarget, linkDir);
    return path.posix.relative(linkDir, virtualTarget) || '.';
  }

  async #chownNew(hostPath: string): Promise<void> {
    const owner = this.#settings.owner;
    if (owner !== undefined) await lchown(hostPath, owner.uid, owner.gid);
  }
}

/**
 * SFTP v3 rename: an existing target is FILE_EXISTS. For files, link() then unlink() refuses an
 * existing target atomically (as OpenSSH's sftp-server does); other entries are checked first,
 * leaving a small race because Node has no renameat2(RENAME_NOREPLACE).
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
