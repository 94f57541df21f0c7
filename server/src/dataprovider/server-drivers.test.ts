/**
 * What only the database-server drivers have: migrations under a lock taken by several
 * processes at once, the refusal of a schema newer than the code, the configured users table,
 * and configuration errors that name their key. Real PostgreSQL and MariaDB servers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import {
  startMariadb,
  startPostgres,
  type MariadbEnv,
  type PostgresEnv,
} from '../../../test/env/testbed.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { openDriver, type DataProviderConfig } from './drivers.js';
import { findMigrationsDir, loadMigrations } from './migrate.js';

interface ServerFixture {
  driver: 'postgresql' | 'mysql';
  start(): Promise<PostgresEnv | MariadbEnv>;
  /** Connections kubesftp holds open to `database`, seen from the server. */
  sessionsSql(database: string): string;
  /** Runs one statement as the test superuser on `database`; returns the rows. */
  sql(env: PostgresEnv | MariadbEnv, database: string, text: string): Promise<unknown[]>;
}

const fixtures: ServerFixture[] = [
  {
    driver: 'postgresql',
    start: () => startPostgres(),
    sessionsSql: (database) =>
      `SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND application_name = 'kubesftp'`,
    sql: async (env, database, text) => {
      const client = new pg.Client({ connectionString: env.url(database) });
      await client.connect();
      try {
        return (await client.query(text)).rows as unknown[];
      } finally {
        await client.end();
      }
    },
  },
  {
    driver: 'mysql',
    start: () => startMariadb(),
    sessionsSql: (database) =>
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = '${database}'`,
    sql: async (env, database, text) => {
      const connection = await mysql.createConnection({ uri: env.url(database) });
      try {
        return (await connection.query(text))[0] as unknown[];
      } finally {
        await connection.end();
      }
    },
  },
];

for (const fixture of fixtures) {
  describe(`${fixture.driver} driver on a real server`, () => {
    let env: PostgresEnv | MariadbEnv;
    before(async () => {
      env = await fixture.start();
    });
    after(async () => env?.stop());

    const settings = (database: string, extra: Partial<DataProviderConfig> = {}) => ({
      driver: fixture.driver,
      name: database,
      configDir: '/',
      network: { host: env.host, port: env.port, username: env.user, password: env.password },
      ...extra,
    });

    it('migrates once when several processes start together on an empty database', async () => {
      const database = await env.createDatabase('migrate');
      const providers = await Promise.all(
        Array.from({ length: 4 }, () => openDriver(settings(database))),
      );
      try {
        await Promise.all(providers.map((p) => p.initialize()));
        const shipped = await loadMigrations(findMigrationsDir(fixture.driver), {
          users_table: 'users',
        });
        const rows = (await fixture.sql(
          env,
          database,
          'SELECT version FROM schema_version ORDER BY version',
        )) as Array<{ version: string }>;
        assert.deepEqual(
          rows.map((r) => r.version),
          shipped.map((m) => m.version).sort(),
        );
        await providers[0]!.initialize();
        assert.equal(
          (await fixture.sql(env, database, 'SELECT * FROM schema_version')).length,
          rows.length,
        );
      } finally {
        await Promise.all(providers.map((p) => p.close()));
      }
    });

    it('refuses a database schema newer than it knows, as the sqlite driver does', async () => {
      const database = await env.createDatabase('newer');
      const first = await openDriver(settings(database));
      await first.initialize();
      await first.close();
      await fixture.sql(
        env,
        database,
        "INSERT INTO schema_version (version, applied_at) VALUES ('20991231', 0)",
      );
      const older = await openDriver(settings(database));
      await assert.rejects(older.initialize(), (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE), String(err));
        assert.match(
          err.message,
          /schema is at 20991231, newer than this kubesftp knows .*upgrade kubesftp/,
        );
        return true;
      });
      await older.close();
    });

    it('keeps users in the configured users table', async () => {
      const database = await env.createDatabase('table');
      const provider = await openDriver(settings(database, { usersTable: 'sftp_accounts' }));
      await provider.initialize();
      await provider.addUser({
        username: 'tab',
        password: '$1$x$y',
        public_keys: [],
        status: 1,
        expiration_date: 0,
        home_dir: '/srv/tab',
        uid: 0,
        gid: 0,
        max_sessions: 0,
        quota_size: 0,
        quota_files: 0,
        permissions: { '/': ['*'] },
        upload_bandwidth: 0,
        download_bandwidth: 0,
        filters: { allowed_ip: [], denied_ip: [] },
        filesystem: { provider: 0 },
      });
      await provider.close();
      const rows = (await fixture.sql(
        env,
        database,
        'SELECT username FROM sftp_accounts',
      )) as Array<{
        username: string;
      }>;
      assert.deepEqual(
        rows.map((r) => r.username),
        ['tab'],
      );
      await assert.rejects(fixture.sql(env, database, 'SELECT * FROM users'));
    });

    it('connects through connection_string alone', async () => {
      const database = await env.createDatabase('url');
      const provider = await openDriver({
        driver: fixture.driver,
        name: '',
        configDir: '/',
        network: { connectionString: env.url(database) },
      });
      await provider.initialize();
      assert.equal(await provider.countAdmins(), 0);
      await provider.close();
    });

    it('opens at most pool_size connections per process', async () => {
      const database = await env.createDatabase('pool');
      const provider = await openDriver(
        settings(database, {
          network: {
            host: env.host,
            port: env.port,
            username: env.user,
            password: env.password,
            poolSize: 2,
          },
        }),
      );
      await provider.initialize();
      await Promise.all(
        Array.from({ length: 40 }, () =>
          provider.listUsers({ offset: 0, limit: 10, order: 'ASC' }),
        ),
      );
      // Read from another database, so this check's own connection is not counted.
      const admin = fixture.driver === 'postgresql' ? 'postgres' : 'mysql';
      const [row] = (await fixture.sql(env, admin, fixture.sessionsSql(database))) as Array<{
        n: number;
      }>;
      await provider.close();
      assert.ok(Number(row?.n) >= 1 && Number(row?.n) <= 2, `open connections: ${row?.n}`);
    });

    it('insists on TLS from sslmode 1 up: a server without it is refused', async () => {
      const database = await env.createDatabase('tls');
      const provider = await openDriver(
        settings(database, {
          network: {
            host: env.host,
            port: env.port,
            username: env.user,
            password: env.password,
            sslmode: 1,
          },
        }),
      );
      await assert.rejects(provider.initialize(), (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE), String(err));
        assert.match(err.message, /ssl|secure/i);
        return true;
      });
      await provider.close();
    });

    it('names the key of a missing setting and the driver of an unreachable server', async () => {
      await assert.rejects(
        openDriver({ driver: fixture.driver, name: 'x', configDir: '/' }),
        (err) => {
          assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID));
          assert.match(err.message, /^data_provider\.host: /);
          return true;
        },
      );
      const wrong = await openDriver(
        settings('nope', {
          network: { host: env.host, port: env.port, username: env.user, password: 'wrong' },
        }),
      );
      await assert.rejects(wrong.initialize(), (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE), String(err));
        assert.match(err.message, new RegExp(`^${fixture.driver}: `));
        return true;
      });
      await wrong.close();
    });
  });
}
