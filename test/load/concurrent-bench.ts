/**
 * The concurrent phase: many `sftp` clients log in, wait until all are in, then each upload
 * the same file at once, against OpenSSH and kubesftp in turns. Reports the aggregate throughput and the peak PSS summed over
 * every process of the server (sshd's listener and its per-connection processes; kubesftp and
 * any worker it forks), sampled through the uploads. kubesftp runs once per process count asked
 * (BENCH_WORKERS); a count it cannot start with is that row's error, not the benchmark's end.
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { commandSpan, runSftp, type BenchServer } from './client.js';
import {
  aggregateMiBps,
  concurrentMetric,
  concurrentPssMetric,
  workersEnv,
  type Span,
} from './concurrent.js';
import { sha256File, writeRandomFile } from './files.js';
import { totalPssKiB } from './idle.js';
import { startKubesftp } from './kubesftp.js';
import { errorText, repeat, type Results, type ServerSlot } from './results.js';
import { processTree, sampleRss } from './rss.js';
import type { BenchData } from './scenarios.js';
import type { BenchSettings } from './settings.js';

const mib = 1024 * 1024;
const sourceName = 'concurrent.bin';
const endMarker = 'pwd';
/** smaps_rollup of some 70 sshd processes each time: not every 100 ms. */
const pssIntervalMs = 200;

export interface ConcurrentPhase {
  settings: BenchSettings;
  data: BenchData;
  slots: ServerSlot[];
  results: Results;
  workDir: string;
  publicKey: string;
  log: (line: string) => void;
}

const targetName = (index: number): string => `concurrent-${index}.bin`;
const barrierDir = 'concurrent-barrier';
const goFifo = 'go.fifo';
const barrierPollMs = 20;
const barrierTimeoutMs = 120_000;

/**
 * The client's first batch command, run in its local shell once it has logged in: it says it
 * is ready, then opens a FIFO for reading, which blocks until the benchmark opens its other
 * end. So every upload starts together, no login falls inside the measured interval, and no
 * waiting client spins.
 */
const waitForGo = (index: number): string =>
  `!touch ${barrierDir}/ready-${index} && : < ${barrierDir}/${goFifo}`;

/**
 * Gives the go once every client is ready (or one has failed, or the timeout passed): opens
 * the FIFO and holds it open, so that a client between its touch and its open passes too.
 */
async function releaseWhenReady(
  dir: string,
  count: number,
  done: () => boolean,
): Promise<FileHandle> {
  const deadline = Date.now() + barrierTimeoutMs;
  for (;;) {
    const ready = (await readdir(dir)).filter((name) => name.startsWith('ready-')).length;
    if (ready >= count || done() || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, barrierPollMs));
  }
  // Read-write: opening a FIFO this way never waits for the other side.
  return open(join(dir, goFifo), 'r+');
}

/** Every uploaded copy against the source's sha256. */
async function verifyUploads(server: BenchServer, count: number, sha256: string): Promise<void> {
  for (let index = 0; index < count; index++) {
    if ((await sha256File(join(server.homeDir, targetName(index)))) !== sha256) {
      throw new KubesftpError(
        ErrorCode.FAILURE,
        `${server.name}: ${targetName(index)} does not match the source (sha256)`,
      );
    }
  }
}

