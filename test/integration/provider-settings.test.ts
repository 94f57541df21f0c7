/**
 * data_provider.track_quota and manage_users on every driver, through real `kubesftp serve`
 * processes and the real OpenSSH sftp: memory (from a dump), sqlite, kv, PostgreSQL and MariaDB.
 * Each driver serves three servers in turn, with track_quota 0, 1 and 2 and manage_users 0:
 * the usage the provider stores after one upload per user follows the mode, and the REST API
 * reads the accounts but refuses to change them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDataProvider,
  type DataProviderConfig,
} from '../../server/src/dataprovider/index.js';
import { dumpProvider } from '../../server/src/dataprovider/dump.js';
import { newUser } from '../../server/src/dataprovider/test-support.js';
import type { DataProvider } from '../../server/src/dataprovider/types.js';
import { startMariadb, startPostgres, type MariadbEnv, type PostgresEnv } from '../env/testbed.js';
import { adminToken, sftpBatch, startServer, type RunningServer } from './harness.js';

const PASSWORD = 'password of the quota users';
/** One admin password for every server of a store: the first one creates the admin. */
const ADMIN_PASSWORD = 'admin password of the settings test';
const FILE_SIZE = 70_000;

interface Store {
  /** Settings for the test to write the accounts with. */
  settings: DataProviderConfig;
  /** What the servers get in their environment. */
  env: Record<string, string>;
}

interface DriverFixture {
  driver: string;
  store(work: string): Promise<Store>;
  /** The accounts are written through `seeded`; memory turns them into its dump file. */
  afterSeed?(seeded: DataProvider, work: string): Promise<void>;
}

let postgres: PostgresEnv | undefined;
let mariadb: MariadbEnv | undefined;

function fileStore(driver: string, file: string, work: string): Promise<Store> {
  const name = join(work, file);
  return Promise.resolve({
    settings: { driver, name, configDir: work },
    env: { KUBESFTP_DATA_PROVIDER__DRIVER: driver, KUBESFTP_DATA_PROVIDER__NAME: name },
  });
}

function serverStore(driver: string, db: PostgresEnv | MariadbEnv, name: string): Store {
  return {
    settings: {
      driver,
      name,
      configDir: '.',
      network: { host: db.host, port: db.port, username: db.user, password: db.password },
    },
    env: {
      KUBESFTP_DATA_PROVIDER__DRIVER: driver,
      KUBESFTP_DATA_PROVIDER__CONNECTION_STRING: db.url(name),
    },
  };
}

const fixtures: DriverFixture[] = [
  {
    driver: 'memory',
    store: async (work) => {
      const store = await fileStore('memory', 'accounts.json', work);
      // The test writes to a memory provider of its own, then dumps it where the servers load.
      return { ...store, settings: { driver: 'memory', name: '', configDir: work } };
    },
    afterSeed: async (seeded, work) => {
      const dump = await dumpProvider(seeded);
      await writeFile(join(work, 'accounts.json'), JSON.stringify(dump), { mode: 0o600 });
    },
  },
  { driver: 'sqlite', store: (work) => fileStore('sqlite', 'kubesftp.db', work) },
  { driver: 'kv', store: (work) => fileStore('kv', 'kubesftp.mdb', work) },
  {
    driver: 'postgresql',
    store: async () => {
      postgres ??= await startPostgres();
      return serverStore('postgresql', postgres, await postgres.createDatabase('settings'));
    },
  },
  {
    driver: 'mysql',
    store: async () => {
      mariadb ??= await startMariadb();
      return serverStore('mysql', mariadb, await mariadb.createDatabase('settings'));
    },
  },
];

after(async () => {
  await postgres?.stop();
  await mariadb?.stop();
});

async function call(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const token = await adminToken(server.httpPort, ADMIN_PASSWORD);
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

interface Usage {
  used_quota_size: number;
  used_quota_files: number;
}

for (const fixture of fixtures) {
  describe(`track_quota and manage_users 0 on ${fixture.driver}`, { timeout: 180_000 }, () => {
    let work = '';
    let store: Store;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), `kubesftp-settings-${fixture.driver}-`));
      store = await fixture.store(work);
      const seeded = await createDataProvider(store.settings);
      await seeded.initialize();
      // One pair of users per track_quota mode: with a quota and without.
      for (const mode of [0, 1, 2]) {
        for (const [kind, limits] of [
          ['limited', { quota_size: 1 << 30 }],
          ['free', {}],
        ] as const) {
          const username = `${kind}${mode}`;
          await seeded.addUser(
            newUser({ username, password: PASSWORD, home_dir: join(work, username), ...limits }),
          );
        }
      }
      await fixture.afterSeed?.(seeded, work);
      await seeded.close();
      await writeFile(join(work, 'up.bin'), randomBytes(FILE_SIZE));
    });
    after(async () => {
      await rm(work, { recursive: true, force: true });
    });

    for (const mode of [0, 1, 2] as const) {
      it(`track_quota ${mode}: counts ${['nobody', 'every user', 'users with a quota'][mode]}; the accounts are read-only`, async () => {
        const server = await startServer({
          ...store.env,
          KUBESFTP_DATA_PROVIDER__TRACK_QUOTA: String(mode),
          KUBESFTP_DATA_PROVIDER__MANAGE_USERS: '0',
          KUBESFTP_ADMIN_PASSWORD: ADMIN_PASSWORD,
        });
        try {
          const usage = async (username: string): Promise<Usage> => {
            const reply = await call(server, 'GET', `/api/v1/user?username=${username}`);
            assert.equal(reply.status, 200);
            return (reply.body as Usage[])[0]!;
          };
          for (const kind of ['limited', 'free']) {
            const username = `${kind}${mode}`;
            const put = await sftpBatch(
              server.sftpPort,
              { username, password: PASSWORD },
              ['put up.bin'],
              {
                cwd: work,
              },
            );
            assert.equal(put.code, 0, put.stderr);
            const counted = mode === 1 || (mode === 2 && kind === 'limited');
            const { used_quota_size, used_quota_files } = await usage(username);
            assert.deepEqual(
              [used_quota_size, used_quota_files],
              counted ? [FILE_SIZE, 1] : [0, 0],
              `${username} after one upload`,
            );
          }
          const listed = await call(server, 'GET', `/api/v1/user?username=free${mode}`);
          const id = (listed.body as Array<{ id: number }>)[0]!.id;
          for (const [method, path, body] of [
            [
              'POST',
              '/api/v1/user',
              { username: 'eve', password: PASSWORD, home_dir: join(work, 'eve') },
            ],
            ['PUT', `/api/v1/user/${id}`, { status: 0 }],
            ['DELETE', `/api/v1/user/${id}`, undefined],
          ] as const) {
            const reply = await call(server, method, path, body);
            assert.equal(reply.status, 403, `${method} ${path}: ${JSON.stringify(reply.body)}`);
          }
          const still = await sftpBatch(
            server.sftpPort,
            { username: `free${mode}`, password: PASSWORD },
            ['pwd'],
            {
              cwd: work,
            },
          );
          assert.equal(still.code, 0, `free${mode} is still there and active: ${still.stderr}`);
        } finally {
          await server.stop();
        }
      });
    }
  });
}
