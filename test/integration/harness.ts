/**
 * Starts a real `kubesftp serve` child process on free loopback ports with a temporary config
 * dir, and drives it the way a user would: REST calls for accounts, real OpenSSH binaries for
 * files. Everything it starts is stopped by `stop()`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { loadOrCreateHostKeys } from '../../server/src/ssh/hostkeys.js';
import { NODE_FLAGS } from '../../server/src/cli/node-flags.js';

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, '../../..');
const cliPath = join(repoRoot, 'dist/server/src/cli/main.js');

export interface RunningServer {
  configDir: string;
  sftpPort: number;
  httpPort: number;
  adminPassword: string;
  logLines: Record<string, unknown>[];
  process: ChildProcess;
  token(): Promise<string>;
  api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> | undefined }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A port that was free a moment ago (httpd.bind_port 0 means "disabled", not "any"). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/** The `kubesftp serve` command line and environment for a test server on loopback. */
export function serveInvocation(options: {
  configDir: string;
  httpPort: number;
  adminPassword: string;
  verbose: boolean;
  env?: Record<string, string>;
}): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    args: [
      ...NODE_FLAGS,
      cliPath,
      'serve',
      '--config-dir',
      options.configDir,
      '--log-file-path',
      '',
      '--log-verbose',
      String(options.verbose),
    ],
    env: {
      ...process.env,
      KUBESFTP_SFTPD__BIND_ADDRESS: '127.0.0.1',
      KUBESFTP_SFTPD__BIND_PORT: '0',
      KUBESFTP_HTTPD__BIND_ADDRESS: '127.0.0.1',
      KUBESFTP_HTTPD__BIND_PORT: String(options.httpPort),
      KUBESFTP_ADMIN_PASSWORD: options.adminPassword,
      ...options.env,
    },
  };
}

/** An admin access token from `GET /api/v1/token` with Basic credentials. */
export async function adminToken(httpPort: number, adminPassword: string): Promise<string> {
  const basic = Buffer.from(`admin:${adminPassword}`).toString('base64');
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/token`, {
    headers: { authorization: `Basic ${basic}` },
  });
  if (res.status !== 200)
    throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

const HOST_KEY_FILES = ['id_ed25519', 'id_rsa', 'id_ecdsa'];
let hostKeysOnce: Promise<string> | undefined;

/**
 * Puts the default host keys, made once per test process, into a new server's config dir: a
 * 3072-bit RSA key per server costs seconds of CPU on a loaded machine, and a test file that
 * starts several servers would pay it for each.
 */
async function seedHostKeys(configDir: string): Promise<void> {
  hostKeysOnce ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubesftp-hostkeys-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await loadOrCreateHostKeys({ configDir: dir, keys: [], types: ['ed25519', 'rsa', 'ecdsa'] });
    return dir;
  })();
  const dir = await hostKeysOnce;
  for (const name of HOST_KEY_FILES) {
    await copyFile(join(dir, name), join(configDir, name));
    await chmod(join(configDir, name), 0o600);
  }
}

export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const httpPort = await freePort();
  const configDir = await mkdtemp(join(tmpdir(), 'kubesftp-it-'));
  await seedHostKeys(configDir);
  const adminPassword = `admin-${createHash('sha256').update(configDir).digest('hex').slice(0, 16)}`;
  const invocation = serveInvocation({ configDir, httpPort, adminPassword, verbose: true, env });
  const child = spawn(process.execPath, invocation.args, {
    env: invocation.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Record<string, unknown>[] = [];
  let ports: { sftpPort: number; httpPort: number };
  try {
    ports = await waitForPorts(child, logLines);
  } catch (err) {
    // A server that never listened is nobody's to stop: left running, it would keep the test
    // process (and the whole run) alive.
    child.kill('SIGKILL');
    await rm(configDir, { recursive: true, force: true });
    throw err;
  }
  let cachedToken: string | undefined;
  const server: RunningServer = {
    configDir,
    ...ports,
    adminPassword,
    logLines,
    process: child,
    async token() {
      cachedToken ??= await adminToken(ports.httpPort, adminPassword);
      return cachedToken;
    },
    async api(method, path, body) {
      const res = await fetch(`http://127.0.0.1:${ports.httpPort}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await server.token()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop(signal = 'SIGTERM') {
      const exited = new Promise<number | null>((done) => {
        if (child.exitCode !== null) done(child.exitCode);
        else child.once('exit', (code) => done(code));
      });
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      await rm(configDir, { recursive: true, force: true });
      return code;
    },
  };
  return server;
}

/**
 * Several servers started at once: when one fails, those that did start are stopped before the
 * failure is thrown, since nobody else holds them.
 */
export async function startAll(starting: Promise<RunningServer>[]): Promise<RunningServer[]> {
  const results = await Promise.allSettled(starting);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure === undefined) return started;
  await Promise.all(started.map((server) => server.stop()));
  throw failure.reason;
}

/**
 * Reads the JSON log lines on stderr until both listeners have reported their ports. Given
 * `logLines`, it goes on adding every later line to it. Without, it then only drains stderr:
 * the benchmark must not parse a line per transferred file beside the server it measures.
 */
