/**
 * `make bench`: kubesftp beside OpenSSH's sshd on this machine, driven by the same OpenSSH
 * `sftp` client, one transfer at a time with the two servers taking turns (the order flips each
 * run). Prints a table of throughput, small-file, login and memory figures with ratios, and
 * writes JSON to BENCH_OUT.
 *
 * Transfer and small-file times exclude connection setup and teardown: each is the interval the
 * client itself shows between its echo of the measured batch command and of the next one.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { onCleanup, runBenchmarkMain, runTimed } from './children.js';
import type { BenchServer } from './client.js';
import { rsyncSmall, scpDownload, scpUpload } from './command-scenarios.js';
import { treeCpuMs } from './cpu.js';
import { storageKind, writeRandomFile, writeSmallFiles } from './files.js';
import { startFloor } from './floor.js';
import { startKubesftp } from './kubesftp.js';
import { startOpenSsh } from './openssh.js';
import {
  formatReport,
  reportJson,
  type BenchReport,
  type Better,
  type MetricRow,
} from './report.js';
import {
  assertOpenFilesFor,
  holdSessions,
  idleRssMiB,
  openFilesLimit,
  totalPssKiB,
} from './idle.js';
import { errorText, repeat, Results, type ServerSlot } from './results.js';
import { median, processTree, summarizeRss } from './rss.js';
import {
  bigFileName,
  downloadBig,
  downloadSmall,
  listSmall,
  loginOnce,
  smallDirName,
  uploadBig,
  uploadSmall,
  type BenchData,
} from './scenarios.js';
import { readSettings, type BenchSettings, type PhaseKey, type ServerKey } from './settings.js';
import { measureS3 } from './s3-bench.js';
import { measureConcurrent } from './concurrent-bench.js';
import { concurrentMetric, concurrentPssMetric, workersLabel } from './concurrent.js';
import type { S3BenchSection } from './s3-bench-format.js';
import { makeKeyPair } from '../integration/harness.js';

const mib = 1024 * 1024;
/** How long the idle servers wait before their steady memory is read. */
const IDLE_SETTLE_MS = 20_000;

