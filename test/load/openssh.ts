/**
 * The baseline: OpenSSH's sshd with internal-sftp on a free loopback port, a fresh host key and
 * a generated authorized_keys, logging in the current user. Each connection is served by the
 * processes sshd forks for it, so those (not the idle listener) are what its memory figure sums.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { spawnTracked, stopChild } from './children.js';
import { processTree } from './rss.js';
import { freePort } from '../integration/harness.js';
import type { BenchServer } from './client.js';

const run = promisify(execFile);
const sshdPath = '/usr/sbin/sshd';
/** sshd refuses to start without its privilege separation directory. */
const privsepDir = '/run/sshd';
const startTimeoutMs = 15_000;

export interface OpenSshOptions {
  workDir: string;
  /** The client's public key, one authorized_keys line. */
  publicKey: string;
}

export function sshdConfig(options: { port: number; dir: string; homeDir: string }): string {
  return [
    `Port ${options.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(options.dir, 'ssh_host_ed25519_key')}`,
    'PidFile none',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    `AuthorizedKeysFile ${join(options.dir, 'authorized_keys')}`,
    'StrictModes no',
    'UseDNS no',
    'LogLevel INFO',
    // The concurrent phase logs in 32 clients at once: past the default 10 unauthenticated
    // connections sshd starts dropping some. kubesftp gets the same bound (kubesftp.ts).
    'MaxStartups 64:30:128',
    `Subsystem sftp internal-sftp -d ${options.homeDir}`,
    '',
  ].join('\n');
}

export async function startOpenSsh(options: OpenSshOptions): Promise<BenchServer> {
  const dir = resolve(options.workDir, 'sshd');
  const homeDir = join(dir, 'home');
  await mkdir(homeDir, { recursive: true });
  await mkdir(privsepDir, { recursive: true, mode: 0o755 });
  await run('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-f',
    join(dir, 'ssh_host_ed25519_key'),
  ]);
  await writeFile(join(dir, 'authorized_keys'), `${options.publicKey}\n`);
  const port = await freePort();
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, sshdConfig({ port, dir, homeDir }));
  const child = spawnTracked({ command: sshdPath, args: ['-D', '-e', '-f', configPath] });
  try {
    await waitForListening(child.stderr!, () => child.exitCode ?? child.signalCode);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const listenerPid = child.pid!;
  return {
    name: 'OpenSSH',
    port,
    username: userInfo().username,
    homeDir,
    // Commands start in the login user's own home, not in internal-sftp's directory.
    remoteDir: homeDir,
    mainPid: listenerPid,
    servingPids: () => processTree(listenerPid, false),
    stop: () => stopChild(child),
  };
}

/** Resolves on sshd's "Server listening" line; fails with its output if it exits or stalls. */
function waitForListening(stderr: NodeJS.ReadableStream, exited: () => unknown): Promise<void> {
  return new Promise((done, fail) => {
    const output: string[] = [];
    const lines = createInterface({ input: stderr });
    const failWith = (why: string): void =>
      fail(new KubesftpError(ErrorCode.FAILURE, `sshd ${why}:\n${output.join('\n')}`));
    const timer = setTimeout(
      () => failWith(`did not listen within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    const poll = setInterval(() => {
      if (exited() === null) return;
      clearTimeout(timer);
      clearInterval(poll);
      failWith(`exited (${String(exited())})`);
    }, 100);
    lines.on('line', (line) => {
      if (output.length < 50) output.push(line);
      if (!line.includes('Server listening on')) return;
      clearTimeout(timer);
      clearInterval(poll);
      done();
    });
  });
}
