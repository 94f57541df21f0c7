/**
 * A flood of idle connections against `kubesftp serve`: hundreds of sockets from a few
 * loopback addresses that send only an identification line, or nothing. Newcomers over the
 * per-host bound are closed at once, a real `sftp` client from another address still logs in
 * and transfers a file intact, and the server's memory stays bounded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeKeyPair,
  sftpBatch,
  sha256File,
  startServer,
  type ClientAuth,
  type RunningServer,
} from './harness.js';

const PER_HOST = 10;
const FLOOD_SOURCES = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'];
const PER_SOURCE = 150;
/** Connections started at once: fewer than the listen backlog, which the kernel bounds. */
const WAVE = 100;
const CLIENT_SOURCE = '127.0.0.20';
/**
 * Growth of the server's resident memory the flood may cause, transfer included (about 15 MiB
 * measured). Generous: a held idle connection costs some 10-20 KiB, so this catches a leak or
 * a buffer per refused socket rather than a few dozen extra held ones.
 */
const MAX_RSS_GROWTH = 40 * 1024 * 1024;

interface FloodSocket {
  socket: Socket;
  source: string;
  /** Resolves with how the socket ended up: served (the server spoke) or closed, and when. */
  outcome: Promise<{ served: boolean; afterMs: number }>;
}

/** One idle client: it sends an identification line (or nothing) and then waits. */
function floodSocket(port: number, source: string, sendIdent: boolean): FloodSocket {
  const started = Date.now();
  const socket = connect({ port, host: '127.0.0.1', localAddress: source });
  const outcome = new Promise<{ served: boolean; afterMs: number }>((done) => {
    const settle = (served: boolean) => done({ served, afterMs: Date.now() - started });
    socket.once('data', () => settle(true));
    socket.once('close', () => settle(false));
  });
  socket.on('error', () => undefined);
  if (sendIdent) socket.once('connect', () => socket.write('SSH-2.0-flood_1.0\r\n'));
  return { socket, source, outcome };
}

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  assert.ok(kb, 'VmRSS in /proc/<pid>/status');
  return Number(kb) * 1024;
}

describe('a flood of idle connections', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let work: string;
  let auth: ClientAuth;
  const flood: FloodSocket[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-flood-'));
    server = await startServer({
      KUBESFTP_SFTPD__MAX_STARTUPS: '50:30:100',
      KUBESFTP_SFTPD__MAX_PER_HOST_CONNECTIONS: String(PER_HOST),
    });
    const key = await makeKeyPair(work, 'ed25519');
    const created = await server.api('POST', '/api/v1/user', {
      username: 'frank',
      public_keys: [key.publicKey],
      home_dir: join(work, 'home'),
      permissions: { '/': ['*'] },
      status: 1,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    auth = { username: 'frank', keyPath: key.privatePath };
  });

  after(async () => {
    for (const { socket } of flood) socket.destroy();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('over-bound newcomers are closed at once; a real client still logs in', async () => {
    const pid = server.process.pid!;
    // One login first, so the memory baseline includes what any session loads.
    const warmUp = await sftpBatch(server.sftpPort, auth, ['pwd'], { cwd: work });
    assert.equal(warmUp.code, 0, warmUp.stderr);
    const rssBefore = await residentBytes(pid);

    for (let i = 0; i < PER_SOURCE; i++) {
      for (const source of FLOOD_SOURCES) {
        flood.push(floodSocket(server.sftpPort, source, i % 4 !== 0));
        if (flood.length % WAVE === 0) await Promise.all(flood.slice(-WAVE).map((f) => f.outcome));
      }
    }
    const outcomes = await Promise.all(flood.map((f) => f.outcome));
    for (const source of FLOOD_SOURCES) {
      const held = flood.filter((f, i) => f.source === source && outcomes[i]!.served);
      assert.equal(held.length, PER_HOST, `${source} holds exactly the per-host bound`);
    }
    const refused = outcomes.filter((o) => !o.served);
    assert.equal(refused.length, FLOOD_SOURCES.length * (PER_SOURCE - PER_HOST));
    const slowest = Math.max(...refused.map((o) => o.afterMs));
    assert.ok(slowest < 5_000, `a refused newcomer waited ${slowest} ms`);

    const file = join(work, 'payload.bin');
    await writeFile(file, randomBytes(4 * 1024 * 1024));
    const transfer = await sftpBatch(
      server.sftpPort,
      auth,
      ['put payload.bin', 'get payload.bin back.bin'],
      { cwd: work, extraArgs: ['-o', `BindAddress=${CLIENT_SOURCE}`], timeoutMs: 30_000 },
    );
    assert.equal(transfer.code, 0, transfer.stderr);
    assert.equal(await sha256File(join(work, 'back.bin')), await sha256File(file));

    const rssDuring = await residentBytes(pid);
    assert.ok(
      rssDuring - rssBefore < MAX_RSS_GROWTH,
      `resident memory grew by ${((rssDuring - rssBefore) / 2 ** 20).toFixed(1)} MiB`,
    );
    const stillOpen = flood.filter((f, i) => outcomes[i]!.served && !f.socket.destroyed);
    assert.equal(stillOpen.length, FLOOD_SOURCES.length * PER_HOST, 'held ones are untouched');
  });

  test('each refusal is one warning with the address and the reason', () => {
    const refusals = server.logLines.filter((l) => l.message === 'connection refused');
    assert.equal(refusals.length, FLOOD_SOURCES.length * (PER_SOURCE - PER_HOST));
    for (const line of refusals) {
      assert.equal(line.level, 'warn');
      assert.equal(line.sender, 'sshd');
      assert.ok(FLOOD_SOURCES.includes(String(line.client_ip)), String(line.client_ip));
      assert.ok(['max_per_host_connections', 'banned'].includes(String(line.reason)));
    }
    // Refusals over a bound score the address: the defender bans each flooding address.
    const bans = server.logLines.filter((l) => l.message === 'client address banned');
    assert.deepEqual(bans.map((l) => l.client_ip).sort(), FLOOD_SOURCES);
  });
});
