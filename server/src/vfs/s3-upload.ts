/**
 * A file being uploaded to S3, streamed: bytes gather in one part-sized buffer; a full buffer
 * becomes a part of a multipart upload sent while the next one fills, with at most
 * `concurrency` parts in flight. A write waits while all of them are, which holds the client
 * back through the SFTP engine. So an upload holds at most (concurrency + 1) parts, plus up to
 * one part of writes that arrived ahead of their turn, whatever the file's size, and nothing
 * touches the local disk. A file smaller than one part is sent with one PUT at close.
 *
 * S3 objects are written once, front to back: a write before the bytes already received, or
 * further ahead than one part, is refused with UNSUPPORTED; nothing is ever written at a wrong
 * offset. The object appears only when close() completes it. A failure, abort() or a gap left
 * at close aborts the multipart upload, so neither an object nor stored parts remain.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ErrorCode, KubesftpError } from '../errors.js';
import { s3Call } from './s3-client.js';
import { MAX_PARTS } from './s3-settings.js';
import { S_IFREG, type FileStat, type SetAttrs, type VfsFile, type WriteData } from './types.js';

export interface S3UploadOptions {
  client: S3Client;
  bucket: string;
  key: string;
  storageClass: string;
  partSize: number;
  concurrency: number;
  /** What stat() reports besides the size. */
  stat: Omit<FileStat, 'size'>;
}

function unsupported(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.UNSUPPORTED, message);
}

export class S3Upload implements VfsFile {
  readonly #o: S3UploadOptions;
  readonly #abort = new AbortController();
  /** The part being filled, allocated on the first byte. */
  #part: Buffer | undefined;
  #fill = 0;
  /** Bytes accepted in order so far: where the next write must start. */
  #received = 0;
  /** Writes that arrived ahead of their turn, by offset, copied. */
  readonly #ahead = new Map<number, Buffer>();
  #uploadId: string | undefined;
  readonly #parts: CompletedPart[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  /** Buffers of sent parts, reused for the next ones. */
  readonly #spare: Buffer[] = [];
  #failure: KubesftpError | undefined;
  #state: 'open' | 'closing' | 'done' = 'open';

  constructor(options: S3UploadOptions) {
    this.#o = options;
  }

  read(): Promise<Buffer> {
    return Promise.reject(unsupported('an S3 upload cannot be read back before it is closed'));
  }

  /**
   * A refused write spoils the whole upload: the client was told a range is missing, so the
   * object must not be completed without it (close fails, nothing is stored).
   */
  async write(data: WriteData, position: number): Promise<void> {
    this.#checkUsable();
    try {
      await this.#accept(Buffer.isBuffer(data) ? [data] : data, position);
    } catch (err) {
      this.#failure ??=
        err instanceof KubesftpError ? err : new KubesftpError(ErrorCode.FAILURE, String(err));
      throw err;
    }
  }