interface BenchContext {
  settings: BenchSettings;
  data: BenchData;
  slots: ServerSlot[];
  results: Results;
  rssSamplesKiB: Map<ServerKey, number[]>;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function prepareData(settings: BenchSettings, workDir: string): Promise<BenchData> {
  const clientDir = join(workDir, 'client');
  await mkdir(clientDir, { recursive: true });
  const { privatePath } = await makeKeyPair(workDir, 'ed25519');
  log(`writing ${settings.sizeMiB} MiB of random data and ${settings.smallFiles} small files`);
  // The large file only for the phases that move it: 1 GiB in memory is not free.
  const needsBig = settings.phases.some((phase) =>
    ['transfers', 'memory', 'scp', 's3'].includes(phase),
  );
  const bigBytes = needsBig ? settings.sizeMiB * mib : 0;
  const bigSha256 = await writeRandomFile(join(clientDir, bigFileName), bigBytes);
  const smallDigest = await writeSmallFiles({
    dir: join(clientDir, smallDirName),
    count: settings.smallFiles,
    size: settings.smallFileBytes,
  });
  return {
    keyPath: privatePath,
    clientDir,
    bigBytes,
    bigSha256,
    smallCount: settings.smallFiles,
    smallDigest,
    // Generous: a transfer slower than 5 MiB/s is broken, not slow.
    bigTimeoutMs: Math.max(120_000, settings.sizeMiB * 200),
  };
}

type Starter = (options: {
  workDir: string;
  publicKey: string;
  settleMs?: number;
}) => Promise<BenchServer>;

/** Who starts each column's server; BENCH_FLOOR puts the floor in kubesftp's. */
function starterOf(key: ServerKey, settings: BenchSettings): Starter {
  if (key === 'openssh') return startOpenSsh;
  const backend = settings.floor;
  if (backend === undefined) return startKubesftp;
  return (options) => startFloor({ ...options, backend });
}

async function startSlots(
  settings: BenchSettings,
  options: { workDir: string; keyPath: string },
): Promise<ServerSlot[]> {
  const publicKey = (await readFile(`${options.keyPath}.pub`, 'utf8')).trim();
  const slots: ServerSlot[] = [];
  for (const key of settings.servers) {
    try {
      log(
        `starting ${key}${key === 'kubesftp' && settings.floor ? ` (its floor, ${settings.floor})` : ''}`,
      );
      // The settled idle figure is read at start, before the bench's own REST calls.
      const settleMs = settings.phases.includes('idle') ? IDLE_SETTLE_MS : undefined;
      slots.push({
        key,
        server: await starterOf(key, settings)({ workDir: options.workDir, publicKey, settleMs }),
      });
    } catch (err) {
      log(`${key} did not start: ${errorText(err)}`);
      slots.push({ key, startError: errorText(err) });
    }
  }
  return slots;
}

/** The listening process's RSS before any SSH client has connected. */
async function measureIdle(ctx: BenchContext): Promise<void> {
  log('idle memory before the first client');
  await repeat({
    metric: 'idleRss',
    slots: ctx.slots,
    runs: 1,
    results: ctx.results,
    log,
    probe: async (server) => server.startIdleRssMiB ?? (await idleRssMiB(server.mainPid)),
  });
  await repeat({
    metric: 'idleRssSettled',
    slots: ctx.slots,
    runs: 1,
    results: ctx.results,
    log,
    probe: async (server) => server.settledIdleRssMiB ?? (await idleRssMiB(server.mainPid)),
  });
}

/**
 * N idle authenticated sessions (an sftp channel each) held at once: the PSS the server's
 * processes gain, per session. PSS, not RSS: sshd's forked children share most pages.
 */
async function measureIdleSessions(ctx: BenchContext): Promise<void> {
  const { settings, results, data } = ctx;
  const count = settings.idleSessions;
  log(`${count} idle authenticated sessions`);
  assertOpenFilesFor(count, await openFilesLimit());
  await repeat({
    metric: 'sessionKiB',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, key) => {
      const tree = () => processTree(server.mainPid, true);
      const beforeKiB = await totalPssKiB(await tree());
      const held = await holdSessions({ server, keyPath: data.keyPath, count });
      try {
        // Let both servers finish the logins' work before reading memory.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const heldKiB = await totalPssKiB(await tree());
        results.add('sessionsPss', key, heldKiB / 1024);
        return (heldKiB - beforeKiB) / count;
      } finally {
        await held.close();
      }
    },
  });
}

async function measureLogins(ctx: BenchContext): Promise<void> {
  const { data, results } = ctx;
  log('login latency');
  // One unrecorded login each first, so that neither server is timed while warming up.
  await repeat({
    metric: 'warmup',
    slots: ctx.slots,
    runs: 1,
    results,
    probe: (server) => loginOnce({ data, server }),
  });
  await repeat({
    metric: 'login',
    slots: ctx.slots,
    runs: ctx.settings.logins,
    results,
    probe: (server) => loginOnce({ data, server }),
  });
}

async function measureBigTransfers(ctx: BenchContext, cipher: string): Promise<void> {
  const { data, settings, results } = ctx;
  const verifyFirst = cipher === settings.ciphers[0];
  const toMiBps = (elapsedMs: number): number => settings.sizeMiB / (elapsedMs / 1000);
  log(`${settings.sizeMiB} MiB upload, ${cipher}`);
  await repeat({
    metric: `upload:${cipher}`,
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, _key, run) => {
      const upload = await uploadBig({ data, server, cipher, verify: verifyFirst && run === 0 });
      return toMiBps(upload.elapsedMs);
    },
  });
  log(`${settings.sizeMiB} MiB download, ${cipher}`);
  await repeat({
    metric: `download:${cipher}`,
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, _key, run) =>
      toMiBps(await downloadBig({ data, server, cipher, verify: verifyFirst && run === 0 })),
  });
}

