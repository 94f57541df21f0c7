/**
 * Child processes of the benchmark: every one is tracked, bounded by a timeout and killed when
 * the benchmark ends, fails or is interrupted, so no server outlives a run. Cleanup steps (the
 * temporary directory with gigabyte files) run on the same paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];

/** Registers a synchronous step that runs once when the benchmark exits for any reason. */
export function onCleanup(step: () => void): void {
  cleanups.push(step);
}

/** Kills every child still running, then runs the cleanup steps (newest first). */
export function cleanUpNow(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  while (cleanups.length > 0) {
    const step = cleanups.pop()!;
    try {
      step();
    } catch (err) {
      process.stderr.write(`cleanup failed: ${String(err)}\n`);
    }
  }
}

/** Makes exit, Ctrl-C and SIGTERM kill the children and remove temporary files. */
export function installExitHandlers(): void {
  process.once('exit', cleanUpNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping servers and removing temporary files\n`);
      cleanUpNow();
      process.exit(code);
    });
  }
}

export interface SpawnTrackedOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Spawns a long-lived child (a server) whose stdout and stderr the caller reads. */
export function spawnTracked(options: SpawnTrackedOptions): ChildProcess {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** Sends SIGTERM, then SIGKILL after a grace period, and waits for the exit. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RunOptions extends SpawnTrackedOptions {
  timeoutMs: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, measured with the monotonic clock. */
  elapsedMs: number;
  /** The spawn on the monotonic clock (process.hrtime), ms: lines up several runs' arrivals. */
  startedAtMs: number;
  /** When each stdout chunk arrived, ms after spawn, with its offset in `stdout`. */
  stdoutArrivals: { atMs: number; offset: number }[];
  timedOut: boolean;
}

/** Runs a short-lived command to completion (or until its timeout) and times it. */
export function runTimed(options: RunOptions): Promise<RunResult> {
  return new Promise((done) => {
    const started = process.hrtime.bigint();
    const child = spawnTracked(options);
    let elapsedMs = 0;
    let timedOut = false;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const stdoutArrivals: { atMs: number; offset: number }[] = [];
    let stdoutBytes = 0;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdoutArrivals.push({
        atMs: Number(process.hrtime.bigint() - started) / 1e6,
        offset: stdoutBytes,
      });
      stdoutBytes += chunk.length;
      stdout.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('exit', () => {
      elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    });
    child.once('error', (err) => stderr.push(Buffer.from(`failed to start: ${err.message}`)));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        elapsedMs,
        startedAtMs: Number(started) / 1e6,
        stdoutArrivals,
        timedOut,
      });
    });
  });
}

/**
 * Runs a benchmark's body as the program, unless under the test runner: `node --test dist/test`
 * loads every file under a test/ directory, and a benchmark must not run inside the suite.
 */
export function runBenchmarkMain(body: () => Promise<void>): void {
  if (process.env.NODE_TEST_CONTEXT !== undefined) {
    console.log('benchmark skipped under the test runner: run it with `make bench`');
    return;
  }
  installExitHandlers();
  body()
    .catch((err: unknown) => {
      process.stderr.write(
        `benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    })
    // Anything still tracked (a server that half-started) would keep the event loop alive.
    .finally(cleanUpNow);
}
