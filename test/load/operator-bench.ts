/**
 * What the operator costs at scale, on the real API server and the real PostgreSQL of the test
 * bed, with `kubesftp operator` as a process at its defaults (production hash cost and worker
 * count):
 * - 1000 SftpUsers created at once: seconds until every one is Ready (goal 30 s);
 * - one user's password Secret changed: seconds until the new password logs in through the
 *   real `sftp` against `kubesftp serve` run as the Deployment's pod (goal 2 s).
 * The bed's control plane runs no kubelet, so the bench reports the pod it runs as ready in the
 * Deployment's status (once that pod answers /healthz), as the kubelet and the deployment
 * controller would. BENCH_OPERATOR_USERS changes the user count, BENCH_OPERATOR_WORKERS the
 * operator's --user-workers (default: the operator's own).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import pg from 'pg';
import { KubeClient } from '../../operator/src/kube/client.js';
import { Resources, resourcePath } from '../../operator/src/kube/resources.js';
import type { SftpUser } from '../../operator/src/api/objects.js';
import { startKubernetes, startPostgres, type KubernetesEnv } from '../env/testbed.js';
import { askpassEnv, sshOptions } from '../integration/harness.js';
import { startPod, waitUntilReady, type PodSpec, type RunningPod } from '../operator/pod.js';
import {
  deploymentGeneration,
  forEachUser,
  isReady,
  prepareNamespace,
  reportServerReady,
  SERVER,
  serverYaml,
  userObject,
} from '../operator/many-users.js';
import { spawnOperator, type OperatorProcess } from '../operator/operator-process.js';
import { waitFor } from '../testbed/wait.js';

const run = promisify(execFile);
const NAMESPACE = 'bench';
const IMAGE = 'kubesftp.test/kubesftp:bench';
const USERS = Number(process.env['BENCH_OPERATOR_USERS'] ?? 1000);
const WORKERS = process.env['BENCH_OPERATOR_WORKERS'];
const CREATE_CONCURRENCY = 32;
const GOALS = { allReadyS: 30, rotationS: 2 };

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const userName = (i: number): string => `u${String(i).padStart(4, '0')}`;

interface Bed {
  kube: KubernetesEnv;
  kubeConfig: KubeConfig;
  client: KubeClient;
  databaseUrl: string;
  postgresPort: number;
  work: string;
  operator?: OperatorProcess;
  pod?: RunningPod;
  stop(): Promise<void>;
}

interface Observed {
  metadata: { generation?: number };
  spec?: { template?: { spec: PodSpec } };
  data?: Record<string, string>;
  status?: { conditions?: Array<{ type: string; status: string }> };
}

async function get(kube: KubernetesEnv, kind: string, name: string): Promise<Observed> {
  return JSON.parse(
    await kube.kubectl(['get', kind, name, '-n', NAMESPACE, '-o', 'json']),
  ) as Observed;
}

async function startBed(): Promise<Bed> {
  const work = await mkdtemp(join(tmpdir(), 'kubesftp-operator-bench-'));
  const [kube, postgres] = await Promise.all([startKubernetes(), startPostgres()]);
  const databaseUrl = postgres.url(await postgres.createDatabase('bench'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kube.kubeconfigPath);
  const client = new KubeClient({ kubeConfig, fieldManager: 'bench' });
  const bed: Bed = {
    kube,
    kubeConfig,
    client,
    databaseUrl,
    postgresPort: postgres.port,
    work,
    stop: async () => {
      await bed.pod?.stop();
      await bed.operator?.stop();
      client.close();
      await Promise.all([kube.stop(), postgres.stop()]);
      await rm(work, { recursive: true, force: true });
    },
  };
  return bed;
}

/** The CRDs, the namespace, the database Secret, the operator, the server and its pod. */
async function prepareServer(bed: Bed): Promise<void> {
  const { kube } = bed;
  await prepareNamespace(kube, NAMESPACE, bed.databaseUrl);
  bed.operator = spawnOperator({
    kubeconfig: kube.kubeconfigPath,
    defaultImage: IMAGE,
    ...(WORKERS === undefined ? {} : { userWorkers: Number(WORKERS) }),
  });
  await bed.operator.running();
  await kube.kubectl(['apply', '-f', '-'], { input: serverYaml(NAMESPACE) });
  const generation = await deploymentGeneration(kube, NAMESPACE);
  const deployment = await get(kube, 'deployment', SERVER);
  const homes = join(bed.work, 'homes');
  await mkdir(homes);
  bed.pod = await startPod(deployment.spec!.template!.spec, {
    configMap: (name) => get(kube, 'configmap', name),
    secret: (name) => get(kube, 'secret', name),
    claim: () => homes,
    forwardPorts: [bed.postgresPort],
  });
  await waitUntilReady(bed.pod);
  await reportServerReady(kube, NAMESPACE, generation);
}

