/**
 * One ranged GET of an S3 object into a buffer, readable while it fills: a read waits only
 * for the bytes it needs, not for the whole range. That is what lets a sequential download
 * stream through part-sized GETs without a stall at each part's start.
 *
 * The buffer is lent by the caller and handed back through `recycle` once the range is retired
 * and no read holds it, so a long download reuses the same few part buffers: the socket's
 * pieces die young and the collector has little to do.
 *
 * Every GET names the ETag seen at open (If-Match): if the object is replaced meanwhile, the
 * read fails instead of mixing two versions.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { ErrorCode, KubesftpError } from '../errors.js';
import { fromS3, isPreconditionFailed } from './s3-client.js';

export interface ObjectVersion {
  client: S3Client;
  bucket: string;
  key: string;
  etag: string | undefined;
}

export interface RangeOptions {
  start: number;
  end: number;
  /** At least end - start bytes; filled from its start. */
  buffer: Buffer;
  /** Takes the buffer back once the range is retired and unused. */
  recycle?: (buffer: Buffer) => void;
}

/** Someone waiting until the range holds `need` bytes from its start. */
interface Waiter {
  need: number;
  resolve: () => void;
  reject: (err: KubesftpError) => void;
}

export class RangeFetch {
  /** Offset of the range in the object, and where it ends. */
  readonly start: number;
  readonly end: number;
  readonly #buffer: Buffer;
  readonly #recycle: ((buffer: Buffer) => void) | undefined;
  readonly #abort = new AbortController();
  #waiters: Waiter[] = [];
  #filled = 0;
  /** Reads that will copy from this range. */
  #readers = 0;
  #retired = false;
  #error: KubesftpError | undefined;
  #settled = false;

  /** Starts the GET of [start, end) of the object. */
  constructor(object: ObjectVersion, range: RangeOptions) {
    this.start = range.start;
    this.end = range.end;
    this.#buffer = range.buffer;
    this.#recycle = range.recycle;
    void this.#run(object);
  }

  /** A read that will copy from this range says so before it waits, and again when done. */
  hold(): void {
    this.#readers++;
  }

  release(): void {
    this.#readers--;
    if (this.#retired && this.#readers === 0) this.#giveBack();
  }

  /** No new read will use this range: it is stopped and its buffer given back once unused. */
  retire(): void {
    this.#retired = true;
    if (this.#readers === 0) this.#giveBack();
  }

  /** Copies [from, to) of the object (within the range) into `into` at `at`, once it arrived. */
  async copyTo(from: number, to: number, into: Buffer, at: number): Promise<number> {
    await this.arrived(to);
    return this.#buffer.copy(into, at, from - this.start, to - this.start);
  }

  /** Resolves once the object's bytes up to `to` (within the range) are in the buffer. */
  async arrived(to: number): Promise<void> {
    const need = to - this.start;
    if (this.#filled >= need) return;
    if (this.#error !== undefined) throw this.#error;
    await new Promise<void>((resolve, reject) => this.#waiters.push({ need, resolve, reject }));
  }

  /** Stops the GET; whoever still waits gets `reason`. */
  cancel(reason: string): void {
    if (this.#settled) return;
    this.#fail(new KubesftpError(ErrorCode.FAILURE, reason));
    this.#abort.abort();
  }

  #giveBack(): void {
    this.cancel('read-ahead no longer needed');
    // After cancel no piece is copied in any more (#drain checks first), so the buffer is free.
    this.#recycle?.(this.#buffer);
  }

  async #run(object: ObjectVersion): Promise<void> {
    const { client, bucket, key, etag } = object;
    try {
      const got = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=${this.start}-${this.end - 1}`,
          ...(etag === undefined ? {} : { IfMatch: etag }),
        }),
        { abortSignal: this.#abort.signal },
      );
      await this.#drain(got.Body as Readable);
      const length = this.end - this.start;
      if (!this.#settled && this.#filled !== length) {
        throw new KubesftpError(ErrorCode.FAILURE, `S3 sent ${this.#filled} of ${length} bytes`);
      }
      this.#settled = true;
    } catch (err) {
      this.#fail(
        isPreconditionFailed(err)
          ? new KubesftpError(ErrorCode.FAILURE, `${key} changed while it was being read`)
          : fromS3(err, 'reading'),
      );
    }
  }

  async #drain(body: Readable): Promise<void> {
    const length = this.end - this.start;
    for await (const piece of body as AsyncIterable<Buffer>) {
      if (this.#settled) break;
      if (this.#filled + piece.length > length) {
        throw new KubesftpError(ErrorCode.FAILURE, 'S3 sent more bytes than the range asked for');
      }
      this.#filled += piece.copy(this.#buffer, this.#filled);
      if (this.#waiters.length > 0) this.#wake();
    }
  }

  #wake(): void {
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.need <= this.#filled) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  #fail(err: KubesftpError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#error = err;
    for (const waiter of this.#waiters) waiter.reject(err);
    this.#waiters = [];
  }
}
