/**
 * A real PostgreSQL for tests: Debian's server binaries, a throwaway cluster made by initdb,
 * listening on a free loopback port (no Unix socket) with password authentication, run as
 * an unprivileged user and stopped with the test process however it ends.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  ownedTempDir,
  postgresBinDir,
  removeDir,
  requireBinary,
  serverUser,
  type ServerUser,
} from './db-servers.js';
import { freeLoopbackPort, runToCompletion, spawnManaged, waitUntilReady } from './processes.js';

export interface PostgresEnv {
  host: string;
  port: number;
  /** A superuser with a password (scram-sha-256). */
  user: string;
  password: string;
  /** Creates an empty database and returns its name. */
  createDatabase(prefix?: string): Promise<string>;
  /** postgres://user:password@host:port/database, the host 127.0.0.1 unless given. */
  url(database: string, host?: string): string;
  /** Milliseconds spent in initdb and until the server accepted connections. */
  timings: { initdbMs: number; startMs: number };
  /** The throwaway directory (data, config); stop() removes it. */
  dir: string;
  /** Stops the server and keeps its data, as an outage would (a fast shutdown: clients are cut). */
  pause(): Promise<void>;
  /** Starts the paused server again on the same port and data; resolves once it answers. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  readyTimeoutMs?: number;
  /**
   * Also listen on this address (the test bed bridge's, for pods) and admit password logins
   * from the clients range; never a public interface.
   */
  alsoListen?: { address: string; clients: string };
  /** Server settings passed as -c name=value after the test defaults, which they override. */
  settings?: Record<string, string>;
}

async function initCluster(
  dir: string,
  user: ServerUser | undefined,
  password: string,
): Promise<void> {
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (user !== undefined) await chown(pwfile, user.uid, user.gid);
  await runToCompletion({
    name: 'initdb',
    command: requireBinary(join(postgresBinDir(), 'initdb')),
    args: [
      '-D',
      join(dir, 'data'),
      '-U',
      'kubesftp',
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
    ].concat(['-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']),
    user,
  });
}

/** initdb admits loopback only; pods on the bridge log in with the same password. */
async function admitClients(dir: string, clients: string): Promise<void> {
  await appendFile(join(dir, 'data', 'pg_hba.conf'), `host all all ${clients} scram-sha-256\n`);
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresEnv> {
  const user = await serverUser('postgres');
  const dir = await ownedTempDir('kubesftp-pg-', user);
  const password = randomBytes(12).toString('hex');
  const stops: Array<() => Promise<void>> = [() => removeDir(dir)];
  const stop = async (): Promise<void> => {
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const initStarted = Date.now();
    await initCluster(dir, user, password);
    if (options.alsoListen !== undefined) await admitClients(dir, options.alsoListen.clients);
    const initdbMs = Date.now() - initStarted;
    const listen = ['127.0.0.1', options.alsoListen?.address].filter(Boolean).join(',');
    const port = await freeLoopbackPort();
    const started = Date.now();
    const spawnServer = () =>
      spawnManaged({
        name: 'postgres',
        command: requireBinary(join(postgresBinDir(), 'postgres')),
        args: ['-D', join(dir, 'data'), '-c', `listen_addresses=${listen}`, '-c', `port=${port}`]
          .concat(['-c', 'unix_socket_directories=', '-c', 'max_connections=300'])
          // Throwaway data: durability costs time and buys nothing here.
          .concat(['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'])
          .concat(
            Object.entries(options.settings ?? {}).flatMap(([name, value]) => [
              '-c',
              `${name}=${value}`,
            ]),
          ),
        ...(user ? { user } : {}),
        stopSignal: 'SIGINT',
      });
    let server = spawnServer();
    stops.push(() => server.stop());
    const connect = { host: '127.0.0.1', port, user: 'kubesftp', password, database: 'postgres' };
    const admin = async <T>(sql: string): Promise<T[]> => {
      const client = new pg.Client(connect);
      await client.connect();
      try {
        return (await client.query(sql)).rows as T[];
      } finally {
        await client.end();
      }
    };
    const ready = () =>
      waitUntilReady({
        process: server,
        probe: async () => (await admin('SELECT 1')).length === 1,
        timeoutMs: options.readyTimeoutMs ?? 60_000,
        what: 'postgres',
      });
    await ready();
    const startMs = Date.now() - started;
    let databases = 0;
    return {
      host: '127.0.0.1',
      port,
      user: 'kubesftp',
      password,
      url: (database, host = '127.0.0.1') =>
        `postgres://kubesftp:${password}@${host}:${port}/${database}`,
      createDatabase: async (prefix = 'kubesftp') => {
        const name = `${prefix}_${++databases}_${randomBytes(3).toString('hex')}`;
        // A name made above from safe characters; CREATE DATABASE takes no parameters.
        await admin(`CREATE DATABASE "${name}"`);
        return name;
      },
      timings: { initdbMs, startMs },
      dir,
      pause: () => server.stop(),
      resume: async () => {
        server = spawnServer();
        await ready();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
