/**
 * Child processes of the test bed: spawned with their output kept (the tail goes into any
 * error), stopped with TERM then KILL, and killed when the test process exits so that no
 * etcd or API server outlives a crashed test run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

const outputTailBytes = 16 * 1024;
const stopGraceMs = 5_000;
const running = new Set<ChildProcess>();
/** Children started in a process group of their own: killed as a group (a server and its workers). */
const groups = new Set<number>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Runs the server as a background job of a small shell that holds our pipe as its stdin. When
 * the test process ends in any way, SIGKILL included, the pipe closes and the shell sends the
 * server its stop signal: no database outlives a crashed test run.
 */
const WATCHDOG = `
exec 3<&0
"$@" </dev/null &
server=$!
(cat <&3 >/dev/null; kill -s "$STOP_SIGNAL" "$server" 2>/dev/null) &
trap 'kill -s "$STOP_SIGNAL" "$server" 2>/dev/null' TERM INT
status=0
while kill -0 "$server" 2>/dev/null; do wait "$server"; status=$?; done
exit "$status"
`;

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
  /** Run as this user (the test process must be root); database servers refuse root. */
  user?: { uid: number; gid: number };
  /**
   * Stop the server when the test process goes away, even by SIGKILL, sending this signal
   * (PostgreSQL: SIGINT for a fast shutdown). The child gets a process group of its own.
   */
  stopSignal?: NodeJS.Signals;
}

function spawnChild(options: SpawnOptions): ChildProcess {
  const env = { ...process.env, ...options.env };
  const ids = options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid };
  if (options.stopSignal === undefined) {
    return spawn(options.command, options.args, { env, ...ids, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const watched = spawn('sh', ['-c', WATCHDOG, 'watchdog', options.command, ...options.args], {
    env: { ...env, STOP_SIGNAL: options.stopSignal.replace(/^SIG/, '') },
    ...ids,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (watched.pid !== undefined) groups.add(watched.pid);
  return watched;
}

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const child = spawnChild(options);
  const pgid = options.stopSignal === undefined ? undefined : child.pid;
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
      if (pgid !== undefined) {
        // The shell is gone; anything of its group still alive is stray.
        killGroup(pgid, 'SIGKILL');
        groups.delete(pgid);
      }
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
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        if (pgid !== undefined) killGroup(pgid, 'SIGKILL');
      }, stopGraceMs);
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

export interface RunOptions {
  name: string;
  command: string;
  args: string[];
  user?: { uid: number; gid: number } | undefined;
  timeoutMs?: number;
}

/** Runs a setup command (initdb, mariadb-install-db) to its end; a failure names its output. */
export async function runToCompletion(options: RunOptions): Promise<void> {
  const ids = options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid };
  await new Promise<void>((resolve, reject) => {
    execFile(
      options.command,
      options.args,
      { ...ids, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err === null) return resolve();
        const tail = `${stdout}${stderr}`.trim().split('\n').slice(-30).join('\n');
        reject(
          new KubesftpError(
            ErrorCode.FAILURE,
            `${options.name} failed (${err.message}); last output:\n${tail}`,
          ),
        );
      },
    );
  });
}
