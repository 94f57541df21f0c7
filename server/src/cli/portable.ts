/**
 * `kubesftp portable`: serves one local directory or one S3 prefix at once, to one account made
 * up on the spot, with no config file and no admin API. Accounts live in the memory provider
 * and host keys in a private temporary directory, both gone when the process ends. Prints how
 * to connect, and advertises the service over mDNS when asked.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { FsProvider, type NewUser } from '../dataprovider/types.js';
import { isKubesftpError } from '../errors.js';
import { mergeUserInput } from '../httpd/user-input.js';
import { createLogger } from '../logger/index.js';
import { startService } from '../service.js';
import { versionString } from '../version.js';
import { advertise } from './advertise.js';
import type { PortableOptions } from './portable-options.js';
import { serviceLogging } from './serve.js';

/** The account portable mode serves, with what was generated for it. */
export function portableAccount(options: PortableOptions): {
  user: NewUser;
  generatedPassword: string | undefined;
} {
  const username = options.username || `user-${randomBytes(3).toString('hex')}`;
  const generate = options.password === '' && options.publicKeys.length === 0;
  const password = generate ? randomBytes(12).toString('base64url') : options.password;
  const user = mergeUserInput(
    {
      username,
      password,
      public_keys: options.publicKeys,
      permissions: { '/': options.permissions },
      home_dir: resolve(options.directory),
      filesystem:
        options.fsProvider === 0
          ? { provider: FsProvider.local }
          : { provider: FsProvider.s3, s3config: options.s3 },
    },
    {},
  );
  return { user, generatedPassword: generate ? password : undefined };
}

/** What a user reads to connect. */
export function connectText(options: {
  user: NewUser;
  port: number;
  generatedPassword: string | undefined;
  host: string;
}): string {
  const { user, port } = options;
  const s3 = user.filesystem.s3config;
  const served = s3 ? `s3://${s3.bucket}/${s3.key_prefix}` : user.home_dir;
  const lines = [
    `Serving ${served} to "${user.username}" with permissions: ${user.permissions['/']!.join(', ')}`,
    `Connect with: sftp -P ${port} ${user.username}@${options.host}`,
  ];
  if (options.generatedPassword !== undefined) {
    lines.push(`Password: ${options.generatedPassword}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The TXT keys that let a browser log in: the password only when there is one. */
function credentialsTxt(user: NewUser): Record<string, string> {
  return { user: user.username, ...(user.password ? { password: user.password } : {}) };
}

export async function runPortable(options: PortableOptions): Promise<void> {
  const logger = createLogger({
    filePath: options.logFilePath,
    maxSizeMB: 10,
    maxBackups: 5,
    maxAgeDays: 28,
    compress: false,
    verbose: options.logVerbose,
  });
  const log = logger.child('portable');
  // Listened for from the start: a signal during start-up still ends in a clean shutdown.
  const stopSignal = new Promise<NodeJS.Signals>((done) => {
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  // Host keys only: accounts stay in memory.
  const configDir = await mkdtemp(join(tmpdir(), 'kubesftp-portable-'));
  try {
    const { user, generatedPassword } = portableAccount(options);
    const loaded = await loadConfig({
      configDir,
      configFile: 'kubesftp-portable-none',
      // Other settings may still come from KUBESFTP_* variables (a bind address, say).
      env: {
        ...process.env,
        KUBESFTP_DATA_PROVIDER__DRIVER: 'memory',
        // One process: the memory driver cannot be shared with workers.
        KUBESFTP_SFTPD__WORKERS: '1',
        KUBESFTP_HTTPD__BIND_PORT: '0',
        KUBESFTP_SFTPD__BIND_PORT: String(options.sftpdPort),
        KUBESFTP_SFTPD__ENABLED_SSH_COMMANDS: options.sshCommands.join(','),
      },
    });
    const service = await startService({
      loaded,
      logging: serviceLogging(logger),
      seed: async (provider) => void (await provider.addUser(user)),
      // Without the REST API the admin account has no use; its password is not shown.
      announce: () => undefined,
    });
    process.stdout.write(
      connectText({ user, port: service.sftpPort, generatedPassword, host: hostname() }),
    );
    const withdraw = options.advertiseService
      ? advertise({
          name: `kubesftp portable ${service.sftpPort}`,
          port: service.sftpPort,
          txt: {
            version: versionString(),
            ...(options.advertiseCredentials ? credentialsTxt(user) : {}),
          },
          interfaceAddress: options.advertiseInterface,
          onError: (err) => log.warn({ err }, 'mDNS advertisement failed'),
        })
      : undefined;
    await stopSignal;
    await withdraw?.();
    await service.shutdown(loaded.config.sftpd.shutdown_grace_period * 1000);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err, code: isKubesftpError(err) ? err.code : undefined }, message);
    process.stderr.write(`kubesftp portable: ${message}\n`);
    process.exitCode = 1;
  } finally {
    await logger.close();
    await rm(configDir, { recursive: true, force: true });
  }
}
