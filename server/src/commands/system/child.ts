/**
 * Runs a system binary for one exec request: working directory the home, a minimal
 * environment, the account's ids when the server is root, and the channel's three streams
 * relayed both ways with backpressure. The client's bytes are counted against the quota the
 * policy left; past it, and when the client disconnects or the server shuts down, the binary's
 * whole process group is killed.
 */
import { spawn } from 'node:child_process';
import type { SystemCommandGrant } from '../../session/system-commands.js';
import { writeErr } from '../io.js';
import type { CommandRun } from '../types.js';

/** Where the binaries are looked up; the server's own PATH is not passed on. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ChildOptions {
  run: CommandRun;
  grant: SystemCommandGrant;
  file: string;
  args: string[];
  /** Added to the minimal environment. */
  env?: Record<string, string>;
}

export interface ChildResult {
  exitStatus: number;
  /** The client sent more than the quota left, and the binary was stopped for it. */
  overQuota: boolean;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Relays the client's input to the child, pausing the channel while the child is busy. */
function relayInput(
  options: ChildOptions,
  stdin: NodeJS.WritableStream,
  stop: () => void,
): () => void {
  const input = options.run.io.input;
  let received = 0;
  const onData = (chunk: Buffer): void => {
    options.run.touch();
    received += chunk.length;
    if (received > options.grant.inputBudget) return stop();
    if (!stdin.write(chunk)) {
      input.pause();
      stdin.once('drain', () => input.resume());
    }
  };
  const onEnd = (): void => void stdin.end();
  input.on('data', onData);
  input.once('end', onEnd);
  return () => {
    input.off('data', onData);
    input.off('end', onEnd);
  };
}

export function runChild(options: ChildOptions): Promise<ChildResult> {
  const { run, grant } = options;
  return new Promise((resolve) => {
    const child = spawn(options.file, options.args, {
      cwd: grant.homeDir,
      env: { PATH: SYSTEM_PATH, HOME: grant.homeDir, LANG: 'C.UTF-8', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so every process it forks is killed with it.
      detached: true,
      uid: grant.runAs?.uid,
      gid: grant.runAs?.gid,
    });
    let overQuota = false;
    const stopForQuota = (): void => {
      overQuota = true;
      killGroup(child.pid);
    };
    const onAbort = (): void => killGroup(child.pid);
    run.signal.addEventListener('abort', onAbort, { once: true });
    // A child that exits early makes writes to its stdin fail; its exit status tells why.
    child.stdin.on('error', () => undefined);
    const stopRelay = relayInput(options, child.stdin, stopForQuota);
    child.stdout.on('data', () => run.touch());
    child.stdout.pipe(run.io.output, { end: false });
    child.stderr.pipe(run.io.errors, { end: false });
    let settled = false;
    const finish = (result: ChildResult, startError?: Error): void => {
      if (settled) return;
      settled = true;
      run.signal.removeEventListener('abort', onAbort);
      stopRelay();
      if (startError !== undefined) {
        run.log.warn({ err: startError, file: options.file }, 'system command failed to start');
        void writeErr(run.io, `${run.name}: not available on this server\n`).catch(() => undefined);
      }
      resolve(result);
    };
    child.once('error', (err) => finish({ exitStatus: 1, overQuota }, err));
    child.once('close', (code) => finish({ exitStatus: code ?? 1, overQuota }));
  });
}