/** One round: every client uploads at once; the aggregate MiB/s, and the peak PSS in MiB. */
async function uploadAtOnce(options: {
  phase: ConcurrentPhase;
  server: BenchServer;
  sha256: string;
  verify: boolean;
}): Promise<{ mibps: number; peakPssMiB: number }> {
  const { phase, server } = options;
  const { settings, data } = phase;
  const barrier = join(data.clientDir, barrierDir);
  await rm(barrier, { recursive: true, force: true });
  await mkdir(barrier);
  await promisify(execFile)('mkfifo', [join(barrier, goFifo)]);
  const sampler = sampleRss(() => processTree(server.mainPid, true), pssIntervalMs, totalPssKiB);
  let spans: Span[];
  let samples: number[];
  let settled = false;
  let go: FileHandle | undefined;
  try {
    const uploads = Promise.all(
      Array.from({ length: settings.concurrentSessions }, async (_, index) => {
        const command = `put ${sourceName} ${targetName(index)}`;
        const result = await runSftp({
          server,
          keyPath: data.keyPath,
          commands: [waitForGo(index), command, endMarker],
          cwd: data.clientDir,
          // Generous: every client slower than 1 MiB/s means something is broken.
          timeoutMs: barrierTimeoutMs + Math.max(120_000, settings.concurrentMiB * 1000),
        });
        return commandSpan(result, command, endMarker);
      }),
    ).finally(() => (settled = true));
    // Awaited below; until then a failed client must not count as an unhandled rejection.
    uploads.catch(() => undefined);
    go = await releaseWhenReady(barrier, settings.concurrentSessions, () => settled);
    spans = await uploads;
  } finally {
    samples = await sampler.stop();
    await go?.close();
    await rm(barrier, { recursive: true, force: true });
  }
  try {
    if (options.verify) await verifyUploads(server, settings.concurrentSessions, options.sha256);
  } finally {
    await Promise.all(
      Array.from({ length: settings.concurrentSessions }, (_, index) =>
        rm(join(server.homeDir, targetName(index)), { force: true }),
      ),
    );
  }
  return {
    mibps: aggregateMiBps(spans, settings.concurrentMiB),
    peakPssMiB: Math.max(...samples) / 1024,
  };
}

/** The slots for one process count: the started kubesftp for 1, another one otherwise. */
async function slotsFor(
  phase: ConcurrentPhase,
  workers: number,
): Promise<{ slots: ServerSlot[]; stop: () => Promise<void> }> {
  if (workers === 1) return { slots: phase.slots, stop: () => Promise.resolve() };
  let extra: ServerSlot;
  try {
    phase.log(`starting kubesftp with sftpd.workers=${workers}`);
    const server = await startKubesftp({
      workDir: phase.workDir,
      publicKey: phase.publicKey,
      name: `kubesftp-${workers}-workers`,
      env: workersEnv(workers),
    });
    extra = { key: 'kubesftp', server };
  } catch (err) {
    const why = `with sftpd.workers=${workers} (KUBESFTP_SFTPD__WORKERS=${workers}): ${errorText(err)}`;
    phase.log(`kubesftp did not start ${why}`);
    extra = { key: 'kubesftp', startError: why };
  }
  return {
    slots: phase.slots.map((slot) => (slot.key === 'kubesftp' ? extra : slot)),
    stop: async () => extra.server?.stop(),
  };
}

export async function measureConcurrent(phase: ConcurrentPhase): Promise<void> {
  const { settings, data, results, log } = phase;
  const sha256 = await writeRandomFile(
    join(data.clientDir, sourceName),
    settings.concurrentMiB * mib,
  );
  for (const workers of settings.workers) {
    const { slots, stop } = await slotsFor(phase, workers);
    log(
      `${settings.concurrentSessions} concurrent uploads of ${settings.concurrentMiB} MiB, kubesftp workers: ${workers}`,
    );
    try {
      await repeat({
        metric: concurrentMetric(workers),
        slots,
        runs: settings.runs,
        results,
        log,
        probe: async (server, key, run) => {
          const round = await uploadAtOnce({ phase, server, sha256, verify: run === 0 });
          results.add(concurrentPssMetric(workers), key, round.peakPssMiB);
          log(`  peak PSS [${key}]: ${round.peakPssMiB.toFixed(1)} MiB`);
          return round.mibps;
        },
      });
    } finally {
      await stop();
    }
    // A server that never ran has no memory figure either; say why beside it.
    for (const slot of slots) {
      const error = results.error(concurrentMetric(workers), slot.key);
      if (error !== undefined) results.fail(concurrentPssMetric(workers), slot.key, error);
    }
  }
}
