import { attrsFlags, attrsLength, type WireAttrs } from './attrs.js';
import { AttrFlag, PacketType, STATUS_MESSAGES, type StatusCode } from './constants.js';

const TWO_TO_32 = 0x1_0000_0000;
/** length(4) + type(1) + request id(4) */
const HEADER_LENGTH = 9;

export function stringLength(value: string): number {
  return 4 + Buffer.byteLength(value, 'utf8');
}

/**
 * Builds one packet into a Buffer sized up front by the caller, so a reply is one allocation.
 * `finish()` writes the length prefix.
 */
export class PacketWriter {
  readonly #buf: Buffer;
  #pos = 4;

  /** `bodyLength` counts everything after the type byte. */
  constructor(type: number, bodyLength: number) {
    this.#buf = Buffer.allocUnsafe(5 + bodyLength);
    this.#buf[4] = type;
    this.#pos = 5;
  }

  u8(value: number): this {
    this.#buf[this.#pos++] = value;
    return this;
  }

  u32(value: number): this {
    this.#pos = this.#buf.writeUInt32BE(value >>> 0, this.#pos);
    return this;
  }

  u64(value: number): this {
    const high = Math.floor(value / TWO_TO_32);
    this.#pos = this.#buf.writeUInt32BE(high >>> 0, this.#pos);
    this.#pos = this.#buf.writeUInt32BE(value >>> 0, this.#pos);
    return this;
  }

  string(value: string): this {
    const length = this.#buf.write(value, this.#pos + 4, 'utf8');
    this.#buf.writeUInt32BE(length, this.#pos);
    this.#pos += 4 + length;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#pos = this.#buf.writeUInt32BE(value.length, this.#pos);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  attrs(attrs: WireAttrs): this {
    const flags = attrsFlags(attrs);
    this.u32(flags);
    if (flags & AttrFlag.SIZE) this.u64(attrs.size!);
    if (flags & AttrFlag.UIDGID) this.u32(attrs.uid!).u32(attrs.gid!);
    if (flags & AttrFlag.PERMISSIONS) this.u32(attrs.permissions!);
    if (flags & AttrFlag.ACMODTIME) this.u32(attrs.atime!).u32(attrs.mtime!);
    return this;
  }

  finish(): Buffer {
    if (this.#pos !== this.#buf.length) throw new RangeError('packet size was estimated wrongly');
    this.#buf.writeUInt32BE(this.#pos - 4, 0);
    return this.#buf;
  }
}

function buildStatus(code: StatusCode): Buffer {
  const message = STATUS_MESSAGES[code];
  return new PacketWriter(PacketType.STATUS, 8 + stringLength(message) + 4)
    .u32(0)
    .u32(code)
    .string(message)
    .string('')
    .finish();
}

// The text per code is fixed, so each STATUS reply is a template copy with its id patched in.
const STATUS_TEMPLATES = new Map<number, Buffer>(
  Object.keys(STATUS_MESSAGES).map((code) => [
    Number(code),
    buildStatus(Number(code) as StatusCode),
  ]),
);

export function encodeStatus(id: number, code: StatusCode): Buffer {
  const template = STATUS_TEMPLATES.get(code) ?? buildStatus(code);
  const packet = Buffer.allocUnsafe(template.length);
  template.copy(packet);
  packet.writeUInt32BE(id >>> 0, 5);
  return packet;
}

export function encodeHandle(id: number, handle: string): Buffer {
  const raw = Buffer.from(handle, 'latin1');
  return new PacketWriter(PacketType.HANDLE, 4 + 4 + raw.length).u32(id).bytes(raw).finish();
}

/**
 * DATA reply as its header and the payload itself: the transport copies both into SSH packets
 * anyway, so joining them here would only copy every byte read once more.
 */
export function encodeData(id: number, data: Buffer): readonly [Buffer, Buffer] {
  const header = Buffer.allocUnsafe(HEADER_LENGTH + 4);
  header.writeUInt32BE(HEADER_LENGTH + data.length, 0);
  header[4] = PacketType.DATA;
  header.writeUInt32BE(id >>> 0, 5);
  header.writeUInt32BE(data.length, 9);
  return [header, data];
}

export function encodeAttrs(id: number, attrs: WireAttrs): Buffer {
  return new PacketWriter(PacketType.ATTRS, 4 + attrsLength(attrs)).u32(id).attrs(attrs).finish();
}

export interface NameEntry {
  filename: string;
  longname: string;
  attrs: WireAttrs;
}

/** Bytes of a NAME reply before its entries: length field, type, id and count. */
export const NAME_HEADER_BYTES = 4 + 1 + 4 + 4;

/** Bytes one entry takes in a NAME reply. */
export function nameEntryLength(entry: NameEntry): number {
  return stringLength(entry.filename) + stringLength(entry.longname) + attrsLength(entry.attrs);
}

export function encodeName(id: number, entries: readonly NameEntry[]): Buffer {
  let length = 8;
  for (const entry of entries) length += nameEntryLength(entry);
  const writer = new PacketWriter(PacketType.NAME, length).u32(id).u32(entries.length);
  for (const entry of entries)
    writer.string(entry.filename).string(entry.longname).attrs(entry.attrs);
  return writer.finish();
}

export interface ExtensionPair {
  name: string;
  data: string;
}

export function encodeVersion(version: number, extensions: readonly ExtensionPair[]): Buffer {
  let length = 4;
  for (const ext of extensions) length += stringLength(ext.name) + stringLength(ext.data);
  const writer = new PacketWriter(PacketType.VERSION, length).u32(version);
  for (const ext of extensions) writer.string(ext.name).string(ext.data);
  return writer.finish();
}

/** EXTENDED_REPLY whose body is a run of u64 values (statvfs, limits). */
export function encodeExtendedU64s(id: number, values: readonly number[]): Buffer {
  const writer = new PacketWriter(PacketType.EXTENDED_REPLY, 4 + 8 * values.length).u32(id);
  for (const value of values) writer.u64(value);
  return writer.finish();
}

/** EXTENDED_REPLY whose body is a run of length-prefixed byte strings. */
export function encodeExtendedStrings(id: number, values: readonly Uint8Array[]): Buffer {
  let length = 4;
  for (const value of values) length += 4 + value.length;
  const writer = new PacketWriter(PacketType.EXTENDED_REPLY, length).u32(id);
  for (const value of values) writer.bytes(value);
  return writer.finish();
}
