/**
 * Runs `kubesftp serve` the way a pod of the operator's Deployment runs it, without a node:
 * the container's args and environment (Secret keys resolved as the kubelet does), its user
 * and group, and every volume at its mount path, in a private mount and network namespace
 * (unshare): ConfigMap and Secret contents written as files with the volume's mode (read-only
 * mounts stay read-only), the homes claim and emptyDirs as directories. Mount points that do
 * not exist on this machine are made inside an overlay of their nearest existing parent, so the
 * machine itself is left as it was. Clients reach the server inside its network namespace
 * (nsenter), on the container ports. The pod reaches services of this machine's loopback (the
 * test PostgreSQL) as a pod reaches cluster services, at the same address and port: a small
 * forwarder listens there inside the namespace and passes each connection through a Unix
 * socket of the test process (reached through /proc/<pid>/root, which the pod's mounts do not
 * hide) to the real port.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { repoRoot } from '../env/testbed.js';
import { waitFor } from '../testbed/wait.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Volume {
  name: string;
  configMap?: { name: string; defaultMode?: number };
  secret?: { secretName: string; defaultMode?: number };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: Record<string, unknown>;
}

interface Container {
  args: string[];
  env?: EnvVar[];
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

export interface PodSpec {
  containers: Container[];
  volumes: Volume[];
  securityContext: { runAsUser: number; runAsGroup: number; fsGroup?: number };
}

export interface KubeData {
  data?: Record<string, string>;
}

export interface PodSources {
  /** A ConfigMap's data as the API server returns it. */
  configMap(name: string): Promise<KubeData>;
  /** A Secret's data (base64) as the API server returns it. */
  secret(name: string): Promise<KubeData>;
  /** The directory backing a claim: shared by every pod that mounts it. */
  claim(name: string): string;
  /** Loopback ports of this machine the pod must reach (e.g. the database). */
  forwardPorts?: number[];
}

export interface RunningPod {
  pid: number;
  logLines: Record<string, unknown>[];
  /** Runs a command inside the pod's network namespace (e.g. sftp). */
  inNetwork(command: string, args: string[]): { command: string; args: string[] };
  stop(): Promise<number | null>;
}

const MAIN = join(repoRoot(), 'dist', 'server', 'src', 'cli', 'main.js');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The nearest existing ancestor of a path, symlinks resolved. */
async function existingParent(path: string): Promise<string> {
  let parent = dirname(path);
  while (!(await exists(parent))) parent = dirname(parent);
  return realpath(parent);
}

async function writeFiles(
  dir: string,
  data: Record<string, string>,
  options: { mode: number; group: number | undefined; decode: boolean },
): Promise<void> {
  for (const [key, value] of Object.entries(data)) {
    const path = join(dir, key);
    await writeFile(path, options.decode ? Buffer.from(value, 'base64') : value);
    await chmod(path, options.mode);
    if (options.group !== undefined) await chown(path, 0, options.group);
  }
}

/** The directory a volume becomes, filled as the kubelet fills it. */
async function volumeSource(
  volume: Volume,
  pod: PodSpec,
  sources: PodSources,
  root: string,
): Promise<string> {
  const dir = join(root, 'volumes', volume.name);
  const group = pod.securityContext.fsGroup;
  if (volume.persistentVolumeClaim !== undefined) {
    // fsGroup: the kubelet gives the volume to the pod's group, setgid so new files stay in it.
    const claim = sources.claim(volume.persistentVolumeClaim.claimName);
    if (group !== undefined) {
      await chown(claim, 0, group);
      await chmod(claim, 0o2775);
    }
    return claim;
  }
  await mkdir(dir, { recursive: true });
  if (volume.configMap !== undefined) {
    const { data = {} } = await sources.configMap(volume.configMap.name);
    await writeFiles(dir, data, {
      mode: volume.configMap.defaultMode ?? 0o644,
      group,
      decode: false,
    });
  } else if (volume.secret !== undefined) {
    const { data = {} } = await sources.secret(volume.secret.secretName);
    await writeFiles(dir, data, { mode: volume.secret.defaultMode ?? 0o644, group, decode: true });
  } else {
    await chmod(dir, 0o777);
  }
  return dir;
}

async function environment(
  container: Container,
  sources: PodSources,
): Promise<Record<string, string>> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref === undefined) {
      env[variable.name] = variable.value ?? '';
      continue;
    }
    const encoded = (await sources.secret(ref.name)).data?.[ref.key];
    if (encoded === undefined)
      throw new Error(`env ${variable.name}: Secret ${ref.name} has no key ${ref.key}`);
    env[variable.name] = Buffer.from(encoded, 'base64').toString('utf8');
  }
  return env;
}

const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * Runs inside the pod's namespaces: listens on 127.0.0.1:<port> and passes each connection to
 * the Unix socket; writes its pid to the ready file once listening, and exits with the pod.
 */
const FORWARDER = `import { connect, createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
const [port, socket, ready] = process.argv.slice(2);
const parent = process.ppid;
createServer((client) => {
  const upstream = connect(socket);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
}).listen(Number(port), '127.0.0.1', () => writeFileSync(ready, String(process.pid)));
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500);
`;

interface Forward {
  port: number;
  socket: string;
  ready: string;
}

