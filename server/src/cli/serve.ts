/**
 * `kubesftp serve`: load the configuration, start the service, and turn SIGTERM/SIGINT into a
 * graceful shutdown. A bad configuration exits 1 with the key and the reason on stderr.
 */
import { loadConfig } from '../config/load.js';
import { isKubesftpError } from '../errors.js';
import { createLogger, type AppLogger } from '../logger/index.js';
import { startService, type ServiceLogging } from '../service.js';
import { workerSlot } from '../workers/primary.js';
import { runWorker } from '../workers/worker.js';
import type { ServeOptions } from './options.js';

export function serviceLogging(logger: AppLogger): ServiceLogging {
  return {
    component: (sender) => logger.child(sender),
    events: {
      transfer: (record) => logger.logTransfer(record),
      command: (record) => logger.logCommand(record),
    },
    connectionFailed: (failure) =>
      logger.logConnectionFailed({
        username: failure.username,
        client_ip: failure.clientIp,
        login_type: failure.loginType,
        error: failure.error,
      }),
  };
}

export interface ServeHooks {
  /** Called once the service listens, or has failed to start. */
  started?: () => void;
}

export async function runServe(options: ServeOptions, hooks: ServeHooks = {}): Promise<void> {
  const logger = createLogger({
    filePath: options.logFilePath,
    maxSizeMB: options.logMaxSize,
    maxBackups: options.logMaxBackups,
    maxAgeDays: options.logMaxAge,
    compress: options.logCompress,
    verbose: options.logVerbose,
  });
  const log = logger.child('serve');
  try {
    const loaded = await loadConfig({
      configDir: options.configDir,
      configFile: options.configFile,
    });
    const slot = workerSlot(process.env, process.send !== undefined);
    if (slot !== undefined) {
      // A worker drains when the primary says so; a terminal's Ctrl-C reaches it too, and the
      // primary, which got it as well, decides.
      process.on('SIGINT', () => undefined);
      hooks.started?.();
      await runWorker({ loaded, logging: serviceLogging(logger), slot }, process);
      await logger.close();
      return;
    }
    const service = await startService({
      loaded,
      logging: serviceLogging(logger),
      adminPassword: process.env.KUBESFTP_ADMIN_PASSWORD || undefined,
      announce: (text) => process.stdout.write(text),
    });
    hooks.started?.();
    const graceMs = loaded.config.sftpd.shutdown_grace_period * 1000;
    await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await service.shutdown(graceMs);
    await logger.close();
  } catch (err) {
    hooks.started?.();
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err, code: isKubesftpError(err) ? err.code : undefined }, message);
    await logger.close();
    process.stderr.write(`kubesftp: ${message}\n`);
    process.exitCode = 1;
  }
}
