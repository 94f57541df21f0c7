/**
 * Connection limits of the SSH layer, with the real OpenSSH client: the idle timeout, the
 * authentication attempt budget and the login grace time. Timeouts are short here, so the
 * SSH server runs in this process rather than through `kubesftp serve` (whose idle timeout
 * counts in minutes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataProvider } from '../../server/src/dataprovider/index.js';
import { newUser } from '../../server/src/dataprovider/test-support.js';
import type { DataProvider } from '../../server/src/dataprovider/types.js';
import { askpassEnv, makeKeyPair, sshOptions } from './harness.js';
import { startInProcessSsh, type InProcessSsh } from './in-process-ssh.js';

/** Runs the real ssh client and resolves with its exit code and how long it ran. */
function runSsh(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; ms: number; stderr: string }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn('ssh', args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, ms: Date.now() - started, stderr });
    });
  });
}

describe('SSH connection limits with the OpenSSH client', { timeout: 90_000 }, () => {
  let work: string;
  let provider: DataProvider;
  let server: InProcessSsh;
  let keyPath: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-limits-'));
    provider = await createDataProvider({ driver: 'memory', name: '', configDir: work });
    await provider.initialize();
    const key = await makeKeyPair(work, 'ed25519');
    keyPath = key.privatePath;
    await provider.addUser(
      newUser({
        username: 'carol',
        password: 'the right password',
        public_keys: [key.publicKey],
        home_dir: join(work, 'home'),
        max_sessions: 1,
      }),
    );
    server = await startInProcessSsh({
      provider,
      configDir: work,
      // The grace leaves room for two refused passwords on a loaded machine (each costs a hash).
      settings: { idleTimeoutMs: 1_500, maxAuthTries: 2, loginGraceMs: 4_000 },
    });
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** An SFTP subsystem session that sends nothing: it stays open until the server ends it. */
  const idleSftpSession = () =>
    runSsh([
      ...sshOptions(server.port, { username: 'carol', keyPath }, '-p'),
      '-s',
      'carol@127.0.0.1',
      'sftp',
    ]);

  test('an idle SFTP session is closed after the idle timeout', async () => {
    // `-s sftp` with stdin open and nothing sent: the session is idle from the start.
    const result = await idleSftpSession();
    assert.ok(result.ms >= 1_400, `closed too early (${result.ms} ms)`);
    assert.ok(result.ms < 10_000, `not closed by the idle timeout (${result.ms} ms)`);
    // The registry forgets a connection once its SFTP session has closed its handles.
    const drained = await Promise.race([
      server.registry.drained().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5_000)),
    ]);
    assert.ok(drained, 'the closed connection left the registry');
  });

  test('max_sessions refuses a second concurrent login', async () => {
    const first = idleSftpSession();
    await new Promise((r) => setTimeout(r, 700));
    const second = await idleSftpSession();
    assert.notEqual(second.code, 0);
    assert.ok(server.failures.some((f) => /too many open sessions/.test(f.error)));
    await first;
  });

  test('the connection ends after max_auth_tries failed passwords', async () => {
    const wrong = { username: 'carol', password: 'not the password' };
    const before = server.failures.length;
    const result = await runSsh(
      [
        ...sshOptions(server.port, wrong, '-p'),
        '-o',
        'NumberOfPasswordPrompts=5',
        'carol@127.0.0.1',
        'true',
      ],
      await askpassEnv(work, wrong.password),
    );
    assert.notEqual(result.code, 0);
    const attempts = server.failures.slice(before).filter((f) => f.loginType === 'password');
    assert.equal(attempts.length, 2, 'the client was cut off after two of its five tries');
  });

  test('a client that never logs in is dropped after the login grace time', async () => {
    const before = server.failures.length;
    const started = Date.now();
    const closedAfter = await new Promise<number>((done, fail) => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('data', () => undefined); // read the banner, send nothing
      socket.on('close', () => done(Date.now() - started));
      socket.on('error', fail);
    });
    assert.ok(closedAfter >= 3_900 && closedAfter < 12_000, `closed after ${closedAfter} ms`);
    const failure = server.failures.slice(before).find((f) => f.loginType === 'no_auth_tryed');
    assert.ok(failure, 'a connection_failed record with no_auth_tryed');
  });
});