/** One more upload per server, not timed, with the server's memory sampled throughout. */
async function measureMemory(ctx: BenchContext): Promise<void> {
  const { data, settings, results } = ctx;
  log(`memory during one more ${settings.sizeMiB} MiB upload`);
  await repeat({
    metric: 'memory',
    slots: ctx.slots,
    runs: 1,
    results,
    probe: async (server, key) => {
      const upload = await uploadBig({ data, server, sampleMemory: true });
      ctx.rssSamplesKiB.set(key, upload.rssSamplesKiB);
      return upload.elapsedMs;
    },
  });
}

/** `scp -O` of the large file both ways, with the first cipher: our scp beside OpenSSH's. */
async function measureScp(ctx: BenchContext): Promise<void> {
  const { data, settings, results } = ctx;
  const cipher = settings.ciphers[0]!;
  const toMiBps = (elapsedMs: number): number => settings.sizeMiB / (elapsedMs / 1000);
  log(`${settings.sizeMiB} MiB scp -O upload and download, ${cipher}`);
  await repeat({
    metric: 'scpUpload',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, _key, run) =>
      toMiBps(await scpUpload({ data, server, cipher, verify: run === 0 })),
  });
  await repeat({
    metric: 'scpDownload',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, _key, run) =>
      toMiBps(await scpDownload({ data, server, cipher, verify: run === 0 })),
  });
}

async function measureRsync(ctx: BenchContext): Promise<void> {
  const { data, settings, results } = ctx;
  log(`${settings.smallFiles} small files: rsync -a`);
  await repeat({
    metric: 'rsyncSmall',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, _key, run) =>
      (await rsyncSmall({ data, server, verify: run === 0 })) / 1000,
  });
}

/** How long a finished client run is given before the server's CPU is read again. */
const CPU_SETTLE_MS = 300;

/**
 * Runs one timed probe and records the server's CPU time (user + system, all its processes)
 * for it under `cpuMetric`. sshd's per-connection processes exit with the client, so their
 * time is read once their parent has reaped them.
 */
async function withServerCpu(
  ctx: BenchContext,
  probe: { server: BenchServer; key: ServerKey; run: number; cpuMetric: string },
  measure: () => Promise<number>,
): Promise<number> {
  const before = await treeCpuMs(probe.server.mainPid);
  const value = await measure();
  await new Promise((resolve) => setTimeout(resolve, CPU_SETTLE_MS));
  const cpuMs = (await treeCpuMs(probe.server.mainPid)) - before;
  ctx.results.add(probe.cpuMetric, probe.key, cpuMs);
  log(`  ${probe.cpuMetric} [${probe.key}] run ${probe.run + 1}: ${cpuMs}`);
  return value;
}

async function measureSmallFiles(ctx: BenchContext): Promise<void> {
  const { data, settings, results } = ctx;
  log(`${settings.smallFiles} small files: put -r, get -r, then ls -l`);
  await repeat({
    metric: 'smallPut',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, key, run) =>
      (await withServerCpu(ctx, { server, key, run, cpuMetric: 'smallPutCpu' }, () =>
        uploadSmall({ data, server, verify: run === 0 }),
      )) / 1000,
  });
  await repeat({
    metric: 'smallGet',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, key, run) =>
      (await withServerCpu(ctx, { server, key, run, cpuMetric: 'smallGetCpu' }, () =>
        downloadSmall({ data, server, verify: run === 0 }),
      )) / 1000,
  });
  await repeat({
    metric: 'smallList',
    slots: ctx.slots,
    runs: settings.runs,
    results,
    log,
    probe: async (server, key, run) =>
      (await withServerCpu(ctx, { server, key, run, cpuMetric: 'smallListCpu' }, () =>
        listSmall({ data, server }),
      )) / 1000,
  });
}

