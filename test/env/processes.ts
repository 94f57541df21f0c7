/**
 * Child processes of the test bed: spawned with their output kept (the tail goes into any
 * error), stopped with TERM then KILL, and killed when the test process exits so that no
 * etcd or API server outlives a crashed test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

const outputTailBytes = 16 * 1024;
const stopGraceMs = 5_000;
const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ManagedProcess {
  readonly name: string;
  /** The pid of the binary itself (spawned without a shell), for records that outlive us. */
  readonly pid: number | undefined;
  /** The last bytes the process wrote to stdout and stderr, for error messages. */
  outputTail(): string;
  /** Set once the process has exited, with its code or signal. */
  exitStatus(): string | undefined;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const child = spawn(options.command, options.args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let tail = '';
  let exited: string | undefined;
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-outputTailBytes);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      exited = `failed to start: ${err.message}`;
      running.delete(child);
      resolve();
    });
    child.once('exit', (code, signal) => {
      exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
      running.delete(child);
      resolve();
    });
  });
  return {
    name: options.name,
    pid: child.pid,
    outputTail: () => tail,
    exitStatus: () => exited,
    stop: async () => {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

export interface WaitOptions {
  process: ManagedProcess;
  /** Resolves true once the service answers as ready. Errors count as "not yet". */
  probe: () => Promise<boolean>;
  timeoutMs: number;
  what: string;
}

/** Polls until ready; fails fast if the process dies, and names its last output either way. */
export async function waitUntilReady(options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    const status = options.process.exitStatus();
    if (status !== undefined) throw startFailure(options, `exited early (${status})`);
    if (await options.probe().catch(() => false)) return;
    await sleep(200);
  }
  throw startFailure(options, `not ready after ${options.timeoutMs} ms`);
}

function startFailure(options: WaitOptions, reason: string): KubesftpError {
  const tail = options.process.outputTail().trim().split('\n').slice(-30).join('\n');
  return new KubesftpError(ErrorCode.FAILURE, `${options.what} ${reason}; last output:\n${tail}`);
}

/** A loopback port that was free a moment ago (the kernel picks it; we release it for the child). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new KubesftpError(ErrorCode.FAILURE, 'could not read the port of a loopback listener');
  }
  return address.port;
}
