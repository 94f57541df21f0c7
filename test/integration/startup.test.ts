/**
 * `kubesftp serve` starts whole or not at all: when a listener, a host key or the database
 * cannot be used, the process exits non-zero within seconds, says why on stderr and in the
 * log, and leaves no port listening.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, serveInvocation } from './harness.js';

interface Exit {
  code: number | null;
  stderr: string;
  elapsedMs: number;
}

/** Runs `kubesftp serve` until it exits; kills it (and fails) if it is still up after 20 s. */
async function serveUntilExit(options: {
  configDir: string;
  httpPort: number;
  env: Record<string, string>;
}): Promise<Exit> {
  const invocation = serveInvocation({
    configDir: options.configDir,
    httpPort: options.httpPort,
    adminPassword: 'startup-test-admin',
    verbose: false,
    env: { KUBESFTP_SFTPD__HOST_KEY_TYPES: 'ed25519', ...options.env },
  });
  const started = Date.now();
  const child = spawn(process.execPath, invocation.args, {
    env: invocation.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, stderr, elapsedMs: Date.now() - started };
}

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The JSON log lines among stderr's lines. */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function assertFailedFast(exit: Exit, reason: RegExp): void {
  assert.notEqual(exit.code, 0, exit.stderr);
  assert.notEqual(exit.code, null, `still running after 20 s:\n${exit.stderr}`);
  assert.ok(exit.elapsedMs < 10_000, `exited after ${exit.elapsedMs} ms`);
  assert.match(exit.stderr, new RegExp(`^kubesftp: ${reason.source}`, 'm'), exit.stderr);
  const logged = logLines(exit.stderr).some(
    (line) => line.level === 'error' && reason.test(String(line.message)),
  );
  assert.ok(logged, `the reason is in the log too:\n${exit.stderr}`);
}

describe('kubesftp serve refuses to start half up', { timeout: 120_000 }, () => {
  let work = '';
  let configDir = '';
  let cases = 0;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-startup-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function freshConfigDir(): Promise<string> {
    configDir = join(work, `case-${cases++}`);
    await mkdir(configDir);
    return configDir;
  }

  it('exits non-zero naming the REST address when its port is taken, closing SFTP first', async () => {
    const held = await holdPort();
    const sftpPort = await freePort();
    try {
      const exit = await serveUntilExit({
        configDir: await freshConfigDir(),
        httpPort: held.port,
        env: { KUBESFTP_SFTPD__BIND_PORT: String(sftpPort) },
      });
      assertFailedFast(exit, new RegExp(`httpd: cannot listen on 127\\.0\\.0\\.1:${held.port}: `));
      const lines = logLines(exit.stderr);
      assert.ok(lines.some((l) => l.message === 'sftp server listening' && l.port === sftpPort));
      assert.ok(
        lines.some(
          (l) => l.message === 'closed after a failed start' && l.part === 'sftp listener',
        ),
        exit.stderr,
      );
      assert.equal(await accepts(sftpPort), false, 'the SFTP port is not left listening');
    } finally {
      await new Promise((resolve) => held.server.close(resolve));
    }
  });

  it('exits non-zero naming the SFTP address when its port is taken', async () => {
    const held = await holdPort();
    const httpPort = await freePort();
    try {
      const exit = await serveUntilExit({
        configDir: await freshConfigDir(),
        httpPort,
        env: { KUBESFTP_SFTPD__BIND_PORT: String(held.port) },
      });
      assertFailedFast(exit, new RegExp(`sftpd: cannot listen on 127\\.0\\.0\\.1:${held.port}: `));
      assert.equal(await accepts(httpPort), false, 'the REST port is not left listening');
    } finally {
      await new Promise((resolve) => held.server.close(resolve));
    }
  });

  for (const hostKey of [
    { label: 'garbage', make: (file: string) => writeFile(file, 'not a key\n', { mode: 0o600 }) },
    { label: 'unreadable', make: (file: string) => mkdir(file) },
  ]) {
    it(`exits non-zero naming the host key file when it is ${hostKey.label}`, async () => {
      const dir = await freshConfigDir();
      const keyFile = join(dir, 'host_key');
      await hostKey.make(keyFile);
      const exit = await serveUntilExit({
        configDir: dir,
        httpPort: await freePort(),
        env: { KUBESFTP_SFTPD__KEYS: '[{"private_key":"host_key"}]' },
      });
      assertFailedFast(exit, new RegExp(`sftpd\\.keys: cannot use host key ${keyFile}: `));
    });
  }

  it('exits non-zero with the chmod to run when the database file is open to others', async () => {
    const dir = await freshConfigDir();
    const dbFile = join(dir, 'kubesftp.db');
    await writeFile(dbFile, '');
    await chmod(dbFile, 0o644);
    const exit = await serveUntilExit({ configDir: dir, httpPort: await freePort(), env: {} });
    assertFailedFast(exit, new RegExp(`data_provider\\.name: the sqlite database ${dbFile} `));
    assert.ok(exit.stderr.includes(`run "chmod 600 ${dbFile}"`), exit.stderr);
  });
});
