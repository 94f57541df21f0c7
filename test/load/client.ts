/**
 * The OpenSSH `sftp` client as the benchmark drives it: the same binary and options against
 * both servers, public-key login, no configuration or known-hosts file from the machine.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { runTimed, type RunResult } from './children.js';
import { sshOptions } from '../integration/harness.js';

/** A server under test, as the benchmark sees it. */
export interface BenchServer {
  readonly name: string;
  readonly port: number;
  readonly username: string;
  /** Server-side directory where a session starts: uploads land here, relative paths resolve here. */
  readonly homeDir: string;
  /** How remote commands (scp, rsync) name homeDir: "" when they already start there. */
  readonly remoteDir: string;
  /** The process that listens (sshd's listener, kubesftp's only process): idle memory is its. */
  readonly mainPid: number;
  /**
   * Idle RSS (MiB) taken at start when the server's own setup would disturb a later reading:
   * kubesftp's user is made through its REST API, which loads the API into the process.
   */
  readonly startIdleRssMiB?: number;
  /** The same, read again once the idle process has settled (see KubesftpOptions.settleMs). */
  readonly settledIdleRssMiB?: number;
  /**
   * Only for a server that keeps files in memory (the benchmark's in-memory floor): empties its
   * home, which removing homeDir cannot. Such a server's uploads cannot be read back from
   * homeDir to check them.
   */
  clearHome?(): Promise<void>;
  /** Processes whose memory counts as the server's while a connection is served. */
  servingPids(): Promise<number[]>;
  stop(): Promise<void>;
}

export interface SftpRunOptions {
  server: BenchServer;
  keyPath: string;
  /** Batch commands, one per line. */
  commands: string[];
  /** Client working directory: local paths in the batch resolve here. */
  cwd: string;
  cipher?: string;
  timeoutMs: number;
}

let batchCounter = 0;

export function clientArgs(options: SftpRunOptions, batchPath: string): string[] {
  const { port, username } = options.server;
  const args = sshOptions(port, { username, keyPath: options.keyPath }, '-P');
  if (options.cipher !== undefined) args.push('-c', options.cipher);
  args.push('-b', batchPath, `${username}@127.0.0.1`);
  return args;
}

/** Runs one `sftp -b` session and fails with the client's stderr when it does not exit 0. */
export async function runSftp(options: SftpRunOptions): Promise<RunResult> {
  const batchPath = join(options.cwd, `batch-${process.pid}-${++batchCounter}.txt`);
  await writeFile(batchPath, `${options.commands.join('\n')}\n`);
  const result = await runTimed({
    command: 'sftp',
    args: clientArgs(options, batchPath),
    cwd: options.cwd,
    timeoutMs: options.timeoutMs,
  });
  if (result.code !== 0) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : `exit ${result.code ?? result.signal}`;
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `sftp against ${options.server.name} (${options.commands.join('; ')}) ${why}: ${result.stderr.trim()}`,
    );
  }
  return result;
}

/** When `marker` first reached stdout at or after byte `from`, ms after spawn (stdout is ASCII here). */
function arrivalOf(
  result: RunResult,
  marker: string,
  from: number,
): { atMs: number; end: number } | undefined {
  const offset = result.stdout.indexOf(marker, from);
  if (offset < 0) return undefined;
  const arrival = result.stdoutArrivals.findLast((chunk) => chunk.offset <= offset);
  return arrival === undefined ? undefined : { atMs: arrival.atMs, end: offset + marker.length };
}

/**
 * How long one batch command ran, as the client saw it: from its echo of `command` to its echo
 * of the command after it. sftp line-buffers stdout, so each echo arrives when it is printed;
 * login and teardown fall outside the interval.
 */
export function commandMs(result: RunResult, command: string, nextCommand: string): number {
  const span = commandSpan(result, command, nextCommand);
  return span.endMs - span.startMs;
}

/** The interval commandMs measures, on the monotonic clock, to line up concurrent runs. */
export function commandSpan(
  result: RunResult,
  command: string,
  nextCommand: string,
): { startMs: number; endMs: number } {
  const start = arrivalOf(result, `sftp> ${command}\n`, 0);
  const end = start && arrivalOf(result, `sftp> ${nextCommand}\n`, start.end);
  if (start === undefined || end === undefined) {
    throw new KubesftpError(
      ErrorCode.FAILURE,
      `sftp did not echo "${command}" then "${nextCommand}"`,
    );
  }
  return { startMs: result.startedAtMs + start.atMs, endMs: result.startedAtMs + end.atMs };
}
