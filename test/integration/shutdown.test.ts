/**
 * SIGTERM: new connections are refused at once, a running transfer gets the grace period,
 * then the process closes what is left and exits cleanly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function serverWithUser(
  graceSeconds: number,
  work: string,
): Promise<{ server: RunningServer; auth: ClientAuth; home: string }> {
  await mkdir(work, { recursive: true });
  const server = await startServer({ KUBESFTP_SFTPD__SHUTDOWN_GRACE_PERIOD: String(graceSeconds) });
  const key = await makeKeyPair(work, 'ed25519');
  const home = join(work, 'home');
  await mkdir(home, { recursive: true });
  const res = await server.api('POST', '/api/v1/user', {
    username: 'bob',
    public_keys: [key.publicKey],
    home_dir: home,
    permissions: { '/': ['*'] },
    status: 1,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { server, auth: { username: 'bob', keyPath: key.privatePath }, home };
}

describe('graceful shutdown on SIGTERM', { timeout: 120_000 }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-shutdown-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('a running download finishes within the grace period; new logins are refused', async () => {
    const { server, auth, home } = await serverWithUser(30, join(work, 'a'));
    const data = randomBytes(12 * 1024 * 1024);
    await writeFile(join(home, 'slow.bin'), data);
    // 24 Mbit/s makes the 12 MiB download last about four seconds.
    const download = sftpBatch(server.sftpPort, auth, ['get slow.bin slow-back.bin'], {
      cwd: join(work, 'a'),
      extraArgs: ['-l', '24000'],
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const exitCode = server.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await sftpBatch(server.sftpPort, auth, ['pwd'], { cwd: join(work, 'a') });
    assert.notEqual(late.code, 0, 'a new connection after SIGTERM must be refused');
    const done = await download;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(await sha256File(join(work, 'a', 'slow-back.bin')), sha256(data));
    assert.equal(await exitCode, 0);
  });

  test('after the grace period the remaining sessions are closed and the process exits', async () => {
    const { server, auth, home } = await serverWithUser(1, join(work, 'b'));
    await writeFile(join(home, 'endless.bin'), randomBytes(32 * 1024 * 1024));
    // 8 Mbit/s would need over 30 s: the 1 s grace period must cut it short.
    const download = sftpBatch(server.sftpPort, auth, ['get endless.bin endless-back.bin'], {
      cwd: join(work, 'b'),
      extraArgs: ['-l', '8000'],
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const started = Date.now();
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.ok(Date.now() - started < 10_000, 'exits soon after the grace period');
    const cut = await download;
    assert.notEqual(cut.code, 0, 'the transfer was cut off by the shutdown');
  });
});
