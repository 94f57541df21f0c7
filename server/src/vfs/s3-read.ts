/**
 * An S3 object opened for reading, with ranged GETs. A sequential stream (reads that continue
 * each other, or a start at 0) is served from part-sized chunks fetched ahead, `readAhead` of
 * them at once, so a `get` never waits for S3 between requests. Random access (a seek) gets
 * exactly the bytes it asked for with one ranged GET, and a run of continuing reads after it
 * turns read-ahead back on. A download holds at most (readAhead + 1) chunks.
 *
 * Every GET names the ETag seen at open (If-Match): if the object is replaced meanwhile, the
 * read fails instead of mixing two versions.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { ErrorCode, KubesftpError } from '../errors.js';
import { fromS3, isPreconditionFailed } from './s3-client.js';
import type { FileStat, SetAttrs, VfsFile, WriteData } from './types.js';

export interface S3ReaderOptions {
  client: S3Client;
  bucket: string;
  key: string;
  etag: string | undefined;
  stat: FileStat;
  chunkSize: number;
  readAhead: number;
}

/** Continuing reads after a seek before read-ahead starts again. */
const SEQUENTIAL_STREAK = 2;

function unsupported(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.UNSUPPORTED, message);
}

/** Copies the body of a GET into `into` from its start; resolves with the bytes copied. */
async function drainInto(body: Readable, into: Buffer): Promise<number> {
  let at = 0;
  for await (const piece of body as AsyncIterable<Buffer>) {
    if (at + piece.length > into.length) {
      body.destroy();
      throw new KubesftpError(ErrorCode.FAILURE, 'S3 sent more bytes than the range asked for');
    }
    at += piece.copy(into, at);
  }
  return at;
}

export class S3Reader implements VfsFile {
  readonly #o: S3ReaderOptions;
  readonly #abort = new AbortController();
  /** Chunks fetched or being fetched, by index. */
  readonly #chunks = new Map<number, Promise<Buffer>>();
  /** Where a read continuing the last one starts. */
  #next = 0;
  #streak = SEQUENTIAL_STREAK;
  #closed = false;

  constructor(options: S3ReaderOptions) {
    this.#o = options;
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    if (this.#closed) throw new KubesftpError(ErrorCode.FAILURE, 'file is closed');
    const size = this.#o.stat.size;
    const end = Math.min(size, position + length);
    if (position >= end) return Buffer.alloc(0);
    const target = into ?? Buffer.allocUnsafe(end - position);
    const sequential = this.#follows(position, end);
    const count = sequential
      ? await this.#fromChunks(position, end, target)
      : await this.#fetch(position, end, target);
    return target.subarray(0, count);
  }

  /** Judged before any wait, so reads issued together see each other in order. */
  #follows(position: number, end: number): boolean {
    const continues = position === this.#next || this.#chunks.has(this.#indexOf(position));
    this.#streak = continues ? this.#streak + 1 : 0;
    this.#next = end;
    if (this.#streak >= SEQUENTIAL_STREAK) return true;
    // A seek: read-ahead of the old position is of no use any more.
    this.#chunks.clear();
    return false;
  }

  #indexOf(position: number): number {
    return Math.floor(position / this.#o.chunkSize);
  }

  async #fromChunks(position: number, end: number, target: Buffer): Promise<number> {
    const first = this.#indexOf(position);
    this.#prefetch(first);
    let copied = 0;
    for (let index = first; position + copied < end; index++) {
      const chunk = await this.#chunk(index);
      const from = position + copied - index * this.#o.chunkSize;
      const take = Math.min(chunk.length - from, end - position - copied);
      copied += chunk.copy(target, copied, from, from + take);
    }
    return copied;
  }

  /** Starts the chunks from `first` on, `readAhead` of them, and forgets those behind. */
  #prefetch(first: number): void {
    for (const index of this.#chunks.keys()) if (index < first) this.#chunks.delete(index);
    const last = Math.min(this.#indexOf(this.#o.stat.size - 1), first + this.#o.readAhead);
    for (let index = first; index <= last; index++) void this.#chunk(index);
  }

  #chunk(index: number): Promise<Buffer> {
    let chunk = this.#chunks.get(index);
    if (chunk === undefined) {
      const start = index * this.#o.chunkSize;
      const end = Math.min(this.#o.stat.size, start + this.#o.chunkSize);
      const buffer = Buffer.allocUnsafe(end - start);
      chunk = this.#fetch(start, end, buffer).then((count) => buffer.subarray(0, count));
      // A chunk fetched ahead and then dropped must not surface as an unhandled rejection.
      chunk.catch(() => undefined);
      this.#chunks.set(index, chunk);
    }
    return chunk;
  }

  /** One ranged GET of [start, end) into `into`. */
  async #fetch(start: number, end: number, into: Buffer): Promise<number> {
    const { client, bucket, key, etag } = this.#o;
    try {
      const got = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=${start}-${end - 1}`,
          ...(etag === undefined ? {} : { IfMatch: etag }),
        }),
        { abortSignal: this.#abort.signal },
      );
      const count = await drainInto(got.Body as Readable, into);
      if (count !== end - start) {
        throw new KubesftpError(ErrorCode.FAILURE, `S3 sent ${count} of ${end - start} bytes`);
      }
      return count;
    } catch (err) {
      if (isPreconditionFailed(err)) {
        throw new KubesftpError(ErrorCode.FAILURE, `${key} changed while it was being read`);
      }
      throw fromS3(err, 'reading');
    }
  }

  write(_data: WriteData, _position: number): Promise<void> {
    return Promise.reject(new KubesftpError(ErrorCode.PERMISSION_DENIED, 'not open for writing'));
  }

  stat(): Promise<FileStat> {
    return Promise.resolve({ ...this.#o.stat });
  }

  setstat(_attrs: SetAttrs): Promise<void> {
    return Promise.reject(unsupported('S3 objects have no attributes to set'));
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    this.#chunks.clear();
    return Promise.resolve();
  }

  abort(): Promise<void> {
    return this.close();
  }
}
