import { ErrorCode, KubesftpError, isKubesftpError } from '../errors.js';
import type {
  Backend,
  FileStat,
  Location,
  OpenFlags,
  OpenHints,
  RenameOptions,
  SetAttrs,
  StatVfs,
  Vfs,
  VfsCapabilities,
  VfsDir,
  VfsFile,
} from '../vfs/types.js';
import { isDirectory, isRegularFile } from '../vfs/types.js';
import { atBothLocations, atLocation } from '../vfs/locations.js';
import { SessionPolicy } from './policy.js';
import { throttled } from './throttled-file.js';
import { TransferFile, type UploadAccounting } from './transfer.js';
import type { SessionContext } from './types.js';

const FOLLOW = { followFinal: true };

/** Any of these changes the file system, so an open with one of them is an upload. */
function opensForWriting(flags: OpenFlags): boolean {
  return flags.write || flags.create || flags.truncate || flags.append;
}

/**
 * The policy layer: every file-system operation of every protocol (SFTP, SCP, commands) goes
 * through here once. Each method is locate → check → act → account → log on one Location: the
 * permission is judged on the canonical path the backend resolved (symlinks expanded), and the
 * backend acts on that very place. Protocol layers only translate.
 */
export class PolicyVfs implements Vfs {
  readonly #backend: Backend;
  readonly #policy: SessionPolicy;

  constructor(backend: Backend, ctx: SessionContext) {
    this.#backend = backend;
    this.#policy = new SessionPolicy(ctx);
  }

  get capabilities(): VfsCapabilities {
    return this.#backend.capabilities;
  }

  #at<T>(path: string, followFinal: boolean, act: (at: Location) => Promise<T>): Promise<T> {
    this.#policy.ctx.touch();
    return atLocation(this.#backend, { path, followFinal }, act);
  }

  #atBoth<T>(paths: [string, string], act: (a: Location, b: Location) => Promise<T>): Promise<T> {
    this.#policy.ctx.touch();
    return atBothLocations(this.#backend, paths, act);
  }

