/** The stream held a length field larger than the session accepts (or zero). */
export const BAD_LENGTH = Symbol('bad packet length');

/**
 * Splits the channel's byte stream into packets. A packet inside one chunk is returned as a
 * view of it; only a packet spanning chunks is copied, once.
 */
export class FrameBuffer {
  readonly #maxLength: number;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
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
      this.#consumeFirst(4 + length);
      return first.subarray(4, 4 + length);
    }
    const packet = Buffer.allocUnsafe(4 + length);
    this.#consumeInto(packet);
    return packet.subarray(4);
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

  #consumeInto(target: Buffer): void {
    let at = 0;
    while (at < target.length) {
      const first = this.#chunks[0]!;
      const count = Math.min(first.length, target.length - at);
      first.copy(target, at, 0, count);
      at += count;
      this.#consumeFirst(count);
    }
  }
}
