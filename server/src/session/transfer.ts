import {
  writeLength,
  type FileStat,
  type SetAttrs,
  type VfsFile,
  type WriteData,
} from '../vfs/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import type { SessionContext } from './types.js';

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
 * A file handle that counts what crosses it, enforces the size quota while writing, and on
 * close reports one transfer record and the quota change. Kept thin: it sits on the hot path.
 */
export class TransferFile implements VfsFile {
  readonly #inner: VfsFile;
  readonly #ctx: SessionContext;
  readonly #path: string;
  readonly #upload: UploadAccounting | undefined;
  readonly #started = Date.now();
  #bytes = 0;
  #endOfData: number;
  #finished = false;

  constructor(options: {
    inner: VfsFile;
    ctx: SessionContext;
    path: string;
    upload?: UploadAccounting;
  }) {
    this.#inner = options.inner;
    this.#ctx = options.ctx;
    this.#path = options.path;
    this.#upload = options.upload;
    this.#endOfData = options.upload?.sizeAtOpen ?? 0;
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    this.#ctx.touch();
    const data = await this.#inner.read(length, position, into);
    this.#bytes += data.length;
    return data;
  }

  async write(data: WriteData, position: number): Promise<void> {
    this.#ctx.touch();
    const upload = this.#upload;
    if (upload === undefined)
      throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'not open for writing');
    const length = writeLength(data);
    const end = position + length;
    if (end > this.#endOfData && end - (upload.sizeBefore ?? 0) > upload.remainingBytes) {
      throw new KubesftpError(ErrorCode.QUOTA_EXCEEDED, `quota exceeded writing ${this.#path}`);
    }
    await this.#inner.write(data, position);
    this.#bytes += length;
    if (end > this.#endOfData) this.#endOfData = end;
  }

  stat(): Promise<FileStat> {
    return this.#inner.stat();
  }

  async setstat(attrs: SetAttrs): Promise<void> {
    await this.#inner.setstat(attrs);
    if (attrs.size !== undefined) this.#endOfData = attrs.size;
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  async close(): Promise<void> {
    await this.#inner.close();
    await this.#finish();
  }

  async abort(): Promise<void> {
    await this.#inner.abort();
    await this.#finish();
  }

  async #finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    const ctx = this.#ctx;
    ctx.events.transfer({
      sender: this.#upload ? 'Upload' : 'Download',
      elapsed_ms: Date.now() - this.#started,
      size_bytes: this.#bytes,
      username: ctx.user.username,
      file_path: this.#path,
      connection_id: ctx.connectionId,
      // Transfers happen over SFTP or SCP only; SSH commands log as commands.
      protocol: ctx.protocol === 'SCP' ? 'SCP' : 'SFTP',
    });
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
