/**
 * `kubesftp operator` as a process, as the operator test and the operator benchmark run it:
 * spawned from dist/ with a kubeconfig, its log lines kept, its metrics port read from the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../integration/harness.js';
import { waitFor } from '../testbed/wait.js';

export interface OperatorProcess {
  child: ChildProcess;
  logs: string[];
  metricsPort(): number;
  /** Resolves once it leads and its controllers run; rejects if it exits first. */
  running(timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  defaultImage: string;
  /** Lease namespace; no leader election when unset. */
  leaderElectionNamespace?: string;
  resyncSeconds?: number;
  hashIterations?: number;
  deletionTimeoutSeconds?: number;
  userWorkers?: number;
  verbose?: boolean;
  /** The leader election identity, as a pod's name gives it (POD_NAME); random when unset. */
  identity?: string;
}

function operatorArgs(options: OperatorProcessOptions): string[] {
  const flags: Array<[string, string | number | boolean | undefined]> = [
    ['--kubeconfig', options.kubeconfig],
    ['--default-image', options.defaultImage],
    ['--metrics-bind-address', '127.0.0.1:0'],
    ['--leader-elect', options.leaderElectionNamespace !== undefined],
    ['--leader-election-namespace', options.leaderElectionNamespace],
    ['--resync-period', options.resyncSeconds],
    ['--password-hash-iterations', options.hashIterations],
    ['--deletion-timeout', options.deletionTimeoutSeconds],
    ['--user-workers', options.userWorkers],
    ['--log-verbose', options.verbose],
  ];
  return flags.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
}

export function spawnOperator(options: OperatorProcessOptions): OperatorProcess {
  const main = join(repoRoot, 'dist', 'server', 'src', 'cli', 'main.js');
  const env = { ...process.env };
  delete env['POD_NAME'];
  if (options.identity !== undefined) env['POD_NAME'] = options.identity;
  const child = spawn(process.execPath, [main, 'operator', ...operatorArgs(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: string[] = [];
  let metricsPort = 0;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      logs.push(line);
      const match = /"port":(\d+).*metrics endpoint listening/.exec(line);
      if (match !== null) metricsPort = Number(match[1]);
    });
  }
  const exited = new Promise<never>((_resolve, reject) =>
    child.once('exit', (code) => reject(new Error(`operator exited ${code}:\n${logs.join('\n')}`))),
  );
  exited.catch(() => undefined);
  const running = (): true | undefined =>
    logs.some((line) => line.includes('operator running')) && metricsPort > 0 ? true : undefined;
  return {
    child,
    logs,
    metricsPort: () => metricsPort,
    running: async (timeoutMs = 60_000) => {
      await Promise.race([waitFor('the operator to lead and run', running, timeoutMs), exited]);
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await gone;
    },
  };
}

/** A kubeconfig for the bed's API server that authenticates with `token`. */
export function tokenKubeconfig(
  server: { server: string; caCertPath: string },
  token: string,
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'bed',
        cluster: { server: server.server, 'certificate-authority': server.caCertPath },
      },
    ],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'bed', context: { cluster: 'bed', user: 'operator' } }],
    'current-context': 'bed',
  });
}

/** Write requests the operator made (creates, applies, patches, deletes), from its metrics. */
export async function operatorWrites(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('kubesftp_operator_api_requests_total{'))
    .filter((line) => /verb="(create|apply|patch|update|delete)"/.test(line))
    .filter((line) => !line.includes('resource="leases"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
