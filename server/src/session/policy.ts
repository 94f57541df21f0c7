/**
 * The checks of one session, shared by path operations (PolicyVfs) and handle operations
 * (TransferFile): permissions by the operation table, the owner a chown may set, quota, and the
 * command log. Every check takes a canonical virtual path, the one the backend resolved.
 */
import type { Permission } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { FileStat, SetAttrs } from '../vfs/types.js';
import { SETTABLE_MODE_BITS } from '../vfs/types.js';
import { Permissions, type Operation, OPERATION_RULES } from './permissions.js';
import type { CommandRecord, FileOperationEvent, QuotaChange, SessionContext } from './types.js';

export type LogRecord = Omit<CommandRecord, 'username' | 'connection_id' | 'protocol'>;

function denied(perm: Permission, dir: string): KubesftpError {
  return new KubesftpError(ErrorCode.PERMISSION_DENIED, `permission "${perm}" denied in ${dir}`);
}

function hasOwner(attrs: SetAttrs): boolean {
  return attrs.uid !== undefined || attrs.gid !== undefined;
}

function hasTimes(attrs: SetAttrs): boolean {
  return attrs.atime !== undefined || attrs.mtime !== undefined;
}

export class SessionPolicy {
  readonly ctx: SessionContext;
  readonly perms: Permissions;

  constructor(ctx: SessionContext) {
    this.ctx = ctx;
    this.perms = new Permissions(ctx.user.permissions);
  }

  /** Throws PERMISSION_DENIED unless `operation` on the entry at `path` is allowed. */
  check(operation: Operation, path: string): void {
    this.ctx.touch();
    if (!this.perms.permits(operation, path)) {
      throw denied(OPERATION_RULES[operation].needs, this.perms.judgedDirectory(operation, path));
    }
  }

  /**
   * A rename moves both names; a directory holding a permission rule never moves, nor does
   * anything move onto one, so no file leaves (or enters) a rule's reach by a rename.
   */
  checkRename(from: string, to: string, replacing: boolean): void {
    this.check('rename', from);
    this.check('rename', to);
    if (replacing) this.check('overwrite', to);
    this.#checkNoRule(from);
    this.#checkNoRule(to);
  }

  /** Removing a rule's directory is refused too: its rule is part of the account, not the user's. */
  checkRmdir(path: string): void {
    this.check('rmdir', path);
    this.#checkNoRule(path);
  }

