import { posix } from 'node:path';
import type { Permission } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
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
} from '../vfs/types.js';
import { isDirectory, isRegularFile } from '../vfs/types.js';
import { Permissions } from './permissions.js';
import { TransferFile } from './transfer.js';
import type { CommandRecord, SessionContext } from './types.js';

/**
 * The policy layer: every file-system operation of every protocol (SFTP, SCP, commands) goes
 * through here once. Each method is check → act → account → log; protocol layers only
 * translate. Paths are virtual (see vfs/resolver.ts).
 */
export class PolicyVfs implements Vfs {
  readonly #inner: Vfs;
  readonly #ctx: SessionContext;
  readonly #perms: Permissions;

  constructor(inner: Vfs, ctx: SessionContext) {
    this.#inner = inner;
    this.#ctx = ctx;
    this.#perms = new Permissions(ctx.user.permissions);
  }

  get capabilities(): VfsCapabilities {
    return this.#inner.capabilities;
  }

  stat(path: string): Promise<FileStat> {
    this.#require('list', posix.dirname(path));
    return this.#inner.stat(path);
  }

  lstat(path: string): Promise<FileStat> {
    this.#require('list', posix.dirname(path));
    return this.#inner.lstat(path);
  }

  realpath(path: string): Promise<string> {
    this.#ctx.touch();
    return this.#inner.realpath(path);
  }

  async open(path: string, flags: OpenFlags, attrs?: SetAttrs): Promise<VfsFile> {
    const dir = posix.dirname(path);
    if (flags.read) this.#require('download', dir);
    if (!flags.write) {
      const inner = await this.#inner.open(path, flags, attrs);
      return new TransferFile({ inner, ctx: this.#ctx, path });
    }
    this.#require('upload', dir);
    // What the path held matters to the overwrite permission and to quota. When neither
    // applies, skip looking: the backend itself refuses to open a directory for writing.
    const accounting = this.#tracksQuota() || this.#hasQuotaLimits();
    const mustLook = accounting || !this.#perms.allowedIn('overwrite', dir);
    const before = mustLook ? await this.#statIfExists(path) : undefined;
    if (before !== undefined && !isRegularFile(before)) {
      throw new KubesftpError(ErrorCode.FAILURE, `${path} is not a regular file`);
    }
    if (before !== undefined) this.#require('overwrite', dir);
    const remainingBytes = await this.#remainingQuota(before === undefined);
    const inner = await this.#inner.open(path, flags, attrs);
    const sizeBefore = before?.size;
    return new TransferFile({
      inner,
      ctx: this.#ctx,
      path,
      upload: {
        sizeBefore,
        sizeAtOpen: flags.truncate ? 0 : (sizeBefore ?? 0),
        remainingBytes,
        quota: accounting
          ? {
              sizeAfter: async () => (await this.#statIfExists(path))?.size,
              add: (size, files) => this.#addQuota(size, files),
            }
          : undefined,
      },
    });
  }

  opendir(path: string): Promise<VfsDir> {
    this.#require('list', path);
    return this.#inner.opendir(path);
  }

  async mkdir(path: string, attrs?: SetAttrs): Promise<void> {
    this.#require('create_dirs', posix.dirname(path));
    await this.#inner.mkdir(path, attrs);
    this.#log({ sender: 'Mkdir', file_path: path });
  }

  async rmdir(path: string): Promise<void> {
    this.#require('delete', posix.dirname(path));
    await this.#inner.rmdir(path);
    this.#log({ sender: 'Rmdir', file_path: path });
  }

  async remove(path: string): Promise<void> {
    this.#require('delete', posix.dirname(path));
    const before = await this.#inner.lstat(path);
    if (isDirectory(before))
      throw new KubesftpError(ErrorCode.IS_A_DIRECTORY, `${path} is a directory`);
    await this.#inner.remove(path);
    if (isRegularFile(before)) await this.#addQuota(-before.size, -1);
    this.#log({ sender: 'Remove', file_path: path });
  }

  async rename(from: string, to: string, options: RenameOptions): Promise<void> {
    this.#require('rename', posix.dirname(from));
    this.#require('rename', posix.dirname(to));
    const replaced = options.overwrite ? await this.#lstatIfExists(to) : undefined;
    if (replaced !== undefined) this.#require('overwrite', posix.dirname(to));
    await this.#inner.rename(from, to, options);
    if (replaced !== undefined && isRegularFile(replaced)) await this.#addQuota(-replaced.size, -1);
    this.#log({ sender: 'Rename', file_path: from, target_path: to });
  }

  async symlink(linkPath: string, target: string): Promise<void> {
    this.#require('create_symlinks', posix.dirname(linkPath));
    await this.#inner.symlink(linkPath, target);
    this.#log({ sender: 'Symlink', file_path: target, target_path: linkPath });
  }

  readlink(path: string): Promise<string> {
    this.#require('list', posix.dirname(path));
    return this.#inner.readlink(path);
  }

  /** A hard link adds a name that quota counts as a file of its own, like an upload would. */
  async link(existingPath: string, newPath: string): Promise<void> {
    this.#require('create_symlinks', posix.dirname(newPath));
    this.#require('download', posix.dirname(existingPath));
    const source = await this.#inner.lstat(existingPath);
    const remaining = await this.#remainingQuota(true);
    if (source.size > remaining)
      throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'quota exceeded');
    await this.#inner.link(existingPath, newPath);
    await this.#addQuota(source.size, 1);
    this.#log({ sender: 'Link', file_path: existingPath, target_path: newPath });
  }

  setstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#applySetstat(path, attrs, (a) => this.#inner.setstat(path, a));
  }

  lsetstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#applySetstat(path, attrs, (a) => this.#inner.lsetstat(path, a));
  }

