/** Where large packets are assembled: a block of at least the size asked for. */
export interface BlockSource {
  take(size: number): Buffer;
}

/** The stream held a length field larger than the session accepts (or zero). */
export const BAD_LENGTH = Symbol('bad packet length');

/** Packets shorter than this are copied into plain buffers, never into pool blocks. */
const SMALL_PACKET = 4096;

/**
 * Splits the channel's byte stream into packets. A packet inside one chunk is returned as a
 * view of it; only a packet spanning chunks is copied, once. With a pool, large copies go into
 * its blocks, and whoever takes the packet releases the block when done with it.
 */
export class FrameBuffer {
  readonly #maxLength: number;
  readonly #pool: BlockSource | undefined;
  readonly #releaseChunk: ((chunk: Buffer) => void) | undefined;
  readonly #chunks: Buffer[] = [];
  /** Memory of chunks that packets were returned as views of: never given back. */
  readonly #viewed = new WeakSet<ArrayBufferLike>();
  #buffered = 0;

  /**
   * `pool`, when given, must lend blocks of up to `maxLength + 4` bytes. `releaseChunk`
   * is told of each pushed chunk once it has been copied out whole and no packet views it.
   */
  constructor(maxLength: number, pool?: BlockSource, releaseChunk?: (chunk: Buffer) => void) {
    this.#maxLength = maxLength;
    this.#pool = pool;
    this.#releaseChunk = releaseChunk;
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next packet without its length field, null when incomplete, BAD_LENGTH when invalid. */
  next(): Buffer | null | typeof BAD_LENGTH {
    if (this.#buffered < 4) return null;
    const length = this.#peekLength();
    if (length === 0 || length > this.#maxLength) return BAD_LENGTH;
    if (this.#buffered < 4 + length) return null;
    const first = this.#chunks[0]!;
    if (first.length >= 4 + length) {
      this.#viewed.add(first.buffer);
      this.#consumeFirst(4 + length);
      return first.subarray(4, 4 + length);
    }
    // Below Node's own pooling threshold a plain allocation is as cheap as a block.
    const pooled = this.#pool !== undefined && length >= SMALL_PACKET;
    const packet = pooled ? this.#pool.take(4 + length) : Buffer.allocUnsafe(4 + length);
    this.#consumeInto(packet, 4 + length);
    return packet.subarray(4, 4 + length);
  }

  #peekLength(): number {
    const first = this.#chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let at = 0;
    for (const chunk of this.#chunks) {
      at += chunk.copy(head, at, 0, Math.min(chunk.length, 4 - at));
      if (at === 4) break;
    }
    return head.readUInt32BE(0);
  }

  #consumeFirst(count: number): void {
    const first = this.#chunks[0]!;
    if (count === first.length) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(count);
    this.#buffered -= count;
  }

  #consumeInto(target: Buffer, total: number): void {
    let at = 0;
    while (at < total) {
      const first = this.#chunks[0]!;
      const count = Math.min(first.length, total - at);
      first.copy(target, at, 0, count);
      at += count;
      this.#consumeFirst(count);
      if (count === first.length && !this.#viewed.has(first.buffer)) this.#releaseChunk?.(first);
    }
  }
}