interface RowSpec {
  metric: string;
  label: string;
  unit: string;
  better: Better;
  /** How the runs become one figure: best for transfers, median for logins. */
  combine: (values: number[]) => number;
}

function rowSpecs(settings: BenchSettings): RowSpec[] {
  const best = (better: Better) => (values: number[]) =>
    better === 'higher' ? Math.max(...values) : Math.min(...values);
  const bestOf = `best of ${settings.runs}`;
  const transfers = settings.ciphers.flatMap((cipher): RowSpec[] => {
    const short = cipher.replace('@openssh.com', '');
    return (['upload', 'download'] as const).map((direction) => ({
      metric: `${direction}:${cipher}`,
      label: `${direction} ${settings.sizeMiB} MiB ${short}, ${bestOf}`,
      unit: 'MiB/s',
      better: 'higher',
      combine: best('higher'),
    }));
  });
  const files = `${settings.smallFiles} x ${settings.smallFileBytes / 1024} KiB`;
  const scpCipher = settings.ciphers[0]!.replace('@openssh.com', '');
  const wholeRun = `whole client run, ${bestOf}`;
  const concurrent = settings.workers.flatMap((workers): RowSpec[] => {
    const uploads = `${settings.concurrentSessions} concurrent sftp uploads of ${settings.concurrentMiB} MiB`;
    return [
      {
        metric: concurrentMetric(workers),
        label: `${uploads}, aggregate, ${workersLabel(workers)}, ${bestOf}`,
        unit: 'MiB/s',
        better: 'higher',
        combine: best('higher'),
      },
      {
        metric: concurrentPssMetric(workers),
        label: `server PSS peak, all its processes, during ${uploads}, ${workersLabel(workers)}, highest of ${settings.runs}`,
        unit: 'MiB',
        better: 'lower',
        combine: (values) => Math.max(...values),
      },
    ];
  });
  return [
    ...transfers,
    ...concurrent,
    {
      metric: 'scpUpload',
      label: `scp -O upload ${settings.sizeMiB} MiB ${scpCipher}, ${wholeRun}`,
      unit: 'MiB/s',
      better: 'higher',
      combine: best('higher'),
    },
    {
      metric: 'scpDownload',
      label: `scp -O download ${settings.sizeMiB} MiB ${scpCipher}, ${wholeRun}`,
      unit: 'MiB/s',
      better: 'higher',
      combine: best('higher'),
    },
    {
      metric: 'smallPut',
      label: `put -r ${files}, ${bestOf}`,
      unit: 's',
      better: 'lower',
      combine: best('lower'),
    },
    {
      metric: 'smallGet',
      label: `get -r ${files}, ${bestOf}`,
      unit: 's',
      better: 'lower',
      combine: best('lower'),
    },
    {
      metric: 'rsyncSmall',
      label: `rsync -a ${files}, ${wholeRun}`,
      unit: 's',
      better: 'lower',
      combine: best('lower'),
    },
    {
      metric: 'smallList',
      label: `ls -l of ${files}, ${bestOf}`,
      unit: 's',
      better: 'lower',
      combine: best('lower'),
    },
    ...(
      [
        ['smallPutCpu', 'put -r'],
        ['smallGetCpu', 'get -r'],
        ['smallListCpu', 'ls -l'],
      ] as const
    ).map(([metric, command]): RowSpec => ({
      metric,
      label: `server CPU (user + system, all its processes) for ${command} of ${files}, median of ${settings.runs}`,
      unit: 'ms',
      better: 'lower',
      combine: median,
    })),
    {
      metric: 'login',
      label: `public-key login + pwd, median of ${settings.logins}`,
      unit: 'ms',
      better: 'lower',
      combine: median,
    },
    {
      metric: 'idleRss',
      label: 'listening process RSS before the first client, 1 s after start',
      unit: 'MiB',
      better: 'lower',
      combine: median,
    },
    {
      metric: 'idleRssSettled',
      label: `listening process RSS before the first client, ${IDLE_SETTLE_MS / 1000} s later`,
      unit: 'MiB',
      better: 'lower',
      combine: median,
    },
    {
      metric: 'sessionKiB',
      label: `PSS added per idle session, ${settings.idleSessions} held, median of ${settings.runs}`,
      unit: 'KiB',
      better: 'lower',
      combine: median,
    },
    {
      metric: 'sessionsPss',
      label: `server PSS with ${settings.idleSessions} idle sessions, median of ${settings.runs}`,
      unit: 'MiB',
      better: 'lower',
      combine: median,
    },
  ];
}

