/**
 * kubesftp under test: `kubesftp serve` as a child process on free loopback ports with a
 * temporary config dir and verbose logging off, plus one user made through the REST API whose
 * home is a directory under the benchmark's work dir.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { spawnTracked, stopChild } from './children.js';
import { processTree } from './rss.js';
import { freePort, repoRoot } from '../integration/harness.js';
import type { BenchServer } from './client.js';

const cliPath = join(repoRoot, 'dist/server/src/cli/main.js');
const startTimeoutMs = 30_000;
const username = 'bench';

export interface KubesftpOptions {
  workDir: string;
  publicKey: string;
}

export async function startKubesftp(options: KubesftpOptions): Promise<BenchServer> {
  const dir = resolve(options.workDir, 'kubesftp');
  const configDir = join(dir, 'config');
  const homeDir = join(dir, 'home');
  await mkdir(configDir, { recursive: true });
  const httpPort = await freePort();
  const adminPassword = randomBytes(18).toString('base64url');
  const child = spawnTracked({
    command: process.execPath,
    args: [
      cliPath,
      'serve',
      '--config-dir',
      configDir,
      '--log-file-path',
      '',
      '--log-verbose',
      'false',
    ],
    env: {
      ...process.env,
      KUBESFTP_SFTPD__BIND_ADDRESS: '127.0.0.1',
      KUBESFTP_SFTPD__BIND_PORT: '0',
      KUBESFTP_HTTPD__BIND_ADDRESS: '127.0.0.1',
      KUBESFTP_HTTPD__BIND_PORT: String(httpPort),
      KUBESFTP_ADMIN_PASSWORD: adminPassword,
    },
  });
  child.stdout!.resume();
  let ports: { sftpPort: number; httpPort: number };
  try {
    ports = await waitForPorts(child);
    const api = `http://127.0.0.1:${ports.httpPort}/api/v1`;
    await createUser({ api, adminPassword, publicKey: options.publicKey, homeDir });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const serverPid = child.pid!;
  return {
    name: 'kubesftp',
    port: ports.sftpPort,
    username,
    homeDir,
    servingPids: () => processTree(serverPid, true),
    stop: () => stopChild(child, 20_000),
  };
}

async function createUser(options: {
  api: string;
  adminPassword: string;
  publicKey: string;
  homeDir: string;
}): Promise<void> {
  const basic = Buffer.from(`admin:${options.adminPassword}`).toString('base64');
  const tokenResponse = await fetch(`${options.api}/token`, {
    headers: { authorization: `Basic ${basic}` },
  });
  if (tokenResponse.status !== 200) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `token request: HTTP ${tokenResponse.status} ${await tokenResponse.text()}`,
    );
  }
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const created = await fetch(`${options.api}/user`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      username,
      public_keys: [options.publicKey],
      home_dir: options.homeDir,
      permissions: { '/': ['*'] },
      status: 1,
    }),
  });
  if (created.status !== 201 && created.status !== 200) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `user creation: HTTP ${created.status} ${await created.text()}`,
    );
  }
}

/** Reads the JSON log lines on stderr until both listeners have reported their ports. */
function waitForPorts(child: ChildProcess): Promise<{ sftpPort: number; httpPort: number }> {
  return new Promise((done, fail) => {
    const found: { sftpPort?: number; httpPort?: number } = {};
    const output: string[] = [];
    const failWith = (why: string): void =>
      fail(new KubesftpError(ErrorCode.FAILURE, `kubesftp serve ${why}:\n${output.join('\n')}`));
    const timer = setTimeout(
      () => failWith(`did not listen within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      failWith(`exited (${code ?? signal}) before listening`);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (output.length < 80) output.push(line);
      const text = logMessage(line);
      if (text?.msg === 'sftp server listening') found.sftpPort = text.port;
      if (text?.msg === 'http server listening') found.httpPort = text.port;
      if (found.sftpPort === undefined || found.httpPort === undefined) return;
      clearTimeout(timer);
      done({ sftpPort: found.sftpPort, httpPort: found.httpPort });
    });
  });
}

/** The message and port of a JSON log line; pino's `msg` or the spec's `message` field name. */
function logMessage(line: string): { msg: unknown; port: number } | undefined {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    return { msg: record.msg ?? record.message, port: Number(record.port) };
  } catch {
    return undefined;
  }
}
