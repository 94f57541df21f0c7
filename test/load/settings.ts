/**
 * Benchmark knobs, read once from the environment: BENCH_RUNS, BENCH_SIZE_MIB, BENCH_LOGINS,
 * BENCH_SMALL_FILES, BENCH_IDLE_SESSIONS, BENCH_CONCURRENT_SESSIONS, BENCH_CONCURRENT_MIB,
 * BENCH_WORKERS, BENCH_TMPDIR, BENCH_SERVERS, BENCH_PHASES, BENCH_FLOOR, BENCH_S3 and BENCH_OUT.
 */
import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import type { FloorBackend } from './floor.js';

export const serverKeys = ['openssh', 'kubesftp'] as const;
export type ServerKey = (typeof serverKeys)[number];

/** The parts of the benchmark, in the order they run; BENCH_PHASES picks some. */
export const phaseKeys = [
  'idle',
  'logins',
  'transfers',
  'memory',
  'scp',
  'small',
  'rsync',
  'sessions',
  'concurrent',
  's3',
] as const;
export type PhaseKey = (typeof phaseKeys)[number];

export interface BenchSettings {
  /** Runs per transfer figure; the best one counts. */
  runs: number;
  sizeMiB: number;
  /** Logins whose median is the login latency. */
  logins: number;
  smallFiles: number;
  smallFileBytes: number;
  /**
   * Idle authenticated sessions held at once to price one session. OpenSSH forks two processes
   * per session, so the default stays at a count this shared machine holds comfortably.
   */
  idleSessions: number;
  /** Sessions uploading at once in the concurrent phase, and the MiB each one uploads. */
  concurrentSessions: number;
  concurrentMiB: number;
  /**
   * kubesftp's process counts (`sftpd.workers`) the concurrent phase measures. 1 is the server
   * as the other phases start it; any other count starts one more server with that setting.
   */
  workers: number[];
  /** Where the work dir (client files and both servers' homes) is created. */
  tmpBase: string;
  servers: ServerKey[];
  phases: PhaseKey[];
  /**
   * Runs kubesftp's transport and engine alone (floor-server.ts) in kubesftp's column, over the
   * local backend or memory; unset runs kubesftp itself. Only the phases in floorPhaseKeys
   * run with it.
   */
  floor?: FloorBackend;
  ciphers: string[];
  /** The S3 section (kubesftp to MinIO beside the SDK directly); BENCH_S3=0 leaves it out. */
  s3: boolean;
  outPath?: string;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${name} must be a positive integer, got "${text}"`,
    );
  }
  return value;
}

/** A comma-separated list of distinct positive integers, in the order given. */
function positiveIntegers(env: NodeJS.ProcessEnv, name: string, fallback: number[]): number[] {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const values = text.split(',').map((entry) => Number(entry.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${name} takes a comma-separated list of positive integers, got "${text}"`,
    );
  }
  return [...new Set(values)];
}

/** Memory-backed /dev/shm keeps disk speed out of the figures; the system temp dir otherwise. */
function defaultTmpBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** A comma-separated subset of `keys`; all of them when the variable is unset or empty. */
function subsetOf<K extends string>(
  name: string,
  keys: readonly K[],
  text: string | undefined,
): K[] {
  if (text === undefined || text === '') return [...keys];
  const names = text.split(',').map((entry) => entry.trim());
  const unknown = names.filter((entry) => !(keys as readonly string[]).includes(entry));
  if (unknown.length > 0 || names.length === 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `${name} takes a comma-separated subset of ${keys.join(', ')}; unknown: ${unknown.join(', ')}`,
    );
  }
  return names as K[];
}

/**
 * The phases the floor serves like kubesftp: SFTP from one process. scp and rsync need SSH
 * commands, the concurrent phase starts kubesftp itself for more workers, and the S3 section
 * measures kubesftp's S3 backend.
 */
export const floorPhaseKeys: readonly PhaseKey[] = [
  'idle',
  'logins',
  'transfers',
  'memory',
  'small',
  'sessions',
];

/** BENCH_PHASES, limited to what BENCH_FLOOR serves when it is set. */
function phasesFor(env: NodeJS.ProcessEnv, floor: FloorBackend | undefined): PhaseKey[] {
  const phases = subsetOf('BENCH_PHASES', phaseKeys, env.BENCH_PHASES);
  if (floor === undefined) return phases;
  if (env.BENCH_PHASES === undefined || env.BENCH_PHASES === '') {
    return phases.filter((phase) => floorPhaseKeys.includes(phase));
  }
  const others = phases.filter((phase) => !floorPhaseKeys.includes(phase));
  if (others.length > 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `BENCH_FLOOR runs only the phases ${floorPhaseKeys.join(', ')}; BENCH_PHASES also names ${others.join(', ')}`,
    );
  }
  return phases;
}

function floorBackend(text: string | undefined): FloorBackend | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'local' || text === 'memory') return text;
  throw new KubesftpError(
    ErrorCode.CONFIG_INVALID,
    `BENCH_FLOOR takes "local" or "memory", got "${text}"`,
  );
}

export function readSettings(env: NodeJS.ProcessEnv): BenchSettings {
  const floor = floorBackend(env.BENCH_FLOOR);
  return {
    runs: positiveInteger(env, 'BENCH_RUNS', 2),
    sizeMiB: positiveInteger(env, 'BENCH_SIZE_MIB', 1024),
    logins: positiveInteger(env, 'BENCH_LOGINS', 20),
    smallFiles: positiveInteger(env, 'BENCH_SMALL_FILES', 2000),
    smallFileBytes: 4096,
    idleSessions: positiveInteger(env, 'BENCH_IDLE_SESSIONS', 200),
    concurrentSessions: positiveInteger(env, 'BENCH_CONCURRENT_SESSIONS', 32),
    concurrentMiB: positiveInteger(env, 'BENCH_CONCURRENT_MIB', 8),
    workers: positiveIntegers(env, 'BENCH_WORKERS', [1]),
    tmpBase:
      env.BENCH_TMPDIR === undefined || env.BENCH_TMPDIR === ''
        ? defaultTmpBase()
        : env.BENCH_TMPDIR,
    servers: subsetOf('BENCH_SERVERS', serverKeys, env.BENCH_SERVERS),
    phases: phasesFor(env, floor),
    floor,
    ciphers: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
    s3: env.BENCH_S3 !== '0',
    outPath: env.BENCH_OUT === '' ? undefined : env.BENCH_OUT,
  };
}
