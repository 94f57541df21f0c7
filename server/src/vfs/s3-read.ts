/**
 * An S3 object opened for reading. A sequential stream (reads that continue each other, or a
 * start at 0) is served from part-sized ranged GETs started ahead, `readAhead` parts beyond
 * the one being read, all in flight at once; each part is readable while it arrives, so a
 * `get` waits for S3 only when the client outruns it. Random access (a seek) gets exactly the
 * bytes it asked for with one ranged GET straight into the reply, and a run of continuing
 * reads after it turns read-ahead back on.
 *
 * Memory: the parts held are the one being read and `readAhead` ahead, (readAhead + 1) ×
 * chunkSize, in buffers reused from part to part. A part left behind is retired at once (its
 * GET stopped) unless a read issued before still copies from it, which can add a part while
 * the client's outstanding reads straddle it.
 */
import { ErrorCode, KubesftpError } from '../errors.js';
import { RangeFetch, type ObjectVersion } from './s3-range.js';
import type { FileStat, SetAttrs, VfsFile, WriteData } from './types.js';

export interface S3ReaderOptions extends ObjectVersion {
  stat: FileStat;
  chunkSize: number;
  readAhead: number;
}

/** Continuing reads after a seek before read-ahead starts again. */
const SEQUENTIAL_STREAK = 2;

function unsupported(message: string): KubesftpError {
  return new KubesftpError(ErrorCode.UNSUPPORTED, message);
}

export class S3Reader implements VfsFile {
  readonly #o: S3ReaderOptions;
  /** Parts fetched or being fetched for the sequential stream, by index. */
  readonly #parts = new Map<number, RangeFetch>();
  /** Single GETs of random reads, stopped at close. */
  readonly #random = new Set<RangeFetch>();
  /** Part buffers given back, for the next parts: a download allocates only its first few. */
  readonly #spare: Buffer[] = [];
  /** Where a read continuing the last one starts. */
  #next = 0;
  #streak = SEQUENTIAL_STREAK;
  #closed = false;

  constructor(options: S3ReaderOptions) {
    this.#o = options;
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    if (this.#closed) throw new KubesftpError(ErrorCode.FAILURE, 'file is closed');
    const end = Math.min(this.#o.stat.size, position + length);
    if (position >= end) return Buffer.alloc(0);
    const target = into ?? Buffer.allocUnsafe(end - position);
    const count = this.#follows(position, end)
      ? await this.#fromParts(position, end, target)
      : await this.#single(position, end, target);
    return target.subarray(0, count);
  }

  /** Judged before any wait, so reads issued together see each other in order. */
  #follows(position: number, end: number): boolean {
    const continues = position === this.#next || this.#parts.has(this.#indexOf(position));
    this.#streak = continues ? this.#streak + 1 : 0;
    this.#next = end;
    if (this.#streak >= SEQUENTIAL_STREAK) return true;
    // A seek: read-ahead of the old position is of no use any more.
    this.#dropParts(() => true);
    return false;
  }

  #indexOf(position: number): number {
    return Math.floor(position / this.#o.chunkSize);
  }

  async #fromParts(position: number, end: number, target: Buffer): Promise<number> {
    const first = this.#indexOf(position);
    const last = this.#indexOf(end - 1);
    this.#dropParts((index) => index < first);
    // Held before waiting: a later read may drop these parts from the map meanwhile.
    const parts: RangeFetch[] = [];
    const ahead = Math.min(this.#indexOf(this.#o.stat.size - 1), first + this.#o.readAhead);
    for (let index = first; index <= Math.max(last, ahead); index++) {
      const part = this.#part(index);
      if (index <= last) parts.push(part);
    }
    for (const part of parts) part.hold();
    try {
      let copied = 0;
      for (const part of parts) {
        const from = position + copied;
        copied += await part.copyTo(from, Math.min(end, part.end), target, copied);
      }
      return copied;
    } finally {
      for (const part of parts) part.release();
    }
  }

  #part(index: number): RangeFetch {
    let part = this.#parts.get(index);
    if (part === undefined) {
      const start = index * this.#o.chunkSize;
      const end = Math.min(this.#o.stat.size, start + this.#o.chunkSize);
      const buffer = this.#spare.pop() ?? Buffer.allocUnsafe(this.#o.chunkSize);
      part = new RangeFetch(this.#o, { start, end, buffer, recycle: this.#keepSpare });
      this.#parts.set(index, part);
    }
    return part;
  }

  readonly #keepSpare = (buffer: Buffer): void => {
    if (!this.#closed && this.#spare.length <= this.#o.readAhead) this.#spare.push(buffer);
  };

  /** Forgets the parts `which` picks; each stops once no read holds it. */
  #dropParts(which: (index: number) => boolean): void {
    for (const [index, part] of this.#parts) {
      if (!which(index)) continue;
      this.#parts.delete(index);
      part.retire();
    }
  }

  /** One ranged GET of [start, end) for a random read, straight into `target`. */
  async #single(start: number, end: number, target: Buffer): Promise<number> {
    const fetch = new RangeFetch(this.#o, { start, end, buffer: target });
    this.#random.add(fetch);
    try {
      await fetch.arrived(end);
      return end - start;
    } finally {
      this.#random.delete(fetch);
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
    for (const part of this.#parts.values()) part.cancel('file is closed');
    for (const fetch of this.#random) fetch.cancel('file is closed');
    this.#parts.clear();
    this.#random.clear();
    this.#spare.length = 0;
    return Promise.resolve();
  }

  abort(): Promise<void> {
    return this.close();
  }
}