/**
 * Follows the SftpUsers' readiness through a watch, started before the first create: polling a
 * list of 1000 objects every moment would load the API server the operator is measured against.
 * A watch the API server ends (a timeout, a 429 while it is busy) is listed and started again.
 */
async function watchReadiness(bed: Bed): Promise<{ ready: () => number; stop: () => void }> {
  const path = resourcePath(Resources.sftpUser, { namespace: NAMESPACE });
  const ready = new Set<string>();
  let stopped = false;
  let current: AbortController | undefined;
  const follow = async (): Promise<void> => {
    const list = await bed.client.list<SftpUser>(Resources.sftpUser, { namespace: NAMESPACE });
    ready.clear();
    for (const user of list.items) if (isReady(user)) ready.add(user.metadata.name);
    current = await new Watch(bed.kubeConfig).watch(
      path,
      { resourceVersion: list.metadata.resourceVersion },
      (type: string, user: SftpUser) => {
        if (type !== 'DELETED' && isReady(user)) ready.add(user.metadata.name);
        else ready.delete(user.metadata.name);
      },
      () => {
        if (stopped) return;
        log('the readiness watch ended; listing and watching again');
        setTimeout(() => void follow().catch(restartLater), 200);
      },
    );
  };
  const restartLater = (err: unknown): void => {
    log(`could not watch SftpUsers: ${err instanceof Error ? err.message : String(err)}`);
    if (!stopped) setTimeout(() => void follow().catch(restartLater), 1_000);
  };
  await follow();
  return {
    ready: () => ready.size,
    stop: () => {
      stopped = true;
      current?.abort();
    },
  };
}

/** Seconds from the first create to the last SftpUser Ready. */
async function measureAllReady(bed: Bed): Promise<{ seconds: number; createSeconds: number }> {
  const names = Array.from({ length: USERS }, (_, i) => userName(i));
  const readiness = await watchReadiness(bed);
  try {
    const started = performance.now();
    await forEachUser(names, CREATE_CONCURRENCY, (name) =>
      bed.client.create(Resources.sftpUser, userObject(NAMESPACE, name)),
    );
    const createSeconds = (performance.now() - started) / 1000;
    log(`created ${USERS} SftpUsers in ${createSeconds.toFixed(1)} s`);
    let lastReport = 0;
    for (;;) {
      const ready = readiness.ready();
      const seconds = (performance.now() - started) / 1000;
      if (ready === USERS) return { seconds, createSeconds };
      if (seconds - lastReport >= 5) {
        log(`${ready}/${USERS} Ready after ${seconds.toFixed(0)} s`);
        lastReport = seconds;
      }
      if (seconds > 600) throw new Error(`only ${ready}/${USERS} SftpUsers Ready after 600 s`);
      await sleep(20);
    }
  } finally {
    readiness.stop();
  }
}

async function login(bed: Bed, username: string, password: string): Promise<boolean> {
  const args = [
    ...sshOptions(2022, { username, password }, '-P'),
    '-b',
    '-',
    `${username}@127.0.0.1`,
  ];
  const { command, args: wrapped } = bed.pod!.inNetwork('sftp', args);
  const env = await askpassEnv(bed.work, password);
  const child = run(command, wrapped, { env, cwd: bed.work, timeout: 20_000 });
  child.child.stdin?.end('pwd\n');
  return child.then(
    () => true,
    () => false,
  );
}

/** The operator's SftpUser queue depth, from its metrics. */
async function userQueueDepth(operator: OperatorProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${operator.metricsPort()}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('kubesftp_operator_queue_depth{controller="sftpuser"}'));
  return Number(line?.slice(line.lastIndexOf(' ') + 1) ?? NaN);
}

/**
 * Seconds from the Secret's change to the first login with the new password that succeeds,
 * measured once the operator has drained what the mass creation left queued: a rotation in a
 * steady state.
 */
async function measureRotation(bed: Bed): Promise<{ seconds: number; attempts: number }> {
  await waitFor('the operator to drain its queue', async () =>
    (await userQueueDepth(bed.operator!)) === 0 ? true : undefined,
  );
  const name = userName(Math.floor(USERS / 2));
  const secret = `${name}-credentials`;
  const old = Buffer.from(
    (await get(bed.kube, 'secret', secret)).data?.['password'] ?? '',
    'base64',
  ).toString();
  if (!(await login(bed, name, old))) throw new Error(`${name} cannot log in before the change`);
  const rotated = randomBytes(24).toString('base64url');
  const patch = JSON.stringify({ data: { password: Buffer.from(rotated).toString('base64') } });
  const db = new pg.Client({ connectionString: bed.databaseUrl });
  await db.connect();
  try {
    const stored = async (): Promise<string> =>
      (
        await db.query<{ password: string }>('SELECT password FROM users WHERE username = $1', [
          name,
        ])
      ).rows[0]?.password ?? '';
    const before = await stored();
    const started = performance.now();
    await bed.kube.kubectl([
      'patch',
      'secret',
      secret,
      '-n',
      NAMESPACE,
      '--type',
      'merge',
      '-p',
      patch,
    ]);
    // Logins are tried once the row changed: a failed login costs the server and the client a
    // second or more, which would hide the operator's own latency.
    while ((await stored()) === before) {
      if (performance.now() - started > 30_000)
        throw new Error('the new hash never reached the database');
      await sleep(20);
    }
    for (let attempts = 1; attempts <= 10; attempts++) {
      if (await login(bed, name, rotated))
        return { seconds: (performance.now() - started) / 1000, attempts };
    }
    throw new Error('the new password never logged in');
  } finally {
    await db.end();
  }
}

