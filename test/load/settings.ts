/**
 * Benchmark knobs, read once from the environment: BENCH_RUNS, BENCH_SIZE_MIB, BENCH_LOGINS,
 * BENCH_SMALL_FILES, BENCH_IDLE_SESSIONS, BENCH_TMPDIR, BENCH_SERVERS, BENCH_S3 and BENCH_OUT.
 */
import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';

export const serverKeys = ['openssh', 'kubesftp'] as const;
export type ServerKey = (typeof serverKeys)[number];

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
  /** Where the work dir (client files and both servers' homes) is created. */
  tmpBase: string;
  servers: ServerKey[];
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

/** Memory-backed /dev/shm keeps disk speed out of the figures; the system temp dir otherwise. */
function defaultTmpBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

function serverList(text: string | undefined): ServerKey[] {
  if (text === undefined || text === '') return [...serverKeys];
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(serverKeys as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `BENCH_SERVERS takes a comma-separated subset of ${serverKeys.join(', ')}; unknown: ${unknown.join(', ')}`,
    );
  }
  return names as ServerKey[];
}

export function readSettings(env: NodeJS.ProcessEnv): BenchSettings {
  return {
    runs: positiveInteger(env, 'BENCH_RUNS', 2),
    sizeMiB: positiveInteger(env, 'BENCH_SIZE_MIB', 1024),
    logins: positiveInteger(env, 'BENCH_LOGINS', 20),
    smallFiles: positiveInteger(env, 'BENCH_SMALL_FILES', 2000),
    smallFileBytes: 4096,
    idleSessions: positiveInteger(env, 'BENCH_IDLE_SESSIONS', 200),
    tmpBase:
      env.BENCH_TMPDIR === undefined || env.BENCH_TMPDIR === ''
        ? defaultTmpBase()
        : env.BENCH_TMPDIR,
    servers: serverList(env.BENCH_SERVERS),
    ciphers: ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'],
    s3: env.BENCH_S3 !== '0',
    outPath: env.BENCH_OUT === '' ? undefined : env.BENCH_OUT,
  };
}