  async #accept(chunks: readonly Buffer[], position: number): Promise<void> {
    if (position > this.#received) {
      this.#holdAhead(chunks, position);
      return;
    }
    if (position < this.#received) {
      throw unsupported(
        `S3 uploads are written once, in order: a write at ${position} comes after ${this.#received} bytes`,
      );
    }
    for (const chunk of chunks) await this.#append(chunk);
    await this.#takeAhead();
  }

  #checkUsable(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#state !== 'open') throw new KubesftpError(ErrorCode.FAILURE, 'file is closed');
  }

  /** A write past a gap waits (copied) for the gap to fill, if it ends within one part. */
  #holdAhead(chunks: readonly Buffer[], position: number): void {
    const copy = Buffer.concat(chunks);
    const reach = position + copy.length - this.#received;
    if (reach > this.#o.partSize || this.#ahead.has(position)) {
      throw unsupported(
        `S3 uploads are written in order: a write at ${position} is too far ahead of ${this.#received} bytes`,
      );
    }
    this.#ahead.set(position, copy);
  }

  async #takeAhead(): Promise<void> {
    for (let next = this.#ahead.get(this.#received); next !== undefined;) {
      this.#ahead.delete(this.#received);
      await this.#append(next);
      next = this.#ahead.get(this.#received);
    }
    for (const offset of this.#ahead.keys()) {
      if (offset < this.#received) throw unsupported(`S3 uploads: writes overlap at ${offset}`);
    }
  }

  async #append(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      this.#part ??= this.#spare.pop() ?? Buffer.allocUnsafe(this.#o.partSize);
      const copied = chunk.copy(this.#part, this.#fill, at);
      this.#fill += copied;
      this.#received += copied;
      at += copied;
      if (this.#fill === this.#part.length) await this.#sendPart();
    }
  }

  /** Sends the filled buffer as the next part once a slot is free; waits for the slot. */
  async #sendPart(): Promise<void> {
    const body = this.#part!;
    const length = this.#fill;
    this.#part = undefined;
    this.#fill = 0;
    this.#uploadId ??= await this.#create();
    while (this.#inFlight.size >= this.#o.concurrency) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const partNumber = this.#parts.length + this.#inFlight.size + 1;
    if (partNumber > MAX_PARTS) {
      throw new KubesftpError(
        ErrorCode.QUOTA_EXCEEDED,
        `S3 uploads have at most ${MAX_PARTS} parts of ${this.#o.partSize} bytes: raise upload_part_size`,
      );
    }
    const sent = this.#uploadPart(partNumber, body, length).finally(() => {
      this.#inFlight.delete(sent);
    });
    this.#inFlight.add(sent);
  }

  async #create(): Promise<string> {
    const { client, bucket, key, storageClass } = this.#o;
    const created = await s3Call('starting an upload', () =>
      client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...(storageClass === '' ? {} : { StorageClass: storageClass as never }),
        }),
        { abortSignal: this.#abort.signal },
      ),
    );
    if (created.UploadId === undefined) {
      throw new KubesftpError(ErrorCode.FAILURE, 'S3 gave no upload id');
    }
    return created.UploadId;
  }

  async #uploadPart(partNumber: number, body: Buffer, length: number): Promise<void> {
    const { client, bucket, key } = this.#o;
    try {
      const sent = await s3Call(`sending part ${partNumber}`, () =>
        client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: this.#uploadId,
            PartNumber: partNumber,
            Body: body.subarray(0, length),
            ContentLength: length,
          }),
          { abortSignal: this.#abort.signal },
        ),
      );
      this.#parts.push({ PartNumber: partNumber, ETag: sent.ETag });
      if (body.length === this.#o.partSize && this.#spare.length < this.#o.concurrency) {
        this.#spare.push(body);
      }
    } catch (err) {
      this.#failure ??=
        err instanceof KubesftpError ? err : new KubesftpError(ErrorCode.FAILURE, String(err));
    }
  }

  stat(): Promise<FileStat> {
    return Promise.resolve({
      ...this.#o.stat,
      mode: S_IFREG | (this.#o.stat.mode & 0o7777),
      size: this.#received,
    });
  }

  /** Only what changes nothing can be honoured: S3 has no modes, owners, times or truncation. */
  setstat(attrs: SetAttrs): Promise<void> {
    const { size, ...rest } = attrs;
    if (Object.values(rest).some((value) => value !== undefined)) {
      return Promise.reject(unsupported('S3 objects have no mode, owner or times to set'));
    }
    if (size !== undefined && size !== this.#received) {
      return Promise.reject(unsupported('an S3 upload cannot be truncated or extended'));
    }
    return Promise.resolve();
  }

  sync(): Promise<void> {
    return Promise.reject(unsupported('an S3 upload is stored when it is closed'));
  }

  /** Completes the object: one PUT for a small file, else the last part and the completion. */
  async close(): Promise<void> {
    if (this.#failure !== undefined) {
      await this.abort();
      throw this.#failure;
    }
    this.#checkUsable();
    this.#state = 'closing';
    try {
      if (this.#ahead.size > 0) {
        throw new KubesftpError(
          ErrorCode.FAILURE,
          `S3 upload left a gap after ${this.#received} bytes; nothing was stored`,
        );
      }
      if (this.#uploadId === undefined) await this.#putWhole();
      else await this.#complete();
      this.#state = 'done';
    } catch (err) {
      await this.#discard();
      throw err;
    }
  }

  async #putWhole(): Promise<void> {
    const { client, bucket, key, storageClass } = this.#o;
    const body = this.#part?.subarray(0, this.#fill) ?? Buffer.alloc(0);
    await s3Call('storing the file', () =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ...(storageClass === '' ? {} : { StorageClass: storageClass as never }),
        }),
        { abortSignal: this.#abort.signal },
      ),
    );
    this.#part = undefined;
  }

  async #complete(): Promise<void> {
    if (this.#fill > 0) await this.#sendPart();
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const { client, bucket, key } = this.#o;
    const parts = [...this.#parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    await s3Call('completing the upload', () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.#uploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
    this.#uploadId = undefined;
  }

  /** Drops everything: no object appears, and S3 keeps no part. */
  async abort(): Promise<void> {
    if (this.#state === 'done') return;
    this.#state = 'done';
    await this.#discard();
  }

  async #discard(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#inFlight);
    this.#part = undefined;
    this.#spare.length = 0;
    this.#ahead.clear();
    const uploadId = this.#uploadId;
    if (uploadId === undefined) return;
    this.#uploadId = undefined;
    const { client, bucket, key } = this.#o;
    // A part still arriving at S3 when the abort lands can be stored after it; S3 advises
    // aborting again, which is what a second attempt does.
    for (let attempt = 0; attempt < 2; attempt++) {
      await s3Call('aborting the upload', () =>
        client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
        ),
      ).catch(() => undefined);
    }
  }
}
