/**
 * The benchmark's floor: kubesftp's SSH transport, set up as the server sets it up (the patched
 * ssh2, its channel window, writes coalesced per tick, the connection held by the pending-bytes
 * budget), and its SFTP engine, over the local backend or the in-memory one. No account, policy,
 * quota, transfer log or metrics: what is left is what every request costs before kubesftp adds
 * anything. `BENCH_FLOOR` runs it in kubesftp's place (floor.ts).
 *
 * Started by the benchmark only, on a loopback port: it admits one public key and serves SFTP to
 * it, nothing else. Prints `{"port": N}` once listening, and `{"cleared": true}` once SIGUSR2 has
 * emptied the in-memory home.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { AuthContext, Connection, ParsedKey } from 'ssh2';
import { matchPublicKey } from '../../server/src/auth/publickeys.js';
import { serveSftp, type SftpLogger } from '../../server/src/sftp/engine.js';
import { InputHolds } from '../../server/src/ssh/input-holds.js';
import { parseKey, Server } from '../../server/src/ssh/ssh2-server-parts.js';
import {
  connectionSocket,
  DEFAULT_CHANNEL_WINDOW_SIZE,
  releaseIncomingPacket,
} from '../../server/src/ssh/transport-options.js';
import { coalesceWrites } from '../../server/src/ssh/write-coalescing.js';
import { LocalVfs } from '../../server/src/vfs/local.js';
import { MemoryVfs } from '../../server/src/vfs/memory.js';
import type { Vfs } from '../../server/src/vfs/types.js';

const quiet = (): void => undefined;
const logger: SftpLogger = { debug: quiet, info: quiet, warn: quiet, error: quiet };

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`floor-server: ${name} is not set`);
  return value;
}

function parsedOne(text: string | Buffer): ParsedKey {
  const parsed = parseKey(text);
  if (parsed instanceof Error) throw parsed;
  // A public key line parses to one key; the array form only comes from private key files.
  return Array.isArray(parsed) ? (parsed as ParsedKey[])[0]! : parsed;
}

const clientKeyLine = requireEnv('FLOOR_PUBLIC_KEY');
const clientKey = parsedOne(clientKeyLine);
const hostKey = readFileSync(requireEnv('FLOOR_HOST_KEY'));
// Empty: the in-memory backend, shared by every session as one home.
const root = process.env.FLOOR_ROOT ?? '';
const inMemory = root === '';
let memory = new MemoryVfs();
const openVfs = (): Vfs => (inMemory ? memory : new LocalVfs({ root }));
// The bench empties the in-memory home before each upload, as it removes the files on disk for
// the other servers; sessions already open keep the home they had. Acknowledged on stdout.
process.on('SIGUSR2', () => {
  memory = new MemoryVfs();
  process.stdout.write(`${JSON.stringify({ cleared: true })}\n`);
});

function authenticate(ctx: AuthContext): void {
  if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
  if (matchPublicKey([clientKeyLine], ctx.key.algo, ctx.key.data) === undefined) {
    return ctx.reject(['publickey']);
  }
  if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
  if (clientKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
  ctx.reject(['publickey']);
}

function serveClient(client: Connection): void {
  const input = new InputHolds(connectionSocket(client));
  client.on('authentication', authenticate);
  client.on('error', quiet);
  client.on('session', (accept) => {
    const session = accept();
    session.on('subsystem', (acceptSubsystem, reject, info) => {
      if (info.name !== 'sftp') return reject();
      const channel = acceptSubsystem();
      const vfs = openVfs();
      const sftp = serveSftp({
        stream: channel,
        vfs,
        logger,
        releaseChunk: releaseIncomingPacket,
        input,
        beforeEnd: () => channel.exit(0),
      });
      void sftp.closed.then(() => (inMemory ? undefined : vfs.close())).catch(quiet);
    });
  });
}

const ssh = new Server(
  { hostKeys: [hostKey], channelWindowSize: DEFAULT_CHANNEL_WINDOW_SIZE } as ConstructorParameters<
    typeof Server
  >[0],
  serveClient,
);
const listener = createServer((socket) => {
  socket.on('error', quiet);
  coalesceWrites(socket);
  ssh.injectSocket(socket);
});
listener.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (listener.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