function buildRows(ctx: BenchContext): MetricRow[] {
  const rows = rowSpecs(ctx.settings).map((spec): MetricRow => {
    const row: MetricRow = { metric: spec.label, unit: spec.unit, better: spec.better, errors: {} };
    for (const slot of ctx.slots) {
      const samples = ctx.results.samples(spec.metric, slot.key);
      if (samples.length > 0) row[slot.key] = spec.combine(samples);
      const error = ctx.results.error(spec.metric, slot.key);
      if (error !== undefined) row.errors![slot.key] = error;
    }
    return row;
  });
  // Without the memory phase there are no samples to report, which is not a failure.
  return ctx.settings.phases.includes('memory') ? [...rows, ...rssRows(ctx)] : rows;
}

function rssRows(ctx: BenchContext): MetricRow[] {
  const during = `during an untimed ${ctx.settings.sizeMiB} MiB upload`;
  const peak: MetricRow = {
    metric: `server RSS peak ${during}`,
    unit: 'MiB',
    better: 'lower',
    errors: {},
  };
  const steady: MetricRow = {
    metric: `server RSS median ${during}`,
    unit: 'MiB',
    better: 'lower',
    errors: {},
  };
  for (const slot of ctx.slots) {
    const summary = summarizeRss(ctx.rssSamplesKiB.get(slot.key) ?? []);
    if (summary.samples === 0) {
      const why =
        slot.startError === undefined
          ? 'no memory samples'
          : `server did not start: ${slot.startError}`;
      peak.errors![slot.key] = why;
      steady.errors![slot.key] = why;
      continue;
    }
    peak[slot.key] = summary.peakMiB;
    steady[slot.key] = summary.steadyMiB;
  }
  return [peak, steady];
}

/** kubesftp to MinIO beside the SDK directly, unless BENCH_S3=0 or kubesftp is left out. */
async function measureS3Section(
  ctx: BenchContext,
  workDir: string,
): Promise<S3BenchSection | undefined> {
  const { settings, data } = ctx;
  if (!settings.s3 || !settings.servers.includes('kubesftp')) return undefined;
  return measureS3({
    data,
    workDir,
    publicKey: (await readFile(`${data.keyPath}.pub`, 'utf8')).trim(),
    runs: settings.runs,
    sizeMiB: settings.sizeMiB,
    log,
  });
}