  statvfs(path: string): Promise<StatVfs> {
    this.#ctx.touch();
    return this.#inner.statvfs(path);
  }

  /**
   * Checks each attribute against its own permission. With setstat_mode 1, mode, owner and
   * times are dropped silently; a size change is a truncation and is never ignored.
   */
  async #applySetstat(
    path: string,
    attrs: SetAttrs,
    apply: (attrs: SetAttrs) => Promise<void>,
  ): Promise<void> {
    const dir = posix.dirname(path);
    const wanted = this.#ctx.setstatMode === 1 ? { size: attrs.size } : attrs;
    const hasOwner = wanted.uid !== undefined || wanted.gid !== undefined;
    const hasTimes = wanted.atime !== undefined || wanted.mtime !== undefined;
    if (wanted.mode !== undefined) this.#require('chmod', dir);
    if (hasOwner) this.#require('chown', dir);
    if (hasTimes) this.#require('chtimes', dir);
    if (wanted.size !== undefined) this.#require('overwrite', dir);
    const before = wanted.size !== undefined ? await this.#inner.stat(path) : undefined;
    if (Object.values(wanted).some((v) => v !== undefined)) await apply(wanted);
    if (before !== undefined && wanted.size !== undefined) {
      await this.#addQuota(wanted.size - before.size, 0);
    }
    this.#logSetstat(path, wanted);
  }

  #logSetstat(path: string, attrs: SetAttrs): void {
    if (attrs.mode !== undefined) {
      this.#log({ sender: 'Chmod', file_path: path, filemode: attrs.mode });
    }
    if (attrs.uid !== undefined || attrs.gid !== undefined) {
      this.#log({ sender: 'Chown', file_path: path, uid: attrs.uid ?? -1, gid: attrs.gid ?? -1 });
    }
    if (attrs.atime !== undefined || attrs.mtime !== undefined) {
      this.#log({
        sender: 'Chtimes',
        file_path: path,
        access_time: toDate(attrs.atime),
        modification_time: toDate(attrs.mtime),
      });
    }
    if (attrs.size !== undefined) this.#log({ sender: 'Truncate', file_path: path });
  }

  #require(perm: Permission, dir: string): void {
    this.#ctx.touch();
    if (!this.#perms.allowedIn(perm, dir)) {
      throw new KubesftpError(ErrorCode.PERMISSION_DENIED, `permission "${perm}" denied in ${dir}`);
    }
  }

  #tracksQuota(): boolean {
    const { user, trackQuota } = this.#ctx;
    if (trackQuota === 0) return false;
    return trackQuota === 1 || user.quota_size > 0 || user.quota_files > 0;
  }

  #hasQuotaLimits(): boolean {
    const { user } = this.#ctx;
    return user.quota_size > 0 || user.quota_files > 0;
  }

  /** Bytes the user may still add; throws when a new file would pass the file-count limit. */
  async #remainingQuota(newFile: boolean): Promise<number> {
    const { user } = this.#ctx;
    if (!this.#hasQuotaLimits()) return Infinity;
    const used = await this.#ctx.quota.usage();
    if (newFile && user.quota_files > 0 && used.files >= user.quota_files) {
      throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'file quota exceeded');
    }
    if (user.quota_size <= 0) return Infinity;
    const remaining = user.quota_size - used.size;
    if (remaining <= 0) throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'size quota exceeded');
    return remaining;
  }

  async #addQuota(sizeDelta: number, filesDelta: number): Promise<void> {
    if (this.#tracksQuota()) await this.#ctx.quota.add(sizeDelta, filesDelta);
  }

  #statIfExists(path: string): Promise<FileStat | undefined> {
    return orUndefinedIfMissing(this.#inner.stat(path));
  }

  #lstatIfExists(path: string): Promise<FileStat | undefined> {
    return orUndefinedIfMissing(this.#inner.lstat(path));
  }

  #log(record: Omit<CommandRecord, 'username' | 'connection_id' | 'protocol'>): void {
    const { user, connectionId, protocol } = this.#ctx;
    this.#ctx.events.command({
      ...record,
      username: user.username,
      connection_id: connectionId,
      protocol,
    });
  }
}

async function orUndefinedIfMissing(pending: Promise<FileStat>): Promise<FileStat | undefined> {
  try {
    return await pending;
  } catch (err) {
    if (isKubesftpError(err, ErrorCode.NO_SUCH_FILE)) return undefined;
    throw err;
  }
}

function toDate(seconds: number | undefined): Date | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000);
}
