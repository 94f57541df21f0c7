/**
 * A real MariaDB for tests: Debian's server, a throwaway data directory made by
 * mariadb-install-db, listening on a free loopback port with a password account, run as an
 * unprivileged user and stopped with the test process however it ends.
 */
import { randomBytes } from 'node:crypto';
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { ownedTempDir, removeDir, requireBinary, serverUser } from './db-servers.js';
import { freeLoopbackPort, runToCompletion, spawnManaged, waitUntilReady } from './processes.js';

export interface MariadbEnv {
  host: string;
  port: number;
  /** An account with every privilege, reachable over TCP from 127.0.0.1. */
  user: string;
  password: string;
  /** Creates an empty database and returns its name. */
  createDatabase(prefix?: string): Promise<string>;
  /** mysql://user:password@127.0.0.1:port/database */
  url(database: string): string;
  /** Milliseconds spent in mariadb-install-db and until the server accepted connections. */
  timings: { installDbMs: number; startMs: number };
  /** The throwaway directory (data, config); stop() removes it. */
  dir: string;
  stop(): Promise<void>;
}

export interface StartMariadbOptions {
  readyTimeoutMs?: number;
}

export async function startMariadb(options: StartMariadbOptions = {}): Promise<MariadbEnv> {
  const user = await serverUser('mysql');
  const dir = await ownedTempDir('kubesftp-mariadb-', user);
  const password = randomBytes(12).toString('hex');
  const stops: Array<() => Promise<void>> = [() => removeDir(dir)];
  const stop = async (): Promise<void> => {
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const installStarted = Date.now();
    await runToCompletion({
      name: 'mariadb-install-db',
      command: requireBinary('/usr/bin/mariadb-install-db'),
      args: ['--no-defaults', `--datadir=${join(dir, 'data')}`, '--skip-test-db'].concat([
        '--auth-root-authentication-method=socket',
        '--skip-name-resolve',
      ]),
      user,
    });
    const installDbMs = Date.now() - installStarted;
    // Runs at every start: the account the tests use, over TCP with a password.
    const initFile = join(dir, 'init.sql');
    await writeFile(
      initFile,
      `CREATE USER IF NOT EXISTS 'kubesftp'@'127.0.0.1' IDENTIFIED BY '${password}';\n` +
        `GRANT ALL PRIVILEGES ON *.* TO 'kubesftp'@'127.0.0.1' WITH GRANT OPTION;\n`,
      { mode: 0o600 },
    );
    if (user !== undefined) await chown(initFile, user.uid, user.gid);
    const port = await freeLoopbackPort();
    const started = Date.now();
    const server = spawnManaged({
      name: 'mariadbd',
      command: requireBinary('/usr/sbin/mariadbd'),
      args: ['--no-defaults', `--datadir=${join(dir, 'data')}`, `--port=${port}`]
        .concat(['--bind-address=127.0.0.1', `--socket=${join(dir, 'mysqld.sock')}`])
        .concat([`--pid-file=${join(dir, 'mariadbd.pid')}`, `--init-file=${initFile}`])
        .concat(['--skip-name-resolve', '--skip-log-bin', '--max-connections=300'])
        // Throwaway data: durability costs time and buys nothing here.
        .concat(['--innodb-flush-log-at-trx-commit=0', '--innodb-buffer-pool-size=64M'])
        .concat(['--innodb-log-file-size=16M']),
      ...(user ? { user } : {}),
      stopSignal: 'SIGTERM',
    });
    stops.push(() => server.stop());
    const connect = { host: '127.0.0.1', port, user: 'kubesftp', password };
    const admin = async (sql: string): Promise<void> => {
      const connection = await mysql.createConnection(connect);
      try {
        await connection.query(sql);
      } finally {
        await connection.end();
      }
    };
    await waitUntilReady({
      process: server,
      probe: async () => {
        await admin('SELECT 1');
        return true;
      },
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      what: 'mariadbd',
    });
    const startMs = Date.now() - started;
    let databases = 0;
    return {
      host: '127.0.0.1',
      port,
      user: 'kubesftp',
      password,
      url: (database) => `mysql://kubesftp:${password}@127.0.0.1:${port}/${database}`,
      createDatabase: async (prefix = 'kubesftp') => {
        const name = `${prefix}_${++databases}_${randomBytes(3).toString('hex')}`;
        await admin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        return name;
      },
      timings: { installDbMs, startMs },
      dir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
