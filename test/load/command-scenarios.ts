/**
 * The exec-based transfers, timed as whole client runs (login included, as a user waits for
 * it): `scp -O` of the large file both ways, and `rsync -a` of the small-file directory. The
 * same client binaries and options go to both servers; only the remote path differs (sshd
 * starts commands in the login user's own home, kubesftp in the account's).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { sshOptions } from '../integration/harness.js';
import { runTimed, type RunResult } from './children.js';
import type { BenchServer } from './client.js';
import { directoryDigest, sha256File } from './files.js';
import { bigFileName, smallDirName, type BenchData } from './scenarios.js';

const scpDownloadName = 'big-scp-download.bin';
const rsyncDirName = 'small-rsync';

export interface CommandScenarioOptions {
  data: BenchData;
  server: BenchServer;
  cipher?: string;
  verify?: boolean;
}

function remote(server: BenchServer, name: string): string {
  return `${server.username}@127.0.0.1:${server.remoteDir === '' ? name : join(server.remoteDir, name)}`;
}

async function runClient(
  options: CommandScenarioOptions & { command: 'scp' | 'rsync'; args: string[]; timeoutMs: number },
): Promise<RunResult> {
  const result = await runTimed({
    command: options.command,
    args: options.args,
    cwd: options.data.clientDir,
    timeoutMs: options.timeoutMs,
  });
  if (result.code !== 0) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : `exit ${result.code ?? result.signal}`;
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `${options.command} against ${options.server.name} ${why}: ${result.stderr.trim()}`,
    );
  }
  return result;
}

function scpArgs(options: CommandScenarioOptions): string[] {
  const { server, data } = options;
  const args = [
    '-O',
    ...sshOptions(server.port, { username: server.username, keyPath: data.keyPath }, '-P'),
  ];
  if (options.cipher !== undefined) args.push('-c', options.cipher);
  return args;
}

function mismatch(what: string, server: BenchServer): KubesftpError {
  return new KubesftpError(
    ErrorCode.FAILURE,
    `${server.name}: ${what} does not match the source (sha256)`,
  );
}

/** `scp -O big.bin host:big.bin`; ms of the whole run. */
export async function scpUpload(options: CommandScenarioOptions): Promise<number> {
  const { data, server } = options;
  const target = join(server.homeDir, bigFileName);
  await rm(target, { force: true });
  const result = await runClient({
    ...options,
    command: 'scp',
    args: [...scpArgs(options), bigFileName, remote(server, bigFileName)],
    timeoutMs: data.bigTimeoutMs,
  });
  if (options.verify === true && (await sha256File(target)) !== data.bigSha256) {
    throw mismatch('the file scp uploaded', server);
  }
  return result.elapsedMs;
}

/** `scp -O host:big.bin big-scp-download.bin` of the file an upload left; ms of the whole run. */
export async function scpDownload(options: CommandScenarioOptions): Promise<number> {
  const { data, server } = options;
  const local = join(data.clientDir, scpDownloadName);
  await rm(local, { force: true });
  const result = await runClient({
    ...options,
    command: 'scp',
    args: [...scpArgs(options), remote(server, bigFileName), scpDownloadName],
    timeoutMs: data.bigTimeoutMs,
  });
  const verified = options.verify !== true || (await sha256File(local)) === data.bigSha256;
  await rm(local, { force: true });
  if (!verified) throw mismatch('the file scp downloaded', server);
  return result.elapsedMs;
}

/** `rsync -a small/ host:small-rsync/` into a fresh directory; ms of the whole run. */
export async function rsyncSmall(options: CommandScenarioOptions): Promise<number> {
  const { data, server } = options;
  const target = join(server.homeDir, rsyncDirName);
  await rm(target, { recursive: true, force: true });
  const ssh = [
    'ssh',
    ...sshOptions(server.port, { username: server.username, keyPath: data.keyPath }, '-p'),
  ];
  const result = await runClient({
    ...options,
    command: 'rsync',
    args: ['-a', '-e', ssh.join(' '), `${smallDirName}/`, remote(server, `${rsyncDirName}/`)],
    timeoutMs: 300_000,
  });
  if (options.verify === true && (await directoryDigest(target)) !== data.smallDigest) {
    throw mismatch(`the ${rsyncDirName}/ directory rsync uploaded`, server);
  }
  return result.elapsedMs;
}