async function setupFacts(
  settings: BenchSettings,
  run: { workDir: string; loadAtStart: number },
): Promise<Record<string, string | number>> {
  const version = async (command: string, args: string[]): Promise<string> => {
    const result = await runTimed({ command, args, timeoutMs: 10_000 });
    return (result.stderr + result.stdout).trim().split('\n')[0] ?? 'unknown';
  };
  return {
    'large file': `${settings.sizeMiB} MiB, best of ${settings.runs} runs per cipher and direction`,
    'small files': `${settings.smallFiles} x ${settings.smallFileBytes} bytes`,
    'files under': `${run.workDir} (${await storageKind(run.workDir)}), client and both servers alike`,
    client: `/usr/bin/sftp, /usr/bin/scp -O, /usr/bin/rsync; ${await version('ssh', ['-V'])}`,
    'OpenSSH server':
      '/usr/sbin/sshd, Subsystem sftp internal-sftp, the system scp and rsync for exec; RSS sums its per-connection processes',
    kubesftp:
      settings.floor === undefined
        ? `node ${process.version}, dist/server/src/cli/main.js serve --log-verbose false; RSS of its process tree`
        : `BENCH_FLOOR=${settings.floor}: not kubesftp but its transport and SFTP engine alone (dist/test/load/floor-server.js, ${settings.floor === 'local' ? 'the local backend' : 'files in memory'}; no accounts, policy, logs or metrics)`,
    machine: `${cpus().length} cores shared by client and server; one transfer at a time, the servers taking turns in an order that flips every run`,
    'concurrent uploads': `${settings.concurrentSessions} sftp clients at once, ${settings.concurrentMiB} MiB each; aggregate = all bytes from the first put's start to the last one's end (logins excluded); PSS summed over every server process, sampled every 200 ms`,
    // Other work on the machine skews every figure; the reader must be able to see it.
    'load average (1 min)': `${run.loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
    times:
      "sftp transfer and small-file times run from the client's echo of the command to its echo of the next (login excluded); scp -O and rsync rows time the whole client run, login included",
  };
}

/** The phases BENCH_PHASES picks, in their order; the S3 section when it ran. */
async function runPhases(ctx: BenchContext, workDir: string): Promise<S3BenchSection | undefined> {
  const { settings, slots } = ctx;
  const runs = (phase: PhaseKey): boolean => settings.phases.includes(phase);
  if (runs('idle')) await measureIdle(ctx);
  if (runs('logins')) await measureLogins(ctx);
  if (runs('transfers')) {
    for (const cipher of settings.ciphers) await measureBigTransfers(ctx, cipher);
  }
  if (runs('memory')) await measureMemory(ctx);
  if (runs('scp')) await measureScp(ctx);
  // Free the memory-backed space the large copies hold before the small-file phase.
  for (const slot of slots) {
    if (slot.server) await rm(join(slot.server.homeDir, bigFileName), { force: true });
  }
  if (runs('small')) await measureSmallFiles(ctx);
  if (runs('rsync')) await measureRsync(ctx);
  if (runs('sessions')) await measureIdleSessions(ctx);
  if (runs('concurrent')) {
    await measureConcurrent({
      ...ctx,
      workDir,
      publicKey: (await readFile(`${ctx.data.keyPath}.pub`, 'utf8')).trim(),
      log,
    });
  }
  return runs('s3') ? await measureS3Section(ctx, workDir) : undefined;
}

async function runBenchmark(settings: BenchSettings): Promise<BenchReport> {
  await mkdir(settings.tmpBase, { recursive: true });
  const loadAtStart = loadavg()[0]!;
  const workDir = await mkdtemp(join(settings.tmpBase, 'kubesftp-bench-'));
  // An account with its own uid (kubesftp's rsync never runs as root) must reach its home.
  await chmod(workDir, 0o755);
  onCleanup(() => rmSync(workDir, { recursive: true, force: true }));
  const data = await prepareData(settings, workDir);
  const slots = await startSlots(settings, { workDir, keyPath: data.keyPath });
  const ctx: BenchContext = {
    settings,
    data,
    slots,
    results: new Results(),
    rssSamplesKiB: new Map(),
  };
  try {
    const s3 = await runPhases(ctx, workDir);
    return {
      setup: await setupFacts(settings, { workDir, loadAtStart }),
      rows: buildRows(ctx),
      ...(s3 && { s3 }),
    };
  } finally {
    for (const slot of slots) await slot.server?.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

runBenchmarkMain(async () => {
  const settings = readSettings(process.env);
  const report = await runBenchmark(settings);
  process.stdout.write(formatReport(report));
  if (settings.outPath !== undefined) {
    await writeFile(settings.outPath, reportJson(report));
    log(`JSON written to ${settings.outPath}`);
  }
  const failed =
    report.rows.some((row) => Object.keys(row.errors ?? {}).length > 0) ||
    (report.s3?.rows.some((row) => row.error !== undefined) ?? false);
  if (failed) process.exitCode = 1;
});
