/**
 * Shared pieces for the ssh2 transport tests: a real ssh2 Server on 127.0.0.1:0, an ssh2
 * Client logged in with a password, and access to the client's protocol object so a test can
 * send values a well-behaved client never would.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ServerConfig } from 'ssh2';

const { Client, Server, utils } = ssh2;

export const TEST_USER = 'tester';
export const TEST_PASSWORD = 'correct horse';

/** One ed25519 host key per test process is enough; generation is cheap. */
export const hostKey = utils.generateKeyPairSync('ed25519').private;

export interface RunningServer {
  server: InstanceType<typeof Server>;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts an ssh2 Server with `extra` merged into its config. Connections accept the test
 * password (and any extra auth `onAuth` allows) and are handed to `onReady`.
 */
export async function startServer(opts: {
  extra?: Partial<ServerConfig> & Record<string, unknown>;
  onReady: (client: Connection) => void;
  onAuth?: (ctx: ssh2.AuthContext) => boolean;
}): Promise<RunningServer> {
  const config = { hostKeys: [hostKey], ...opts.extra };
  const clients = new Set<Connection>();
  const server = new Server(config, (client) => {
    clients.add(client);
    client.on('error', () => undefined);
    client.on('close', () => clients.delete(client));
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.password === TEST_PASSWORD) return ctx.accept();
      if (opts.onAuth?.(ctx)) return ctx.accept();
      return ctx.reject();
    });
    client.on('ready', () => opts.onReady(client));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients) client.end();
        server.close(() => resolve());
      }),
  };
}

export type TestClient = InstanceType<typeof Client>;

export function connectClient(port: number): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .once('ready', () => resolve(client))
      .once('error', reject)
      .connect({ host: '127.0.0.1', port, username: TEST_USER, password: TEST_PASSWORD });
  });
}

/** The parts of ssh2's internal objects the hostile-client tests drive directly. */
export interface ChannelInternals {
  incoming: { id: number; window: number; packetSize: number };
  outgoing: { id: number; window: number; packetSize: number };
  _callbacks: ((err: boolean) => void)[];
}
interface ProtocolInternals {
  session(chan: number, window: number, packetSize: number): void;
  exec(chan: number, cmd: string, wantReply: boolean): void;
  channelData(chan: number, data: Buffer): void;
  _handlers: Record<string, (...args: unknown[]) => unknown>;
}
interface ClientInternals {
  _protocol: ProtocolInternals;
  _chanMgr: { add(val: unknown): number };
}

export function internalsOf(client: TestClient): ClientInternals {
  return client as unknown as ClientInternals;
}

/** Opens a session channel announcing `window` and `packetSize`, whatever they are. */
export function openRawSession(
  client: TestClient,
  window: number,
  packetSize: number,
): Promise<ChannelInternals & NodeJS.EventEmitter> {
  const internals = internalsOf(client);
  return new Promise((resolve, reject) => {
    const onOpen = (err: Error | undefined, channel: ChannelInternals & NodeJS.EventEmitter) => {
      if (err) reject(err);
      else resolve(channel);
    };
    onOpen.type = 'session';
    const localChan = internals._chanMgr.add(onOpen);
    internals._protocol.session(localChan, window, packetSize);
  });
}

/** Sends an exec request on a raw channel and waits for the server's reply. */
export function rawExec(client: TestClient, channel: ChannelInternals, cmd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    channel._callbacks.push((failed) => {
      if (failed) reject(new Error(`exec ${cmd} refused`));
      else resolve();
    });
    internalsOf(client)._protocol.exec(channel.outgoing.id, cmd, true);
  });
}

/** Records every CHANNEL_WINDOW_ADJUST amount the client receives. */
export function recordWindowAdjusts(client: TestClient): number[] {
  const handlers = internalsOf(client)._protocol._handlers;
  const original = handlers.CHANNEL_WINDOW_ADJUST!;
  const amounts: number[] = [];
  handlers.CHANNEL_WINDOW_ADJUST = (proto, recipient, amount) => {
    amounts.push(amount as number);
    return original(proto, recipient, amount);
  };
  return amounts;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real OpenSSH binary with a hard time limit. */
export function runCommand(
  file: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Options that keep the real `ssh` client from touching the user's files or prompting. */
export function sshBaseArgs(port: number): string[] {
  return [
    '-F',
    '/dev/null',
    '-p',
    String(port),
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
  ];
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
