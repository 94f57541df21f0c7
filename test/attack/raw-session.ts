/**
 * A raw SFTP v3 channel over a real SSH connection: ssh2's client logs in to a running
 * `kubesftp serve`, opens the `sftp` subsystem and hands the channel to TestClient, so a test can
 * send any packet, flags and attributes included, that a polite client never would.
 *
 * RawSftp answers every request with its SSH_FX status (or the reply it carries) instead of
 * throwing, because the attack tests assert the exact status of requests meant to be refused.
 */
import { Client, type ClientChannel } from 'ssh2';
import { OpenFlag, PacketType, StatusCode } from '../../server/src/sftp/constants.js';
import type { WireAttrs } from '../../server/src/sftp/attrs.js';
import { TestClient, type PacketBuilder, type Reply } from '../sftp/client.js';

/** How long one request may wait for its reply before the test says the server hung. */
const REPLY_TIMEOUT_MS = 15_000;

const STATUS_NAMES = new Map<number, string>(
  Object.entries(StatusCode).map(([name, code]) => [code, name]),
);

/** "PERMISSION_DENIED (3)" for messages; unknown codes print as numbers. */
export function statusName(code: number | undefined): string {
  if (code === undefined) return 'no status';
  return `${STATUS_NAMES.get(code) ?? 'UNKNOWN'} (${code})`;
}

/** "READ|CREAT" for messages; 0 prints as "none". */
export function pflagsName(pflags: number): string {
  const names = Object.entries(OpenFlag)
    .filter(([, bit]) => (pflags & bit) !== 0)
    .map(([name]) => name);
  return names.length === 0 ? 'none' : names.join('|');
}

/** An OPEN or OPENDIR outcome: a handle on success, the status otherwise. */
export interface HandleOutcome {
  status: number;
  handle?: string;
}

function statusOf(reply: Reply): number {
  return TestClient.status(reply);
}

