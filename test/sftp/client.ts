/**
 * A small SFTP v3 client for tests: builds request packets field by field, matches replies to
 * requests by id, and parses the reply shapes the engine sends. It trusts nothing the server
 * sends: every reply is parsed with explicit length checks.
 */
import { Duplex } from 'node:stream';
import { PacketType, StatusCode } from '../../server/src/sftp/constants.js';
import { PacketReader } from '../../server/src/sftp/reader.js';
import type { WireAttrs } from '../../server/src/sftp/attrs.js';

/** Builds one packet from fields; `build()` prepends the length. */
export class PacketBuilder {
  readonly #parts: Buffer[] = [];

  constructor(type: number) {
    this.#parts.push(Buffer.from([type]));
  }

  u8(value: number): this {
    this.#parts.push(Buffer.from([value]));
    return this;
  }

  u32(value: number): this {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(value >>> 0);
    this.#parts.push(buf);
    return this;
  }

  u64(value: number | bigint): this {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64BE(BigInt(value));
    this.#parts.push(buf);
    return this;
  }

  string(value: string | Buffer): this {
    const raw = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.u32(raw.length);
    this.#parts.push(raw);
    return this;
  }

  attrs(attrs: WireAttrs = {}): this {
    let flags = 0;
    if (attrs.size !== undefined) flags |= 1;
    if (attrs.uid !== undefined) flags |= 2;
    if (attrs.permissions !== undefined) flags |= 4;
    if (attrs.atime !== undefined) flags |= 8;
    this.u32(flags);
    if (attrs.size !== undefined) this.u64(attrs.size);
    if (attrs.uid !== undefined) this.u32(attrs.uid).u32(attrs.gid ?? 0);
    if (attrs.permissions !== undefined) this.u32(attrs.permissions);
    if (attrs.atime !== undefined) this.u32(attrs.atime).u32(attrs.mtime ?? 0);
    return this;
  }

  raw(bytes: Buffer): this {
    this.#parts.push(bytes);
    return this;
  }

  build(): Buffer {
    const body = Buffer.concat(this.#parts);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    return Buffer.concat([length, body]);
  }
}

export interface Reply {
  type: number;
  id: number;
  /** Positioned after the id. */
  body: PacketReader;
  raw: Buffer;
}

export class SftpStatusError extends Error {
  constructor(readonly status: number) {
    super(`SFTP status ${status}`);
  }
}

/**
 * Two connected in-process streams with real backpressure: a write completes only once the
 * peer's readable side has room, so `write()` returns false when the reader falls behind.
 */
export function streamPair(highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const waiting: (((error?: Error | null) => void) | undefined)[] = [undefined, undefined];
  const make = (index: number): Duplex =>
    new Duplex({
      highWaterMark,
      read() {
        const callback = waiting[index];
        waiting[index] = undefined;
        callback?.();
      },
      write(chunk: Buffer, _encoding, callback) {
        const peer = 1 - index;
        if (sides[peer]!.push(chunk)) callback();
        else waiting[peer] = callback;
      },
      final(callback) {
        sides[1 - index]!.push(null);
        callback();
      },
    });
  sides.push(make(0), make(1));
  return [sides[0]!, sides[1]!];
}

export class TestClient {
  readonly stream: Duplex;
  readonly #pending = new Map<number, (reply: Reply) => void>();
  readonly unsolicited: Reply[] = [];
  #buffer = Buffer.alloc(0);
  #nextId = 1;
  #versionWaiter: ((reply: Reply) => void) | undefined;
  ended = false;

  constructor(stream: Duplex) {
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () => {
      this.ended = true;
    });
    stream.on('error', () => {
      this.ended = true;
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 4) {
      const length = this.#buffer.readUInt32BE(0);
      if (this.#buffer.length < 4 + length) return;
      const raw = this.#buffer.subarray(4, 4 + length);
      this.#buffer = this.#buffer.subarray(4 + length);
      this.#deliver(raw);
    }
  }

  #deliver(raw: Buffer): void {
    const body = new PacketReader(raw);
    const type = body.u8();
    if (type === PacketType.VERSION) {
      this.#versionWaiter?.({ type, id: 0, body, raw });
      return;
    }
    const id = body.u32();
    const waiter = this.#pending.get(id);
    this.#pending.delete(id);
    if (waiter) waiter({ type, id, body, raw });
    else this.unsolicited.push({ type, id, body, raw });
  }

  nextId(): number {
    return this.#nextId++;
  }

  sendRaw(packet: Buffer): void {
    this.stream.write(packet);
  }

