import {
  writeLength,
  type FileStat,
  type Location,
  type SetAttrs,
  type VfsFile,
  type WriteData,
} from '../vfs/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { SessionPolicy } from './policy.js';

export interface UploadAccounting {
  /** The file at the path before the open: its size, or undefined when there was none. */
  sizeBefore: number | undefined;
  /** Where writes start counting from: 0 after truncation, else the size before. */
  sizeAtOpen: number;
  /** Quota taken at the open: a byte (so a full quota refuses the open) and the new file. */
  taken: { size: number; files: number };
  /**
   * The file's size once the upload ended (atomic modes decide it at close), or undefined;
   * present when quota is tracked or limited for the user, so the close can settle it.
   */
  sizeAfter?(): Promise<number | undefined>;
}

/**
 * A file handle that counts what crosses it, takes quota before a write grows the file (from
 * the session's reservation, so most writes cost a comparison), judges handle setstat exactly
 * as a setstat of its path, and on close reports one transfer record and settles the quota.
 * Kept thin: it sits on the hot path.
 */
export class TransferFile implements VfsFile {
  readonly #inner: VfsFile;
  readonly #policy: SessionPolicy;
  /** The canonical path the file was opened at: where handle requests are judged. */
  readonly #path: string;
  readonly #upload: UploadAccounting | undefined;
  /** Held while quota needs to look at the file again at close; released then. */
  readonly #location: Location | undefined;
  readonly #started = Date.now();
  readonly #limited: boolean;
  #bytes = 0;
  #endOfData: number;
  /** Bytes taken from the quota for this file's growth so far. */
  #takenSize: number;
  /** After one refusal every later write is refused too, so no accepted write leaves a hole. */
  #refused = false;
  /** A read or write failed in the backend: the transfer ends, but not as a completed one. */
  #failed = false;
  #finished = false;

  constructor(options: {
    inner: VfsFile;
    policy: SessionPolicy;
    path: string;
    upload?: UploadAccounting;
    location?: Location;
  }) {
    this.#inner = options.inner;
    this.#policy = options.policy;
    this.#path = options.path;
    this.#upload = options.upload;
    this.#location = options.location;
    this.#endOfData = options.upload?.sizeAtOpen ?? 0;
    this.#takenSize = options.upload?.taken.size ?? 0;
    this.#limited = options.policy.hasQuotaLimits();
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    this.#policy.ctx.touch();
    let data: Buffer;
    try {
      data = await this.#inner.read(length, position, into);
    } catch (err) {
      this.#failed = true;
      throw err;
    }
    this.#bytes += data.length;
    return data;
  }

  async write(data: WriteData, position: number): Promise<void> {
    this.#policy.ctx.touch();
    const upload = this.#uploadOrDenied();
    const length = writeLength(data);
    const end = position + length;
    if (end > this.#endOfData || this.#refused) {
      const taking = this.#grow(upload, end);
      if (taking !== undefined) await taking;
    }
    try {
      await this.#inner.write(data, position);
    } catch (err) {
      this.#failed = true;
      throw err;
    }
    this.#bytes += length;
    if (end > this.#endOfData) this.#endOfData = end;
  }

  stat(): Promise<FileStat> {
    return this.#inner.stat();
  }

  async setstat(attrs: SetAttrs): Promise<void> {
    const wanted = await this.#policy.setstatAttrs(this.#path, attrs, () => this.#inner.stat());
    if (wanted.size !== undefined && wanted.size > this.#endOfData) {
      await this.#grow(this.#uploadOrDenied(), wanted.size);
    }
    if (Object.values(wanted).every((value) => value === undefined)) return;
    await this.#inner.setstat(wanted);
    if (wanted.size !== undefined) this.#endOfData = wanted.size;
    this.#policy.logSetstat(this.#path, wanted);
  }

  #uploadOrDenied(): UploadAccounting {
    if (this.#upload === undefined) {
      throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'not open for writing');
    }
    return this.#upload;
  }

  #quotaExceeded(cause?: unknown): KubesftpError {
    return new KubesftpError(ErrorCode.QUOTA_EXCEEDED, `quota exceeded writing ${this.#path}`, {
      cause,
    });
  }

  /**
   * Takes quota for growing the file to `end` beyond its size before the upload: at once when
   * the session holds enough, else through a reservation (the returned promise).
   */
  #grow(upload: UploadAccounting, end: number): Promise<void> | undefined {
    if (this.#refused) throw this.#quotaExceeded();
    if (!this.#limited) return undefined;
    const need = end - (upload.sizeBefore ?? 0) - this.#takenSize;
    if (need <= 0) return undefined;
    if (this.#policy.tryTakeQuota(need)) {
      this.#takenSize += need;
      return undefined;
    }
    return this.#policy.takeQuota(need, 0).then(
      () => void (this.#takenSize += need),
      (err: unknown) => {
        if (!(err instanceof KubesftpError && err.code === ErrorCode.QUOTA_EXCEEDED)) throw err;
        this.#refused = true;
        throw this.#quotaExceeded(err);
      },
    );
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  /**
   * An upload refused for quota failed: it ends as any failed upload does (abort), so an S3
   * upload stores nothing and an atomic local one is removed, never completed short.
   */
  async close(): Promise<void> {
    let completed = false;
    try {
      if (this.#refused) await this.#inner.abort();
      else {
        await this.#inner.close();
        completed = !this.#failed;
      }
    } finally {
      await this.#finish(completed);
    }
  }

  async abort(): Promise<void> {
    try {
      await this.#inner.abort();
    } finally {
      await this.#finish(false);
    }
  }

  /** `completed`: closed without an error on the way, so the actions may run for it. */
  async #finish(completed: boolean): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    try {
      await this.#report(completed);
    } finally {
      this.#location?.release();
    }
  }

  async #report(completed: boolean): Promise<void> {
    const ctx = this.#policy.ctx;
    // Transfers happen over SFTP or SCP only; what SSH commands read (a file to hash, say)
    // is in their own command record.
    if (ctx.protocol !== 'SSH') {
      ctx.events.transfer({
        sender: this.#upload ? 'Upload' : 'Download',
        elapsed_ms: Date.now() - this.#started,
        size_bytes: this.#bytes,
        username: ctx.user.username,
        file_path: this.#path,
        connection_id: ctx.connectionId,
        protocol: ctx.protocol,
      });
      if (completed) {
        this.#policy.completed({
          operation: this.#upload ? 'upload' : 'download',
          virtualPath: this.#path,
          size: this.#upload ? this.#endOfData : this.#bytes,
        });
      }
    }
    if (this.#upload) await this.#account(this.#upload);
  }

  /** Quota follows what the path holds afterwards, so discarded atomic uploads cost nothing. */
  async #account(upload: UploadAccounting): Promise<void> {
    const taken = { takenSize: this.#takenSize, takenFiles: upload.taken.files };
    if (upload.sizeAfter === undefined) {
      return this.#policy.settleQuota({ sizeDelta: 0, filesDelta: 0, ...taken });
    }
    let after: number | undefined;
    try {
      after = await upload.sizeAfter();
    } catch (err) {
      await this.#policy.settleQuota({ sizeDelta: 0, filesDelta: 0, ...taken });
      throw err;
    }
    const filesDelta = (after === undefined ? 0 : 1) - (upload.sizeBefore === undefined ? 0 : 1);
    const sizeDelta = (after ?? 0) - (upload.sizeBefore ?? 0);
    await this.#policy.settleQuota({ sizeDelta, filesDelta, ...taken });
  }
}
