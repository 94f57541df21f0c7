/**
 * How many processes serve SFTP (`sftpd.workers`): the number configured, or with 0 the CPUs
 * the pod may use. A container's CPU limit is its cgroup v2 quota, not the host's core count
 * that os.availableParallelism() sees; a worker per host core would only contend for the quota.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { ErrorCode, KubesftpError } from '../errors.js';

export const CPU_MAX_PATH = '/sys/fs/cgroup/cpu.max';

/**
 * The CPUs a cgroup v2 `cpu.max` grants ("quota period", e.g. "150000 100000" → 2), rounded
 * up; undefined for "max" (no quota) or text that is not a quota.
 */
export function cpusFromCpuMax(text: string): number | undefined {
  const match = /^(\d+|max)(?:\s+(\d+))?\s*$/.exec(text.trim());
  if (match === null || match[1] === 'max') return undefined;
  const quota = Number(match[1]);
  const period = Number(match[2] ?? 100_000);
  if (quota <= 0 || period <= 0) return undefined;
  return Math.ceil(quota / period);
}

export interface CpuFacts {
  /** The text of cpu.max; undefined where there is none (cgroup v1, not Linux). */
  cpuMax: string | undefined;
  parallelism: number;
}

/** The worker count for `configured` (0 = automatic), at least 1. */
export function workerCount(configured: number, facts: CpuFacts): number {
  if (configured > 0) return configured;
  const quota = facts.cpuMax === undefined ? undefined : cpusFromCpuMax(facts.cpuMax);
  return Math.max(1, Math.min(quota ?? facts.parallelism, facts.parallelism));
}

/** This machine's facts: the cgroup quota of this process, if any, and its usable CPUs. */
export async function readCpuFacts(): Promise<CpuFacts> {
  const cpuMax = await readFile(CPU_MAX_PATH, 'utf8').catch(() => undefined);
  return { cpuMax, parallelism: availableParallelism() };
}

/** Several processes cannot share the memory driver's accounts, sessions and quota. */
export function assertWorkersFitProvider(workers: number, driver: string): void {
  if (workers > 1 && driver === 'memory') {
    throw new KubesftpError(
      ErrorCode.CONFIG_INVALID,
      `sftpd.workers: ${workers} worker processes cannot share the memory data provider; ` +
        'set sftpd.workers to 1 or use a data_provider.driver shared across processes (sqlite, kv, postgresql, mysql)',
    );
  }
}
