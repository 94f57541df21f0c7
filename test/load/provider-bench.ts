/**
 * `make bench`, second part: what the data provider costs a kubesftp server. One server per
 * driver (SQLite, kv, PostgreSQL), driven by the real OpenSSH `sftp`, measures the login
 * latency and `put -r` of 2000 files of 4 KiB for a user with a quota, once with quota
 * tracking on (the reservations and settlements) and once with track_quota 0. On PostgreSQL,
 * pg_stat_statements counts the statements the server sent per login and per upload; the
 * embedded drivers run theirs in process, where a statement costs no round trip.
 *
 * PostgreSQL runs here with fsync and synchronous_commit on, as a database that keeps its
 * data would; the data and the homes of the embedded drivers are under BENCH_TMPDIR.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { onCleanup, runBenchmarkMain } from './children.js';
import type { BenchServer } from './client.js';
import { writeSmallFiles } from './files.js';
import { startKubesftp } from './kubesftp.js';
import { alignedTable } from './report.js';
import { median } from './rss.js';
import { loginOnce, smallDirName, uploadSmall, type BenchData } from './scenarios.js';
import { readSettings, type BenchSettings } from './settings.js';
import { startPostgres, type PostgresEnv } from '../env/testbed.js';
import { makeKeyPair } from '../integration/harness.js';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Counts the statements kubesftp sent to one database, leaving out its own probes. */
interface StatementCounter {
  count(): Promise<number>;
  close(): Promise<void>;
}

/** One store of a driver: each server gets its own, so each creates its admin and user. */
interface Store {
  env: Record<string, string>;
  counter?: StatementCounter;
}

interface DriverSetup {
  driver: string;
  store(name: string): Promise<Store>;
}

interface DriverFigures {
  driver: string;
  loginMs: number;
  putTrackedS: number;
  putUntrackedS: number;
  statementsPerLogin?: number;
  statementsPerUploadTracked?: number;
  statementsPerUploadUntracked?: number;
}