  async init(version = 3): Promise<{ version: number; extensions: Map<string, string> }> {
    const reply = new Promise<Reply>((resolve) => (this.#versionWaiter = resolve));
    this.sendRaw(new PacketBuilder(PacketType.INIT).u32(version).build());
    const { body } = await reply;
    const serverVersion = body.u32();
    const extensions = new Map<string, string>();
    while (body.remaining > 0) extensions.set(body.string(), body.string());
    if (body.failed) throw new Error('malformed VERSION');
    return { version: serverVersion, extensions };
  }

  /** Sends a request built by `fill` (after the id) and waits for its reply. */
  request(type: number, fill: (builder: PacketBuilder) => void = () => {}): Promise<Reply> {
    const id = this.nextId();
    const builder = new PacketBuilder(type).u32(id);
    fill(builder);
    return this.requestPacket(id, builder.build());
  }

  requestPacket(id: number, packet: Buffer): Promise<Reply> {
    const reply = new Promise<Reply>((resolve) => this.#pending.set(id, resolve));
    this.sendRaw(packet);
    return reply;
  }

  extended(name: string, fill: (builder: PacketBuilder) => void = () => {}): Promise<Reply> {
    return this.request(PacketType.EXTENDED, (b) => {
      b.string(name);
      fill(b);
    });
  }

  // --- reply shapes -------------------------------------------------------------------------

  static status(reply: Reply): number {
    if (reply.type !== PacketType.STATUS) throw new Error(`expected STATUS, got ${reply.type}`);
    const code = reply.body.u32();
    const message = reply.body.string();
    reply.body.string();
    if (reply.body.failed || message === '') throw new Error('malformed STATUS');
    return code;
  }

  static expectOk(reply: Reply): void {
    const code = TestClient.status(reply);
    if (code !== StatusCode.OK) throw new SftpStatusError(code);
  }

  static handle(reply: Reply): string {
    if (reply.type === PacketType.STATUS) throw new SftpStatusError(TestClient.status(reply));
    if (reply.type !== PacketType.HANDLE) throw new Error(`expected HANDLE, got ${reply.type}`);
    return reply.body.handle();
  }

  static data(reply: Reply): Buffer | null {
    if (reply.type === PacketType.STATUS) {
      const code = TestClient.status(reply);
      if (code === StatusCode.EOF) return null;
      throw new SftpStatusError(code);
    }
    if (reply.type !== PacketType.DATA) throw new Error(`expected DATA, got ${reply.type}`);
    return Buffer.from(reply.body.bytes());
  }

  static attrs(reply: Reply): WireAttrs {
    if (reply.type === PacketType.STATUS) throw new SftpStatusError(TestClient.status(reply));
    if (reply.type !== PacketType.ATTRS) throw new Error(`expected ATTRS, got ${reply.type}`);
    return reply.body.attrs();
  }

  static names(reply: Reply): { filename: string; longname: string; attrs: WireAttrs }[] | null {
    if (reply.type === PacketType.STATUS) {
      const code = TestClient.status(reply);
      if (code === StatusCode.EOF) return null;
      throw new SftpStatusError(code);
    }
    if (reply.type !== PacketType.NAME) throw new Error(`expected NAME, got ${reply.type}`);
    const count = reply.body.u32();
    const entries = [];
    for (let i = 0; i < count; i++) {
      entries.push({
        filename: reply.body.string(),
        longname: reply.body.string(),
        attrs: reply.body.attrs(),
      });
    }
    if (reply.body.failed) throw new Error('malformed NAME');
    return entries;
  }

  // --- requests -----------------------------------------------------------------------------

  async open(path: string, pflags: number, attrs: WireAttrs = {}): Promise<string> {
    return TestClient.handle(
      await this.request(PacketType.OPEN, (b) => b.string(path).u32(pflags).attrs(attrs)),
    );
  }

  async close(handle: string): Promise<void> {
    TestClient.expectOk(
      await this.request(PacketType.CLOSE, (b) => b.string(Buffer.from(handle, 'latin1'))),
    );
  }

  async read(handle: string, offset: number, length: number): Promise<Buffer | null> {
    return TestClient.data(
      await this.request(PacketType.READ, (b) =>
        b.string(Buffer.from(handle, 'latin1')).u64(offset).u32(length),
      ),
    );
  }

  write(handle: string, offset: number, data: Buffer): Promise<Reply> {
    return this.request(PacketType.WRITE, (b) =>
      b.string(Buffer.from(handle, 'latin1')).u64(offset).string(data),
    );
  }

  async stat(path: string, type: number = PacketType.STAT): Promise<WireAttrs> {
    return TestClient.attrs(await this.request(type, (b) => b.string(path)));
  }

  async pathStatus(type: number, ...paths: string[]): Promise<number> {
    return TestClient.status(
      await this.request(type, (b) => {
        for (const path of paths) b.string(path);
        if (type === PacketType.MKDIR) b.attrs({});
      }),
    );
  }

  async readAll(handle: string, chunk = 32 * 1024): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let offset = 0; ;) {
      const data = await this.read(handle, offset, chunk);
      if (data === null) return Buffer.concat(parts);
      parts.push(data);
      offset += data.length;
    }
  }

  async listDir(path: string): Promise<string[]> {
    const handle = TestClient.handle(await this.request(PacketType.OPENDIR, (b) => b.string(path)));
    const names: string[] = [];
    for (;;) {
      const batch = TestClient.names(
        await this.request(PacketType.READDIR, (b) => b.string(Buffer.from(handle, 'latin1'))),
      );
      if (batch === null) break;
      names.push(...batch.map((entry) => entry.filename));
    }
    await this.close(handle);
    return names;
  }
}