  #checkNoRule(path: string): void {
    if (this.perms.hasRuleAtOrBelow(path)) {
      throw new KubesftpError(
        ErrorCode.PERMISSION_DENIED,
        `${path} holds a permission rule and cannot be moved or removed`,
      );
    }
  }

  /**
   * A hard link shares the file: whatever the new name allows (overwrite, chmod, ...) would
   * change the file at its old name too. So the new directory must grant nothing the old one
   * does not.
   */
  checkLink(existing: string, created: string): void {
    this.check('link', created);
    const from = this.perms.judgedDirectory('link', existing);
    const to = this.perms.judgedDirectory('link', created);
    if (!this.perms.grantsNoMore(to, from)) {
      throw new KubesftpError(
        ErrorCode.PERMISSION_DENIED,
        `a hard link in ${to} would grant more than ${from} does on the same file`,
      );
    }
  }

  /**
   * The attributes of a setstat to apply: each checked against its own permission, mode bits
   * limited to 0777, owners limited to the account's own ids. With setstat_mode 1, mode, owner
   * and times are dropped silently; a size change is a truncation and is never ignored.
   */
  async setstatAttrs(
    path: string,
    attrs: SetAttrs,
    current: () => Promise<FileStat>,
  ): Promise<SetAttrs> {
    const wanted = this.ctx.setstatMode === 1 ? { size: attrs.size } : { ...attrs };
    if (wanted.mode !== undefined) {
      this.check('chmod', path);
      wanted.mode &= SETTABLE_MODE_BITS;
    }
    if (hasOwner(wanted)) this.check('chown', path);
    if (hasTimes(wanted)) this.check('chtimes', path);
    if (wanted.size !== undefined) this.check('truncate', path);
    if (hasOwner(wanted) && !this.ctx.chownAnyId) this.#checkOwner(wanted, await current());
    return wanted;
  }

  /** A chown may keep an id or set the account's own; any other id needs chown_any_id. */
  #checkOwner(attrs: SetAttrs, current: FileStat): void {
    const own = this.ownIds();
    const uidOk = attrs.uid === undefined || attrs.uid === own.uid || attrs.uid === current.uid;
    const gidOk = attrs.gid === undefined || attrs.gid === own.gid || attrs.gid === current.gid;
    if (!uidOk || !gidOk) {
      throw new KubesftpError(
        ErrorCode.PERMISSION_DENIED,
        "chown may only set the account's own uid and gid",
      );
    }
  }

  /** The account's uid and gid; 0 means the server process's own. */
  ownIds(): { uid: number; gid: number } {
    const { uid, gid } = this.ctx.user;
    return {
      uid: uid > 0 ? uid : (process.getuid?.() ?? 0),
      gid: gid > 0 ? gid : (process.getgid?.() ?? 0),
    };
  }

  logSetstat(path: string, attrs: SetAttrs): void {
    if (attrs.mode !== undefined) {
      this.log({ sender: 'Chmod', file_path: path, filemode: attrs.mode });
    }
    if (hasOwner(attrs)) {
      this.log({ sender: 'Chown', file_path: path, uid: attrs.uid ?? -1, gid: attrs.gid ?? -1 });
    }
    if (hasTimes(attrs)) {
      this.log({
        sender: 'Chtimes',
        file_path: path,
        access_time: toDate(attrs.atime),
        modification_time: toDate(attrs.mtime),
      });
    }
    if (attrs.size !== undefined) this.log({ sender: 'Truncate', file_path: path });
  }

  log(record: LogRecord): void {
    const { user, connectionId, protocol } = this.ctx;
    this.ctx.events.command({
      ...record,
      username: user.username,
      connection_id: connectionId,
      protocol,
    });
  }

  /** Reports a file operation that succeeded to whoever acts on it (the custom actions). */
  completed(
    event: Pick<FileOperationEvent, 'operation' | 'virtualPath' | 'targetPath' | 'size'>,
  ): void {
    const { user, connectionId, protocol, events } = this.ctx;
    events.fileOperationCompleted?.({ ...event, user, connectionId, protocol });
  }

  tracksQuota(): boolean {
    const { user, trackQuota } = this.ctx;
    if (trackQuota === 0) return false;
    return trackQuota === 1 || user.quota_size > 0 || user.quota_files > 0;
  }

  hasQuotaLimits(): boolean {
    const { user } = this.ctx;
    return user.quota_size > 0 || user.quota_files > 0;
  }

  /**
   * Takes quota for an operation about to add up to `size` bytes and `files` files: from what
   * the session holds, or reserved in the provider first. Throws QUOTA_EXCEEDED. Users
   * without limits take nothing.
   */
  async takeQuota(size: number, files: number): Promise<void> {
    if (!this.hasQuotaLimits() || (size <= 0 && files <= 0)) return;
    if (!this.ctx.quota.tryTake(size, files)) await this.ctx.quota.take(size, files);
  }

  /** The same without waiting, for writes: false when a reservation is needed (takeQuota). */
  tryTakeQuota(size: number): boolean {
    return !this.hasQuotaLimits() || this.ctx.quota.tryTake(size, 0);
  }

  /**
   * Settles an operation: its change is counted in the stored usage when quota is tracked for
   * the user, and what it took and did not use goes back to the session.
   */
  async settleQuota(change: QuotaChange): Promise<void> {
    const counted = this.tracksQuota() ? change : { ...change, sizeDelta: 0, filesDelta: 0 };
    const { sizeDelta, filesDelta, takenSize, takenFiles } = counted;
    if (sizeDelta === 0 && filesDelta === 0 && takenSize === 0 && takenFiles === 0) return;
    await this.ctx.quota.settle(counted);
  }

  /**
   * Bytes the user may still add by the stored usage, or Infinity; throws QUOTA_EXCEEDED when
   * nothing is left (or no file, for `newFile`). For jobs judged once before they start (a
   * system binary), not for writes: those take their space first.
   */
  async remainingQuota(newFile: boolean): Promise<number> {
    const { user } = this.ctx;
    if (!this.hasQuotaLimits()) return Infinity;
    const used = await this.ctx.quota.usage();
    if (newFile && user.quota_files > 0 && used.files >= user.quota_files) {
      throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'file quota exceeded');
    }
    if (user.quota_size <= 0) return Infinity;
    const remaining = user.quota_size - used.size;
    if (remaining <= 0) throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'size quota exceeded');
    return remaining;
  }

  /** A change that took nothing from the quota first: a removal, a replaced file. */
  async countQuota(sizeDelta: number, filesDelta: number): Promise<void> {
    await this.settleQuota({ sizeDelta, filesDelta, takenSize: 0, takenFiles: 0 });
  }
}

function toDate(seconds: number | undefined): Date | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000);
}