async function postgresCounter(db: PostgresEnv, database: string): Promise<StatementCounter> {
  const client = new pg.Client({ connectionString: db.url(database) });
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  return {
    count: async () => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT COALESCE(SUM(calls), 0)::bigint AS n FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT LIKE '%pg_stat_statements%'`,
      );
      return Number(rows[0]!.n);
    },
    close: () => client.end(),
  };
}

/** The statements `step` caused, with `step`'s result. */
async function counted<T>(
  counter: StatementCounter | undefined,
  step: () => Promise<T>,
): Promise<{ result: T; statements?: number }> {
  const before = await counter?.count();
  const result = await step();
  const after = await counter?.count();
  return before === undefined || after === undefined
    ? { result }
    : { result, statements: after - before };
}

interface ServerRun {
  workDir: string;
  data: BenchData;
  publicKey: string;
  settings: BenchSettings;
}

/** Logins, then tracked uploads, on one server; statements per login and per upload. */
async function measureTracked(
  run: ServerRun,
  setup: DriverSetup,
): Promise<Omit<DriverFigures, 'putUntrackedS' | 'statementsPerUploadUntracked'>> {
  const store = await setup.store('tracked');
  const server = await startServerFor(run, setup.driver, store, '2');
  try {
    const { data, settings } = run;
    await loginOnce({ data, server });
    const logins = await counted(store.counter, async () => {
      const times: number[] = [];
      for (let i = 0; i < settings.logins; i++) times.push(await loginOnce({ data, server }));
      return times;
    });
    const statementsPerLogin =
      logins.statements === undefined ? undefined : logins.statements / settings.logins;
    const put = await timedUploads(run, server, store.counter, statementsPerLogin);
    return {
      driver: setup.driver,
      loginMs: median(logins.result),
      putTrackedS: put.seconds,
      ...(statementsPerLogin === undefined ? {} : { statementsPerLogin }),
      ...(put.perUpload === undefined ? {} : { statementsPerUploadTracked: put.perUpload }),
    };
  } finally {
    await server.stop();
    await store.counter?.close();
  }
}

/** Best of the runs of `put -r`; statements per file of the first, its login taken off. */
async function timedUploads(
  run: ServerRun,
  server: BenchServer,
  counter: StatementCounter | undefined,
  statementsPerLogin: number | undefined,
): Promise<{ seconds: number; perUpload?: number }> {
  const times: number[] = [];
  let perUpload: number | undefined;
  for (let i = 0; i < run.settings.runs; i++) {
    const upload = await counted(counter, () =>
      uploadSmall({ data: run.data, server, verify: i === 0 }),
    );
    times.push(upload.result / 1000);
    if (i === 0 && upload.statements !== undefined && statementsPerLogin !== undefined) {
      perUpload = (upload.statements - statementsPerLogin) / run.data.smallCount;
    }
  }
  return { seconds: Math.min(...times), ...(perUpload === undefined ? {} : { perUpload }) };
}

function startServerFor(
  run: ServerRun,
  driver: string,
  store: Store,
  trackQuota: '0' | '2',
): Promise<BenchServer> {
  return startKubesftp({
    workDir: run.workDir,
    publicKey: run.publicKey,
    name: `${driver}-track${trackQuota}`,
    quotaSize: 64 * 1024 ** 3,
    env: {
      ...store.env,
      KUBESFTP_DATA_PROVIDER__TRACK_QUOTA: trackQuota,
      // Heartbeats once in 20 minutes: none falls inside a measurement.
      KUBESFTP_DATA_PROVIDER__SESSION_EXPIRY: '3600',
    },
  });
}

async function measureDriver(run: ServerRun, setup: DriverSetup): Promise<DriverFigures> {
  log(`${setup.driver}: ${run.settings.logins} logins, put -r with quota tracking`);
  const tracked = await measureTracked(run, setup);
  log(`${setup.driver}: put -r with track_quota 0`);
  const store = await setup.store('untracked');
  const server = await startServerFor(run, setup.driver, store, '0');
  try {
    await loginOnce({ data: run.data, server });
    const untracked = await timedUploads(run, server, store.counter, tracked.statementsPerLogin);
    return {
      ...tracked,
      putUntrackedS: untracked.seconds,
      ...(untracked.perUpload === undefined
        ? {}
        : { statementsPerUploadUntracked: untracked.perUpload }),
    };
  } finally {
    await server.stop();
    await store.counter?.close();
  }
}

function fileDriver(driver: string, workDir: string, extension: string): DriverSetup {
  return {
    driver,
    store: (name) =>
      Promise.resolve({
        env: {
          KUBESFTP_DATA_PROVIDER__DRIVER: driver,
          KUBESFTP_DATA_PROVIDER__NAME: join(workDir, `${driver}-${name}.${extension}`),
        },
      }),
  };
}

function postgresDriver(db: PostgresEnv): DriverSetup {
  return {
    driver: 'postgresql',
    store: async (name) => {
      const database = await db.createDatabase(name);
      return {
        env: {
          KUBESFTP_DATA_PROVIDER__DRIVER: 'postgresql',
          KUBESFTP_DATA_PROVIDER__CONNECTION_STRING: db.url(database),
        },
        counter: await postgresCounter(db, database),
      };
    },
  };
}

function formatNumber(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

function table(settings: BenchSettings, rows: DriverFigures[]): string {
  const files = `${settings.smallFiles} x ${settings.smallFileBytes / 1024} KiB`;
  const lines: Array<[string, (f: DriverFigures) => string]> = [
    [`public-key login + pwd, median of ${settings.logins} (ms)`, (f) => f.loginMs.toFixed(0)],
    [
      `put -r ${files}, user with a quota, tracked, best of ${settings.runs} (s)`,
      (f) => f.putTrackedS.toFixed(2),
    ],
    [`the same with track_quota 0 (s)`, (f) => f.putUntrackedS.toFixed(2)],
    ['statements per login', (f) => formatNumber(f.statementsPerLogin, 1)],
    ['statements per upload, tracked', (f) => formatNumber(f.statementsPerUploadTracked, 2)],
    [
      'statements per upload, track_quota 0',
      (f) => formatNumber(f.statementsPerUploadUntracked, 2),
    ],
  ];
  const header = ['metric', ...rows.map((f) => f.driver)];
  const cells = lines.map(([label, value]) => [label, ...rows.map(value)]);
  return alignedTable(header, cells)
    .map((text) => `${text}\n`)
    .join('');
}

async function runProviderBench(settings: BenchSettings): Promise<string> {
  await mkdir(settings.tmpBase, { recursive: true });
  const loadAtStart = loadavg()[0]!;
  const workDir = await mkdtemp(join(settings.tmpBase, 'kubesftp-provider-bench-'));
  onCleanup(() => rmSync(workDir, { recursive: true, force: true }));
  const clientDir = join(workDir, 'client');
  await mkdir(clientDir, { recursive: true });
  const { privatePath } = await makeKeyPair(workDir, 'ed25519');
  const publicKey = (await readFile(`${privatePath}.pub`, 'utf8')).trim();
  log(`writing ${settings.smallFiles} small files`);
  const smallDigest = await writeSmallFiles({
    dir: join(clientDir, smallDirName),
    count: settings.smallFiles,
    size: settings.smallFileBytes,
  });
  const data: BenchData = {
    keyPath: privatePath,
    clientDir,
    bigBytes: 0,
    bigSha256: '',
    smallCount: settings.smallFiles,
    smallDigest,
    bigTimeoutMs: 120_000,
  };
  log('starting PostgreSQL');
  const postgres = await startPostgres({
    settings: {
      shared_preload_libraries: 'pg_stat_statements',
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
    },
  });
  const setups = [
    fileDriver('sqlite', workDir, 'db'),
    fileDriver('kv', workDir, 'mdb'),
    postgresDriver(postgres),
  ];
  const run: ServerRun = { workDir, data, publicKey, settings };
  try {
    const figures: DriverFigures[] = [];
    for (const setup of setups) figures.push(await measureDriver(run, setup));
    const facts = [
      `small files: ${settings.smallFiles} x ${settings.smallFileBytes} bytes under ${workDir}`,
      'quota: the user has a 64 GiB quota_size; tracked = track_quota 2',
      'PostgreSQL: local, fsync and synchronous_commit on, statements from pg_stat_statements (BEGIN and COMMIT count)',
      `load average (1 min): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
    ];
    return `${facts.map((fact) => `${fact}\n`).join('')}\n${table(settings, figures)}`;
  } finally {
    await postgres.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

runBenchmarkMain(async () => {
  const settings = readSettings(process.env);
  const report = await runProviderBench(settings);
  process.stdout.write(report);
  if (settings.outPath !== undefined) {
    await writeFile(`${settings.outPath}.providers.txt`, report);
  }
});
