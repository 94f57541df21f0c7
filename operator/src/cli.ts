/**
 * `kubesftp operator`: runs the operator until SIGTERM or SIGINT, then stops cleanly (the
 * leader lease is released so that a standby takes over at once). Losing the lease, or a
 * failure to start, exits 1 so that Kubernetes restarts the pod.
 */
import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../server/src/logger/index.js';
import type { OperatorCommandOptions } from './cli-options.js';
import { startOperator, type OperatorOptions } from './main.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path === '') kc.loadFromDefault();
  else kc.loadFromFile(path);
  return kc;
}

/** The Lease's namespace: the flag, else POD_NAMESPACE, else the service account's. */
async function leaseNamespace(flag: string): Promise<string> {
  if (flag !== '') return flag;
  if (process.env['POD_NAMESPACE']) return process.env['POD_NAMESPACE'];
  try {
    return (await readFile(SERVICE_ACCOUNT_NAMESPACE, 'utf8')).trim();
  } catch {
    return 'default';
  }
}

function metricsAddress(text: string): OperatorOptions['metrics'] {
  if (text === '0' || text === '') return undefined;
  const colon = text.lastIndexOf(':');
  const host = colon <= 0 ? '0.0.0.0' : text.slice(0, colon);
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--metrics-bind-address: ${JSON.stringify(text)} is not host:port`);
  }
  return { host, port };
}

export async function runOperator(options: OperatorCommandOptions): Promise<void> {
  const logger = createLogger({
    filePath: '',
    maxSizeMB: 10,
    maxBackups: 1,
    maxAgeDays: 1,
    compress: false,
    verbose: options.logVerbose,
  });
  const log = logger.child('operator');
  try {
    if (options.defaultImage === '')
      throw new Error('--default-image (KUBESFTP_OPERATOR_DEFAULT_IMAGE) is required');
    const running = await startOperator({
      kubeConfig: kubeConfigFrom(options.kubeconfig),
      logger: log,
      namespace: options.namespace === '' ? undefined : options.namespace,
      defaultImage: options.defaultImage,
      leaderElection: options.leaderElect
        ? {
            namespace: await leaseNamespace(options.leaderElectionNamespace),
            ...(process.env['POD_NAME'] ? { identity: process.env['POD_NAME'] } : {}),
          }
        : undefined,
      metrics: metricsAddress(options.metricsBindAddress),
      resyncMs: options.resyncPeriod * 1000,
      userWorkers: options.userWorkers,
      hashIterations: options.passwordHashIterations,
      deletionTimeoutMs: options.deletionTimeout * 1000,
      onLeadershipLost: () => {
        log.error('leader lease lost; exiting');
        process.exit(1);
      },
    });
    if (running.metricsPort !== undefined)
      log.info({ port: running.metricsPort }, 'metrics endpoint listening');
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
      running.started.catch((err: unknown) => {
        log.error({ err: String(err) }, 'operator failed to start');
        process.exitCode = 1;
        resolve('SIGTERM');
      });
    });
    log.info({ signal }, 'stopping');
    await running.stop();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err: message }, message);
    process.stderr.write(`kubesftp operator: ${message}\n`);
    process.exitCode = 1;
  } finally {
    await logger.close();
  }
}
