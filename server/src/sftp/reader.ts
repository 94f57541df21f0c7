import { AttrFlag } from './constants.js';
import type { WireAttrs } from './attrs.js';

/** Extended attribute pairs a client may send; tolerated and bounded, never acted on. */
const MAX_EXTENDED_PAIRS = 64;
const TWO_TO_32 = 0x1_0000_0000;

/**
 * A sticky-error reader over one packet: after the first short read every read returns a zero
 * value and `failed` stays set, so a decoder reads every field and checks once at the end.
 */
export class PacketReader {
  readonly #buf: Buffer;
  readonly #end: number;
  #pos: number;
  failed = false;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #take(length: number): number {
    if (this.failed || length > this.#end - this.#pos) {
      this.failed = true;
      return -1;
    }
    const at = this.#pos;
    this.#pos += length;
    return at;
  }

  u8(): number {
    const at = this.#take(1);
    return at < 0 ? 0 : this.#buf[at]!;
  }

  u32(): number {
    const at = this.#take(4);
    return at < 0 ? 0 : this.#buf.readUInt32BE(at);
  }

  /** A u64 as a Number; offsets past 2^53 lose precision, which only moves them further past EOF. */
  u64(): number {
    const at = this.#take(8);
    if (at < 0) return 0;
    return this.#buf.readUInt32BE(at) * TWO_TO_32 + this.#buf.readUInt32BE(at + 4);
  }

  /** A length-prefixed byte string as a view into the packet (no copy). */
  bytes(): Buffer {
    const length = this.u32();
    const at = this.#take(length);
    return at < 0 ? EMPTY : this.#buf.subarray(at, at + length);
  }

  string(): string {
    const length = this.u32();
    const at = this.#take(length);
    return at < 0 ? '' : this.#buf.toString('utf8', at, at + length);
  }

  /** Handles are compared byte for byte, so they are read as latin1. */
  handle(): string {
    const length = this.u32();
    const at = this.#take(length);
    return at < 0 ? '' : this.#buf.toString('latin1', at, at + length);
  }

  attrs(): WireAttrs {
    const flags = this.u32();
    const attrs: WireAttrs = {};
    if (flags & AttrFlag.SIZE) attrs.size = this.u64();
    if (flags & AttrFlag.UIDGID) {
      attrs.uid = this.u32();
      attrs.gid = this.u32();
    }
    if (flags & AttrFlag.PERMISSIONS) attrs.permissions = this.u32();
    if (flags & AttrFlag.ACMODTIME) {
      attrs.atime = this.u32();
      attrs.mtime = this.u32();
    }
    if (flags & AttrFlag.EXTENDED) this.#skipExtended();
    return attrs;
  }

  #skipExtended(): void {
    const count = this.u32();
    if (count > MAX_EXTENDED_PAIRS) {
      this.failed = true;
      return;
    }
    for (let i = 0; i < count && !this.failed; i++) {
      this.bytes();
      this.bytes();
    }
  }
}

const EMPTY = Buffer.alloc(0);
