/**
 * What the service needs to run with workers: how many (0 = what the pod's CPU quota
 * allows), the refusal of a provider they cannot share, and the pool forking this same
 * `kubesftp serve` command line as each worker.
 */
import { fork } from 'node:child_process';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import type { DataProvider } from '../dataprovider/types.js';
import { assertWorkersFitProvider, readCpuFacts, workerCount } from './count.js';
import { WORKER_SLOT_ENV } from './messages.js';
import { WorkerPool } from './pool.js';
import type { StartedParts } from '../startup.js';

/** The worker processes the configuration asks for; throws CONFIG_INVALID for the memory driver. */
export async function plannedWorkers(loaded: LoadedConfig): Promise<number> {
  const { sftpd, data_provider } = loaded.config;
  const count = workerCount(sftpd.workers, await readCpuFacts());
  assertWorkersFitProvider(count, data_provider.driver);
  return count;
}

/**
 * The pool of a primary with more than one worker, undefined with one. Workers run the
 * command line this process was started with (same config dir, file and log options).
 */
export function createWorkerPool(options: {
  count: number;
  provider: DataProvider;
  log: Logger;
}): WorkerPool | undefined {
  if (options.count <= 1) return undefined;
  const [script = '', ...args] = process.argv.slice(1);
  return new WorkerPool({
    count: options.count,
    log: options.log,
    releaseNode: (nodeId) => options.provider.releaseNodeSessions(nodeId),
    fork: (slot) =>
      fork(script, args, {
        env: { ...process.env, [WORKER_SLOT_ENV]: String(slot) },
        execArgv: process.execArgv,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
  });
}

/**
 * The slot of this process when the primary started it as a worker: the variable set and an
 * IPC channel to the primary (without one, the variable alone does not make a worker).
 */
export function workerSlot(env: NodeJS.ProcessEnv, hasChannel: boolean): number | undefined {
  if (!hasChannel) return undefined;
  const raw = env[WORKER_SLOT_ENV];
  return raw === undefined || !/^\d+$/.test(raw) ? undefined : Number(raw);
}

/** Forks the workers before the listener opens; a failed start kills those that started. */
export async function startWorkers(
  pool: WorkerPool | undefined,
  started: StartedParts,
): Promise<void> {
  if (pool === undefined) return;
  started.add('sftp workers', () => pool.kill());
  await pool.start();
}
