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
  /** Bytes the user may still add, or Infinity. */
  remainingBytes: number;
  /** Present when quota usage is tracked for this user. */
  quota?: {
    /** The file's size once the upload ended (atomic modes decide it at close), or undefined. */
    sizeAfter(): Promise<number | undefined>;
    add(sizeDelta: number, filesDelta: number): Promise<void>;
  };
}

/**
 * A file handle that counts what crosses it, enforces the size quota while writing, judges
 * handle setstat exactly as a setstat of its path, and on close reports one transfer record and
 * the quota change. Kept thin: it sits on the hot path.
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
  #bytes = 0;
  #endOfData: number;
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
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    this.#policy.ctx.touch();
    const data = await this.#inner.read(length, position, into);
    this.#bytes += data.length;
    return data;
  }

  async write(data: WriteData, position: number): Promise<void> {
    this.#policy.ctx.touch();
    const upload = this.#uploadOrDenied();
    const length = writeLength(data);
    const end = position + length;
    this.#checkGrowth(upload, end);
    await this.#inner.write(data, position);
    this.#bytes += length;
    if (end > this.#endOfData) this.#endOfData = end;
  }

  stat(): Promise<FileStat> {
    return this.#inner.stat();
  }

  async setstat(attrs: SetAttrs): Promise<void> {
    const wanted = await this.#policy.setstatAttrs(this.#path, attrs, () => this.#inner.stat());
    if (wanted.size !== undefined) this.#checkGrowth(this.#uploadOrDenied(), wanted.size);
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

  /** Growing the file to `end` must stay within the bytes the quota leaves. */
  #checkGrowth(upload: UploadAccounting, end: number): void {
    if (end > this.#endOfData && end - (upload.sizeBefore ?? 0) > upload.remainingBytes) {
      throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, `quota exceeded writing ${this.#path}`);
    }
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  async close(): Promise<void> {
    try {
      await this.#inner.close();
    } finally {
      await this.#finish();
    }
  }

  async abort(): Promise<void> {
    try {
      await this.#inner.abort();
    } finally {
      await this.#finish();
    }
  }

  async #finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    try {
      await this.#report();
    } finally {
      this.#location?.release();
    }
  }

  async #report(): Promise<void> {
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
    }
    if (this.#upload?.quota) await this.#account(this.#upload, this.#upload.quota);
  }

  /** Quota follows what the path holds afterwards, so discarded atomic uploads cost nothing. */
  async #account(
    upload: UploadAccounting,
    quota: NonNullable<UploadAccounting['quota']>,
  ): Promise<void> {
    const after = await quota.sizeAfter();
    const filesDelta = (after === undefined ? 0 : 1) - (upload.sizeBefore === undefined ? 0 : 1);
    const sizeDelta = (after ?? 0) - (upload.sizeBefore ?? 0);
    if (filesDelta !== 0 || sizeDelta !== 0) await quota.add(sizeDelta, filesDelta);
  }
}
