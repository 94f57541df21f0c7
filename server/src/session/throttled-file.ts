import { writeLength, type VfsFile, type WriteData } from '../vfs/types.js';
import type { ByteRateLimiter } from './bandwidth.js';

/**
 * A file whose reads and writes wait for the session's byte rate. A read is charged the bytes
 * it returned (end of file costs nothing) and held until its turn; a write waits before it
 * reaches the backend. Either way the bytes waiting are the request's own, already in flight.
 * Only limited sessions get this wrapper, so unlimited ones pay nothing for it.
 */
class ThrottledFile implements VfsFile {
  readonly #inner: VfsFile;
  readonly #reads: ByteRateLimiter | undefined;
  readonly #writes: ByteRateLimiter | undefined;

  constructor(inner: VfsFile, limits: { reads?: ByteRateLimiter; writes?: ByteRateLimiter }) {
    this.#inner = inner;
    this.#reads = limits.reads;
    this.#writes = limits.writes;
  }

  async read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    const data = await this.#inner.read(length, position, into);
    const turn = this.#reads?.take(data.length);
    if (turn !== undefined) await turn;
    return data;
  }

  async write(data: WriteData, position: number): Promise<void> {
    const turn = this.#writes?.take(writeLength(data));
    if (turn !== undefined) await turn;
    return this.#inner.write(data, position);
  }

  stat(): ReturnType<VfsFile['stat']> {
    return this.#inner.stat();
  }

  setstat(...args: Parameters<VfsFile['setstat']>): Promise<void> {
    return this.#inner.setstat(...args);
  }

  sync(): Promise<void> {
    return this.#inner.sync();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  abort(): Promise<void> {
    return this.#inner.abort();
  }
}

/** `file` throttled by the limiters given; the file itself when neither applies. */
export function throttled(
  file: VfsFile,
  limits: { reads?: ByteRateLimiter | undefined; writes?: ByteRateLimiter | undefined },
): VfsFile {
  if (limits.reads === undefined && limits.writes === undefined) return file;
  return new ThrottledFile(file, limits);
}