export function waitForPorts(
  child: ChildProcess,
  logLines?: Record<string, unknown>[],
): Promise<{ sftpPort: number; httpPort: number }> {
  return new Promise((done, fail) => {
    const found: { sftpPort?: number; httpPort?: number } = {};
    const stderrText: string[] = [];
    const timer = setTimeout(
      () => fail(new Error(`server did not start in 30 s:\n${stderrText.join('\n')}`)),
      30_000,
    );
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      stderrText.push(line);
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logLines?.push(record);
      if (record.message === 'sftp server listening') found.sftpPort = record.port as number;
      if (record.message === 'http server listening') found.httpPort = record.port as number;
      if (found.sftpPort && found.httpPort) {
        clearTimeout(timer);
        if (logLines === undefined) {
          lines.close();
          child.stderr!.resume();
        }
        done({ sftpPort: found.sftpPort, httpPort: found.httpPort });
      }
    });
    child.stdout!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code} before listening:\n${stderrText.join('\n')}`));
    });
  });
}

/** Streamed, so files of any size hash without being held in memory. */
export { sha256File } from '../load/files.js';

export async function makeKeyPair(
  dir: string,
  type: 'ed25519' | 'rsa' | 'ecdsa',
): Promise<{ privatePath: string; publicKey: string }> {
  const privatePath = join(dir, `id_${type}`);
  await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `test-${type}`, '-f', privatePath]);
  return { privatePath, publicKey: (await readFile(`${privatePath}.pub`, 'utf8')).trim() };
}

export interface ClientAuth {
  username: string;
  keyPath?: string;
  password?: string;
}

/** Common options: loopback only, no host-key prompts, no agent or config from the machine. */
export function sshOptions(port: number, auth: ClientAuth, portFlag: '-P' | '-p'): string[] {
  const opts = [
    portFlag,
    String(port),
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'IdentitiesOnly=yes',
  ];
  if (auth.keyPath) {
    opts.push(
      '-i',
      auth.keyPath,
      '-o',
      'PreferredAuthentications=publickey',
      '-o',
      'BatchMode=yes',
    );
  } else {
    // `sftp -b` turns BatchMode on, which would skip the password; the first value given wins.
    opts.push(
      '-o',
      'PreferredAuthentications=password',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'BatchMode=no',
    );
  }
  return opts;
}

/** Environment that answers the password prompt without a terminal (OpenSSH's askpass). */
export async function askpassEnv(
  dir: string,
  password: string | undefined,
): Promise<NodeJS.ProcessEnv> {
  if (password === undefined) return { ...process.env };
  const script = join(dir, 'askpass.sh');
  await writeFile(script, `#!/bin/sh\nprintf '%s\\n' '${password.replace(/'/g, `'\\''`)}'\n`);
  await chmod(script, 0o700);
  return { ...process.env, SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' };
}

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runClient(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number },
): Promise<ClientResult> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs the OpenSSH `ssh` client with stdin closed; resolves with its output and run time. */
export async function runSsh(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ClientResult & { ms: number }> {
  const started = Date.now();
  const result = await runClient('ssh', args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  return { ...result, ms: Date.now() - started };
}

/** Runs an OpenSSH `sftp` batch; each line is a command. `-` prefixes allow a line to fail. */
export async function sftpBatch(
  port: number,
  auth: ClientAuth,
  commands: string[],
  options: { cwd: string; extraArgs?: string[]; timeoutMs?: number; host?: string },
): Promise<ClientResult> {
  const batch = join(options.cwd, `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  await writeFile(batch, `${commands.join('\n')}\n`);
  const env = await askpassEnv(options.cwd, auth.password);
  const args = [
    ...sshOptions(port, auth, '-P'),
    ...(options.extraArgs ?? []),
    '-b',
    batch,
    `${auth.username}@${options.host ?? '127.0.0.1'}`,
  ];
  return runClient('sftp', args, { env, cwd: options.cwd, timeoutMs: options.timeoutMs });
}

export async function scp(
  port: number,
  auth: ClientAuth,
  args: string[],
  options: { cwd: string },
): Promise<ClientResult> {
  const env = await askpassEnv(options.cwd, auth.password);
  return runClient('scp', [...sshOptions(port, auth, '-P'), ...args], { env, cwd: options.cwd });
}

export interface HeldSession {
  child: ChildProcess;
  /** Resolves with the exit time once the client is gone. */
  exited: Promise<number>;
}

/** An SFTP session that stays open, doing nothing, until the server or the test ends it. */
export function holdSession(port: number, username: string, keyPath: string): HeldSession {
  const child = spawn(
    'ssh',
    [...sshOptions(port, { username, keyPath }, '-p'), '-s', `${username}@127.0.0.1`, 'sftp'],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const exited = new Promise<number>((done) => child.once('exit', () => done(Date.now())));
  return { child, exited };
}

/** Polls `check` every 100 ms (a throw counts as not yet) and fails after `timeoutMs`. */
export async function waitFor(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${typeof what === 'string' ? what : what()}: not within ${timeoutMs} ms`);
}
