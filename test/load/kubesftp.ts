/**
 * kubesftp under test: `kubesftp serve` as a child process on free loopback ports with a
 * temporary config dir and verbose logging off, plus one user whose home is a directory under
 * the benchmark's work dir. The user is written to the server's data provider from this
 * process, as the operator writes an SftpUser's account: a pod never builds the REST
 * application (loaded on its first request, about 18 MiB), so neither does the measured server.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../server/src/config/load.js';
import { providerSettings, secretKeySettings } from '../../server/src/dataprovider/from-config.js';
import { createDataProvider } from '../../server/src/dataprovider/index.js';
import { ErrorCode, KubesftpError } from '../../server/src/errors.js';
import { mergeUserInput, type UserInput } from '../../server/src/httpd/user-input.js';
import { spawnTracked, stopChild } from './children.js';
import { idleRssMiB } from './idle.js';
import { processTree } from './rss.js';
import { freePort, serveInvocation, waitForPorts } from '../integration/harness.js';
import type { BenchServer } from './client.js';

const username = 'bench';
const BENCH_UID = 4243;

export interface KubesftpOptions {
  workDir: string;
  publicKey: string;
  /** Directory under workDir and name in the report; default "kubesftp". */
  name?: string;
  /** More server settings (a data provider), as KUBESFTP_* variables. */
  env?: Record<string, string>;
  /** The user's quota_size; 0 (none) when unset. */
  quotaSize?: number;
  /** Account properties over the defaults (an S3 home, say). */
  user?: Record<string, unknown>;
  /**
   * When set, idle RSS is read a second time this long after the first, still before the REST
   * API is used: V8's memory reducer returns what start-up left behind some seconds after the
   * last allocation, and an idle pod spends its life after it.
   */
  settleMs?: number;
}

/**
 * What a pod costs before any client: a readiness probe and a Prometheus scrape have reached
 * it (as in Kubernetes), the REST API has not.
 */
async function idleWithProbes(httpPort: number, pid: number): Promise<number> {
  for (const path of ['/healthz', '/metrics']) {
    const reply = await fetch(`http://127.0.0.1:${httpPort}${path}`);
    if (reply.status !== 200) {
      throw new KubesftpError(ErrorCode.FAILURE, `${path}: HTTP ${reply.status}`);
    }
    await reply.arrayBuffer();
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return idleRssMiB(pid);
}

export async function startKubesftp(options: KubesftpOptions): Promise<BenchServer> {
  const name = options.name ?? 'kubesftp';
  const dir = resolve(options.workDir, name);
  const configDir = join(dir, 'config');
  const homeDir = join(dir, 'home');
  await mkdir(configDir, { recursive: true });
  const httpPort = await freePort();
  const adminPassword = randomBytes(18).toString('base64url');
  const invocation = serveInvocation({
    configDir,
    httpPort,
    adminPassword,
    verbose: false,
    // sshd has no per-address bound by default; neither does kubesftp here, so both admit alike.
    env: {
      KUBESFTP_SFTPD__MAX_PER_HOST_CONNECTIONS: '0',
      // As in the bench's sshd_config: 32 clients log in at once in the concurrent phase.
      KUBESFTP_SFTPD__MAX_STARTUPS: '64:30:128',
      KUBESFTP_SFTPD__ENABLED_SSH_COMMANDS: 'scp,rsync',
      ...options.env,
    },
  });
  const child = spawnTracked({ command: process.execPath, ...invocation });
  child.stdout!.resume();
  let ports: { sftpPort: number; httpPort: number };
  let startIdleRssMiB: number;
  let settledIdleRssMiB: number | undefined;
  try {
    ports = await waitForPorts(child);
    startIdleRssMiB = await idleWithProbes(ports.httpPort, child.pid!);
    if (options.settleMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, options.settleMs));
      settledIdleRssMiB = await idleRssMiB(child.pid!);
    }
    await createUser({
      configDir,
      env: invocation.env,
      publicKey: options.publicKey,
      homeDir,
      quotaSize: options.quotaSize ?? 0,
      user: options.user,
    });
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const serverPid = child.pid!;
  return {
    name,
    port: ports.sftpPort,
    username,
    homeDir,
    remoteDir: '',
    mainPid: serverPid,
    startIdleRssMiB,
    settledIdleRssMiB,
    servingPids: () => processTree(serverPid, true),
    stop: () => stopChild(child, 20_000),
  };
}

/** Adds the bench user through the provider the running server reads accounts from. */
async function createUser(options: {
  configDir: string;
  env: NodeJS.ProcessEnv;
  publicKey: string;
  homeDir: string;
  quotaSize: number;
  user?: Record<string, unknown>;
}): Promise<void> {
  const { config, configDir } = await loadConfig({
    configDir: options.configDir,
    env: options.env,
  });
  const provider = await createDataProvider(
    providerSettings(config.data_provider, configDir),
    secretKeySettings(config.secrets, configDir),
  );
  try {
    await provider.initialize();
    const input = {
      username,
      public_keys: [options.publicKey],
      home_dir: options.homeDir,
      permissions: { '/': ['*'] },
      status: 1,
      quota_size: options.quotaSize,
      // rsync never runs as root: as root, the account needs ids of its own.
      ...(process.getuid?.() === 0 ? { uid: BENCH_UID, gid: BENCH_UID } : {}),
      ...options.user,
    } as UserInput;
    await provider.addUser(mergeUserInput(input, {}));
  } finally {
    await provider.close();
  }
}