type Metrics = Map<string, number>;

/** The operator's metrics, by sample name and labels. */
async function scrape(operator: OperatorProcess): Promise<Metrics> {
  const text = await (await fetch(`http://127.0.0.1:${operator.metricsPort()}/metrics`)).text();
  const samples: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** API requests between two scrapes, by verb and resource (the Lease's renewals left out). */
function requestsBetween(before: Metrics, after: Metrics): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const [sample, value] of after) {
    const match = /^kubesftp_operator_api_requests_total\{(.*)\}$/.exec(sample);
    if (match === null) continue;
    const labels = Object.fromEntries(
      [...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    if (labels['resource'] === 'leases') continue;
    const kind = `${labels['verb']} ${labels['resource']}${labels['code'] === '200' || labels['code'] === '201' ? '' : ` (${labels['code']})`}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + value - (before.get(sample) ?? 0));
  }
  return byKind;
}

/** What the operator spent on the mass creation: CPU seconds and API requests per user. */
function operatorCost(before: Metrics, after: Metrics): string {
  const cpu = 'kubesftp_operator_process_cpu_seconds_total';
  const cpuSeconds = (after.get(cpu) ?? NaN) - (before.get(cpu) ?? NaN);
  const requests = [...requestsBetween(before, after)].filter(([, count]) => count > 0);
  const total = requests.reduce((sum, [, count]) => sum + count, 0);
  const detail = requests
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  return `operator CPU ${cpuSeconds.toFixed(1)} s; API requests ${total} (${(total / USERS).toFixed(2)} per user): ${detail}`;
}

/**
 * CPU seconds spent so far by this process's kube-apiserver and etcd children, from
 * /proc/PID/stat (utime + stime at 100 ticks a second): unlike wall time, hardly moved by
 * what else runs on the machine.
 */
async function controlPlaneCpu(): Promise<Map<string, number>> {
  const seconds = new Map<string, number>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    if (Number(fields[1]) !== process.pid || !['kube-apiserver', 'etcd'].includes(comm)) continue;
    seconds.set(comm, (seconds.get(comm) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
  }
  return seconds;
}

const cpuBetween = (before: Map<string, number>, after: Map<string, number>): string =>
  [...after]
    .map(([name, total]) => `${name} ${(total - (before.get(name) ?? 0)).toFixed(1)} s`)
    .join(', ');

const loadAverage = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function verdict(seconds: number, goal: number): string {
  return seconds <= goal ? `within the ${goal} s goal` : `MISSES the ${goal} s goal`;
}

async function main(): Promise<void> {
  const bed = await startBed();
  try {
    await prepareServer(bed);
    const loadBefore = loadAverage();
    const before = await scrape(bed.operator!);
    const cpuBefore = await controlPlaneCpu();
    const ready = await measureAllReady(bed);
    const controlPlane = cpuBetween(cpuBefore, await controlPlaneCpu());
    const loadAfter = loadAverage();
    await waitFor('the operator to drain its queue', async () =>
      (await userQueueDepth(bed.operator!)) === 0 ? true : undefined,
    );
    // Events are written after the reconcile that records them: give the last ones a moment.
    await sleep(2_000);
    const cost = operatorCost(before, await scrape(bed.operator!));
    const rotation = await measureRotation(bed);
    process.stdout.write(
      [
        '',
        `## Operator (${USERS} SftpUsers, operator at its defaults${WORKERS === undefined ? '' : ` but ${WORKERS} user workers`}, real API server and PostgreSQL)`,
        `all ${USERS} SftpUsers Ready: ${ready.seconds.toFixed(1)} s after the first create (creates took ${ready.createSeconds.toFixed(1)} s), ${verdict(ready.seconds, GOALS.allReadyS)}`,
        `load average before ${loadBefore}, after ${loadAfter} (${cpus().length} CPUs)`,
        cost,
        `CPU until all Ready: ${controlPlane}`,
        `password Secret changed -> new password logs in: ${rotation.seconds.toFixed(2)} s (${rotation.attempts} login attempt(s)), ${verdict(rotation.seconds, GOALS.rotationS)}; load average ${loadAverage()}`,
        '',
      ].join('\n'),
    );
  } catch (err) {
    if (bed.operator !== undefined) log(bed.operator.logs.slice(-40).join('\n'));
    throw err;
  } finally {
    await bed.stop();
  }
}

await main();