async function bounded<T>(pending: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no reply within ${REPLY_TIMEOUT_MS} ms`)),
      REPLY_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function handleBytes(handle: string): Buffer {
  return Buffer.from(handle, 'latin1');
}

/** Status-returning requests over a TestClient. Replies that are not STATUS are decoded. */
export class RawSftp {
  readonly client: TestClient;

  constructor(client: TestClient) {
    this.client = client;
  }

  /** One request with a deadline, so a hung server fails the test instead of stalling it. */
  #send(type: number, fill: (b: PacketBuilder) => void): Promise<Reply> {
    return bounded(this.client.request(type, fill), `request type ${type}`);
  }

  #sendExtended(name: string, fill: (b: PacketBuilder) => void): Promise<Reply> {
    return bounded(this.client.extended(name, fill), name);
  }

  async open(path: string, pflags: number, attrs: WireAttrs = {}): Promise<HandleOutcome> {
    const reply = await this.#send(PacketType.OPEN, (b) => b.string(path).u32(pflags).attrs(attrs));
    if (reply.type === PacketType.HANDLE)
      return { status: StatusCode.OK, handle: reply.body.handle() };
    return { status: statusOf(reply) };
  }

  async opendir(path: string): Promise<HandleOutcome> {
    const reply = await this.#send(PacketType.OPENDIR, (b) => b.string(path));
    if (reply.type === PacketType.HANDLE)
      return { status: StatusCode.OK, handle: reply.body.handle() };
    return { status: statusOf(reply) };
  }

  /** Names of one READDIR batch, or the status (EOF at the end). */
  async readdir(handle: string): Promise<string[] | number> {
    const reply = await this.#send(PacketType.READDIR, (b) => b.string(handleBytes(handle)));
    if (reply.type === PacketType.STATUS) return statusOf(reply);
    return (TestClient.names(reply) ?? []).map((entry) => entry.filename);
  }

  async close(handle: string): Promise<number> {
    return statusOf(await this.#send(PacketType.CLOSE, (b) => b.string(handleBytes(handle))));
  }

  async read(handle: string, offset: number, length: number): Promise<Buffer | number> {
    const reply = await this.#send(PacketType.READ, (b) =>
      b.string(handleBytes(handle)).u64(offset).u32(length),
    );
    if (reply.type === PacketType.DATA) return Buffer.from(reply.body.bytes());
    return statusOf(reply);
  }

  async write(handle: string, offset: number, data: Buffer): Promise<number> {
    return statusOf(
      await this.#send(PacketType.WRITE, (b) =>
        b.string(handleBytes(handle)).u64(offset).string(data),
      ),
    );
  }

  async fstat(handle: string): Promise<WireAttrs | number> {
    const reply = await this.#send(PacketType.FSTAT, (b) => b.string(handleBytes(handle)));
    if (reply.type === PacketType.ATTRS) return reply.body.attrs();
    return statusOf(reply);
  }

  async fsetstat(handle: string, attrs: WireAttrs): Promise<number> {
    return statusOf(
      await this.#send(PacketType.FSETSTAT, (b) => b.string(handleBytes(handle)).attrs(attrs)),
    );
  }

  async stat(path: string): Promise<WireAttrs | number> {
    const reply = await this.#send(PacketType.STAT, (b) => b.string(path));
    if (reply.type === PacketType.ATTRS) return reply.body.attrs();
    return statusOf(reply);
  }

  async lstat(path: string): Promise<WireAttrs | number> {
    const reply = await this.#send(PacketType.LSTAT, (b) => b.string(path));
    if (reply.type === PacketType.ATTRS) return reply.body.attrs();
    return statusOf(reply);
  }

  async setstat(path: string, attrs: WireAttrs): Promise<number> {
    return statusOf(await this.#send(PacketType.SETSTAT, (b) => b.string(path).attrs(attrs)));
  }

  async lsetstat(path: string, attrs: WireAttrs): Promise<number> {
    return statusOf(
      await this.#sendExtended('lsetstat@openssh.com', (b) => b.string(path).attrs(attrs)),
    );
  }

  async mkdir(path: string, attrs: WireAttrs = {}): Promise<number> {
    return statusOf(await this.#send(PacketType.MKDIR, (b) => b.string(path).attrs(attrs)));
  }

  async rmdir(path: string): Promise<number> {
    return statusOf(await this.#send(PacketType.RMDIR, (b) => b.string(path)));
  }

  async remove(path: string): Promise<number> {
    return statusOf(await this.#send(PacketType.REMOVE, (b) => b.string(path)));
  }

  async rename(from: string, to: string): Promise<number> {
    return statusOf(await this.#send(PacketType.RENAME, (b) => b.string(from).string(to)));
  }

  async posixRename(from: string, to: string): Promise<number> {
    return statusOf(
      await this.#sendExtended('posix-rename@openssh.com', (b) => b.string(from).string(to)),
    );
  }

  async hardlink(existing: string, newPath: string): Promise<number> {
    return statusOf(
      await this.#sendExtended('hardlink@openssh.com', (b) => b.string(existing).string(newPath)),
    );
  }

  /** SSH_FXP_SYMLINK in OpenSSH's order: the target first, then the path of the new link. */
  async symlink(target: string, linkPath: string): Promise<number> {
    return statusOf(await this.#send(PacketType.SYMLINK, (b) => b.string(target).string(linkPath)));
  }

  async readlink(path: string): Promise<string | number> {
    const reply = await this.#send(PacketType.READLINK, (b) => b.string(path));
    if (reply.type === PacketType.STATUS) return statusOf(reply);
    const names = TestClient.names(reply) ?? [];
    return names[0]?.filename ?? StatusCode.FAILURE;
  }

  async realpath(path: string): Promise<string | number> {
    const reply = await this.#send(PacketType.REALPATH, (b) => b.string(path));
    if (reply.type === PacketType.STATUS) return statusOf(reply);
    return (TestClient.names(reply) ?? [])[0]?.filename ?? StatusCode.FAILURE;
  }

  // --- helpers for set-up steps that must succeed --------------------------------------------

  /** Reads a whole file; throws with the status when any step is refused. */
  async readFile(path: string): Promise<Buffer> {
    const opened = await this.open(path, OpenFlag.READ);
    if (opened.handle === undefined) throw new Error(`open ${path}: ${statusName(opened.status)}`);
    const parts: Buffer[] = [];
    for (let offset = 0; ;) {
      const data = await this.read(opened.handle, offset, 32 * 1024);
      if (typeof data === 'number') {
        if (data === StatusCode.EOF) break;
        throw new Error(`read ${path}: ${statusName(data)}`);
      }
      parts.push(data);
      offset += data.length;
    }
    await this.close(opened.handle);
    return Buffer.concat(parts);
  }

  /** Creates or replaces a file with `data`; throws with the status when any step is refused. */
  async writeFile(path: string, data: Buffer | string, attrs: WireAttrs = {}): Promise<void> {
    const flags = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;
    const opened = await this.open(path, flags, attrs);
    if (opened.handle === undefined) throw new Error(`open ${path}: ${statusName(opened.status)}`);
    const status = await this.write(opened.handle, 0, Buffer.from(data));
    await this.close(opened.handle);
    if (status !== StatusCode.OK) throw new Error(`write ${path}: ${statusName(status)}`);
  }

  /** Runs a request that must succeed during set-up. */
  static must(status: number, what: string): void {
    if (status !== StatusCode.OK) throw new Error(`${what}: ${statusName(status)}`);
  }
}

export interface RawSession {
  sftp: RawSftp;
  /** Server extensions from the VERSION reply. */
  extensions: Map<string, string>;
  close(): Promise<void>;
}

export interface RawLogin {
  port: number;
  username: string;
  password: string;
}

function connect(login: RawLogin): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: login.port,
      username: login.username,
      password: login.password,
      readyTimeout: 20_000,
      // Loopback test server with a fresh host key: nothing to verify against.
      hostVerifier: () => true,
    });
  });
}

function openSubsystem(client: Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.subsys('sftp', (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/** Logs in over SSH, opens the `sftp` subsystem and completes INIT/VERSION. */
export async function openRawSession(login: RawLogin): Promise<RawSession> {
  const client = await connect(login);
  try {
    const stream = await openSubsystem(client);
    const testClient = new TestClient(stream);
    const { extensions } = await testClient.init();
    return {
      sftp: new RawSftp(testClient),
      extensions,
      close: () =>
        new Promise<void>((resolve) => {
          client.once('close', () => resolve());
          client.end();
          setTimeout(resolve, 5_000).unref();
        }),
    };
  } catch (err) {
    client.end();
    throw err;
  }
}