  stat(path: string): Promise<FileStat> {
    return this.#at(path, true, (at) => {
      this.#policy.check('stat', at.path);
      return this.#backend.stat(at);
    });
  }

  lstat(path: string): Promise<FileStat> {
    return this.#at(path, false, (at) => {
      this.#policy.check('stat', at.path);
      return this.#backend.stat(at);
    });
  }

  realpath(path: string): Promise<string> {
    return this.#at(path, true, (at) => Promise.resolve(at.path));
  }

  async open(
    path: string,
    flags: OpenFlags,
    attrs?: SetAttrs,
    hints: OpenHints = {},
  ): Promise<VfsFile> {
    this.#policy.ctx.touch();
    const at = await this.#backend.locate(path, FOLLOW);
    let keepLocation = false;
    try {
      // Open with no access flags is a read, as OpenSSH's sftp-server opens it O_RDONLY.
      if (flags.read || !opensForWriting(flags)) this.#policy.check('download', at.path);
      if (!opensForWriting(flags)) return await this.#openForReading(at, flags);
      const upload = await this.#checkUpload(at, flags, hints);
      const inner = await this.#openTaken(at, flags, { upload, attrs });
      keepLocation = upload.sizeAfter !== undefined;
      return new TransferFile({
        inner,
        policy: this.#policy,
        path: at.path,
        upload,
        location: keepLocation ? at : undefined,
      });
    } finally {
      if (!keepLocation) at.release();
    }
  }

  /** Opens for an upload; quota taken for it goes back when the open fails. */
  async #openTaken(
    at: Location,
    flags: OpenFlags,
    o: { upload: UploadAccounting; attrs: SetAttrs | undefined },
  ): Promise<VfsFile> {
    try {
      return this.#throttled(await this.#backend.open(at, flags, o.attrs));
    } catch (err) {
      const { size, files } = o.upload.taken;
      await this.#policy.settleQuota({
        sizeDelta: 0,
        filesDelta: 0,
        takenSize: size,
        takenFiles: files,
      });
      throw err;
    }
  }

  async #openForReading(at: Location, flags: OpenFlags): Promise<VfsFile> {
    const inner = this.#throttled(await this.#backend.open(at, flags));
    return new TransferFile({ inner, policy: this.#policy, path: at.path });
  }

  /** The session's byte rates on what crosses the file (bandwidth.ts). */
  #throttled(file: VfsFile): VfsFile {
    const rates = this.#policy.ctx.bandwidth;
    return rates === undefined
      ? file
      : throttled(file, { reads: rates.download, writes: rates.upload });
  }

  /** upload, overwrite when a file is there, and quota; what quota needs at close. */
  async #checkUpload(at: Location, flags: OpenFlags, hints: OpenHints): Promise<UploadAccounting> {
    const policy = this.#policy;
    policy.check('upload', at.path);
    // What the path holds matters to the overwrite permission and to quota. When neither
    // applies, skip looking: the backend itself refuses to open a directory for writing.
    const accounting = policy.tracksQuota() || policy.hasQuotaLimits();
    const mustLook = accounting || !policy.perms.permits('overwrite', at.path);
    const before = mustLook ? await this.#statIfExists(at) : undefined;
    if (before !== undefined && !isRegularFile(before)) {
      throw new KubesftpError(ErrorCode.FAILURE, `${at.path} is not a regular file`);
    }
    if (before !== undefined) policy.check('overwrite', at.path);
    const taken = await this.#takeForOpen(at.path, hints, before);
    return {
      sizeBefore: before?.size,
      sizeAtOpen: flags.truncate ? 0 : (before?.size ?? 0),
      taken,
      ...(accounting ? { sizeAfter: async () => (await this.#statIfExists(at))?.size } : {}),
    };
  }

  /**
   * Quota an upload takes at its open: at least a byte, so a spent quota refuses the open
   * itself; all an announced size (scp) would add, so what cannot fit is refused before any
   * byte; and the file a new name adds.
   */
  async #takeForOpen(
    path: string,
    hints: OpenHints,
    before: FileStat | undefined,
  ): Promise<UploadAccounting['taken']> {
    if (!this.#policy.hasQuotaLimits()) return { size: 0, files: 0 };
    const announced = Math.max((hints.expectedSize ?? 0) - (before?.size ?? 0), 1);
    const taken = { size: announced, files: before === undefined ? 1 : 0 };
    try {
      await this.#policy.takeQuota(taken.size, taken.files);
    } catch (err) {
      if (isKubesftpError(err, ErrorCode.QUOTA_EXCEEDED) && announced > 1) {
        throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, `quota exceeded: ${path} does not fit`);
      }
      throw err;
    }
    return taken;
  }

  opendir(path: string): Promise<VfsDir> {
    return this.#at(path, true, (at) => {
      this.#policy.check('list', at.path);
      return this.#backend.opendir(at);
    });
  }

  mkdir(path: string, attrs?: SetAttrs): Promise<void> {
    return this.#at(path, false, async (at) => {
      this.#policy.check('mkdir', at.path);
      await this.#backend.mkdir(at, attrs);
      this.#policy.log({ sender: 'Mkdir', file_path: at.path });
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#at(path, false, async (at) => {
      this.#policy.checkRmdir(at.path);
      await this.#backend.rmdir(at);
      this.#policy.log({ sender: 'Rmdir', file_path: at.path });
    });
  }

  remove(path: string): Promise<void> {
    return this.#at(path, false, async (at) => {
      this.#policy.check('remove', at.path);
      const before = await this.#backend.stat(at);
      if (isDirectory(before)) {
        throw new KubesftpError(ErrorCode.IS_A_DIRECTORY, `${at.path} is a directory`);
      }
      await this.#backend.remove(at);
      if (isRegularFile(before)) await this.#policy.countQuota(-before.size, -1);
      this.#policy.log({ sender: 'Remove', file_path: at.path });
      this.#policy.completed({ operation: 'delete', virtualPath: at.path, size: before.size });
    });
  }

  rename(from: string, to: string, options: RenameOptions): Promise<void> {
    return this.#atBoth([from, to], async (source, target) => {
      const replaced = options.overwrite ? await this.#statIfExists(target) : undefined;
      this.#policy.checkRename(source.path, target.path, replaced !== undefined);
      await this.#backend.rename(source, target, options);
      if (replaced !== undefined && isRegularFile(replaced)) {
        await this.#policy.countQuota(-replaced.size, -1);
      }
      this.#policy.log({ sender: 'Rename', file_path: source.path, target_path: target.path });
      this.#policy.completed({
        operation: 'rename',
        virtualPath: source.path,
        targetPath: target.path,
      });
    });
  }

  symlink(linkPath: string, target: string): Promise<void> {
    return this.#at(linkPath, false, async (at) => {
      // Where the link points is judged on every use, on the place it resolves to.
      this.#policy.check('symlink', at.path);
      await this.#backend.symlink(at, target);
      this.#policy.log({ sender: 'Symlink', file_path: target, target_path: at.path });
    });
  }

  readlink(path: string): Promise<string> {
    return this.#at(path, false, (at) => {
      this.#policy.check('readlink', at.path);
      return this.#backend.readlink(at);
    });
  }

  /** A hard link adds a name that quota counts as a file of its own, like an upload would. */
  link(existingPath: string, newPath: string): Promise<void> {
    return this.#atBoth([existingPath, newPath], async (existing, at) => {
      this.#policy.checkLink(existing.path, at.path);
      const source = await this.#backend.stat(existing);
      const limited = this.#policy.hasQuotaLimits();
      const taken = { takenSize: limited ? source.size : 0, takenFiles: limited ? 1 : 0 };
      await this.#policy.takeQuota(source.size, 1);
      try {
        await this.#backend.link(existing, at);
      } catch (err) {
        await this.#policy.settleQuota({ sizeDelta: 0, filesDelta: 0, ...taken });
        throw err;
      }
      await this.#policy.settleQuota({ sizeDelta: source.size, filesDelta: 1, ...taken });
      this.#policy.log({ sender: 'Link', file_path: existing.path, target_path: at.path });
    });
  }

  setstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#at(path, true, (at) => this.#setstat(at, attrs));
  }

  lsetstat(path: string, attrs: SetAttrs): Promise<void> {
    return this.#at(path, false, (at) => this.#setstat(at, attrs));
  }

  async #setstat(at: Location, attrs: SetAttrs): Promise<void> {
    const policy = this.#policy;
    const wanted = await policy.setstatAttrs(at.path, attrs, () => this.#backend.stat(at));
    if (Object.values(wanted).every((value) => value === undefined)) return;
    const size = wanted.size;
    const sizeBefore = size === undefined ? undefined : (await this.#backend.stat(at)).size;
    // Growing a file by truncate costs quota like writing zeros would.
    const grown =
      size !== undefined && sizeBefore !== undefined ? Math.max(size - sizeBefore, 0) : 0;
    await policy.takeQuota(grown, 0);
    const taken = { takenSize: policy.hasQuotaLimits() ? grown : 0, takenFiles: 0 };
    try {
      await this.#backend.setstat(at, wanted);
    } catch (err) {
      await policy.settleQuota({ sizeDelta: 0, filesDelta: 0, ...taken });
      throw err;
    }
    const sizeDelta = size !== undefined && sizeBefore !== undefined ? size - sizeBefore : 0;
    await policy.settleQuota({ sizeDelta, filesDelta: 0, ...taken });
    policy.logSetstat(at.path, wanted);
  }

  statvfs(path: string): Promise<StatVfs> {
    return this.#at(path, true, (at) => this.#backend.statvfs(at));
  }

  close(): Promise<void> {
    return this.#backend.close();
  }

  #statIfExists(at: Location): Promise<FileStat | undefined> {
    return orUndefinedIfMissing(this.#backend.stat(at));
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