/** Unix sockets in the test process that pass connections on to loopback ports. */
async function hostForwards(
  ports: number[],
  root: string,
): Promise<{ forwards: Forward[]; servers: Server[] }> {
  const forwards: Forward[] = [];
  const servers: Server[] = [];
  for (const port of ports) {
    const socket = join(root, `forward-${port}.sock`);
    const server = createServer((client: Socket) => {
      const upstream = connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    servers.push(server);
    forwards.push({
      port,
      socket: `/proc/${process.pid}/root${socket}`,
      ready: join(root, `forward-${port}.pid`),
    });
  }
  return { forwards, servers };
}

/**
 * A volume mounted over a directory that holds the checkout (an emptyDir at /tmp, with the
 * repository cloned under /tmp) would hide the server's own code: the checkout is bound into
 * the volume at the same place first, and the recursive bind carries it along.
 */
function keepRepoVisible(mountPath: string, source: string): string[] {
  const repo = repoRoot();
  const rel = relative(mountPath, repo);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return [];
  const inside = join(source, rel);
  return [`mkdir -p ${quote(inside)}`, `mount --bind ${quote(repo)} ${quote(inside)}`];
}

/** The shell that sets up the namespaces' mounts and then runs the container's process. */
async function setupScript(
  pod: PodSpec,
  sources: PodSources,
  root: string,
  forwards: Forward[],
): Promise<string> {
  const container = pod.containers[0]!;
  const lines = ['set -eu', 'ip link set lo up'];
  const forwarder = join(root, 'forward.mjs');
  await writeFile(forwarder, FORWARDER);
  for (const forward of forwards) {
    lines.push(
      `${quote(process.execPath)} ${quote(forwarder)} ${forward.port} ${quote(forward.socket)} ${quote(forward.ready)} &`,
      `while [ ! -s ${quote(forward.ready)} ]; do sleep 0.05; done`,
    );
  }
  const overlaid = new Set<string>();
  for (const mount of container.volumeMounts) {
    if (await exists(mount.mountPath)) continue;
    const parent = await existingParent(mount.mountPath);
    if (overlaid.has(parent)) continue;
    overlaid.add(parent);
    const layer = join(root, 'overlays', String(overlaid.size));
    await mkdir(join(layer, 'upper'), { recursive: true });
    await mkdir(join(layer, 'work'), { recursive: true });
    lines.push(
      `mount -t overlay overlay -o ${quote(`lowerdir=${parent},upperdir=${layer}/upper,workdir=${layer}/work`)} ${quote(parent)}`,
    );
  }
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (volume === undefined) throw new Error(`volumeMount ${mount.name} has no volume`);
    const source = await volumeSource(volume, pod, sources, root);
    lines.push(...keepRepoVisible(mount.mountPath, source));
    lines.push(
      `mkdir -p ${quote(mount.mountPath)}`,
      `mount --rbind ${quote(source)} ${quote(mount.mountPath)}`,
    );
    if (mount.readOnly === true) lines.push(`mount -o remount,bind,ro ${quote(mount.mountPath)}`);
  }
  const { runAsUser, runAsGroup, fsGroup } = pod.securityContext;
  const groups = fsGroup === undefined ? '--clear-groups' : `--groups ${fsGroup}`;
  const command = [process.execPath, MAIN, ...container.args].map(quote).join(' ');
  lines.push(`exec setpriv --reuid ${runAsUser} --regid ${runAsGroup} ${groups} ${command}`);
  return `${lines.join('\n')}\n`;
}

function collectLogs(
  child: ChildProcess,
  logLines: Record<string, unknown>[],
  text: string[],
): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      text.push(line);
      try {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log record
      }
    });
  }
}

function waitForLog(
  child: ChildProcess,
  logLines: Record<string, unknown>[],
  text: string[],
  message: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (logLines.some((record) => record['message'] === message)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`the pod's process exited with ${code}:\n${text.join('\n')}`));
    });
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no "${message}" in 30 s:\n${text.join('\n')}`));
    }, 30_000).unref();
  });
}

/** Starts the pod's process; resolves once its SFTP and HTTP listeners are up. */
export async function startPod(pod: PodSpec, sources: PodSources): Promise<RunningPod> {
  const root = await mkdtemp(join(process.env['TMPDIR'] ?? '/tmp', 'kubesftp-pod-'));
  await chmod(root, 0o755);
  const script = join(root, 'start.sh');
  const { forwards, servers } = await hostForwards(sources.forwardPorts ?? [], root);
  await writeFile(script, await setupScript(pod, sources, root, forwards));
  const env = await environment(pod.containers[0]!, sources);
  const child = spawn('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Record<string, unknown>[] = [];
  const text: string[] = [];
  collectLogs(child, logLines, text);
  const stop = async (): Promise<number | null> => {
    const exited = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', resolve);
    });
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    // The forwarders also leave once the pod's process is gone; this is quicker.
    for (const forward of forwards) {
      const pid = Number(await readFile(forward.ready, 'utf8').catch(() => '0'));
      if (pid > 0) process.kill(pid, 'SIGTERM');
    }
    for (const server of servers) server.close();
    await rm(root, { recursive: true, force: true });
    return code;
  };
  try {
    await waitForLog(child, logLines, text, 'sftp server listening');
    await waitForLog(child, logLines, text, 'http server listening');
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = child.pid!;
  return {
    pid,
    logLines,
    inNetwork: (command, args) => ({
      command: 'nsenter',
      args: ['--target', String(pid), '--net', '--', command, ...args],
    }),
    stop,
  };
}

/** Waits until the pod answers what its readiness probe asks, on the container's http port. */
export async function waitUntilReady(pod: RunningPod, timeoutMs = 30_000): Promise<void> {
  const probe = pod.inNetwork('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    'http://127.0.0.1:8080/healthz',
  ]);
  const run = promisify(execFile);
  await waitFor(
    'the pod to be ready',
    async () => ((await run(probe.command, probe.args)).stdout === '200' ? true : undefined),
    timeoutMs,
  );
}
