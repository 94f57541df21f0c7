/**
 * Three real `kubesftp serve` processes on one real PostgreSQL (and again on one MariaDB), as
 * three pods of a cluster:
 * an account created through one server's REST API logs in on the others with the real
 * OpenSSH `sftp` (password and key), files keep their bytes whichever server carried them,
 * changes count at the next login everywhere, an admin token from one is good on all, and
 * each server's track_quota setting holds on the shared usage counters.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startMariadb, startPostgres, type MariadbEnv, type PostgresEnv } from '../env/testbed.js';
import {
  adminToken,
  makeKeyPair,
  sftpBatch,
  sha256File,
  startAll,
  startServer,
  type ClientAuth,
  type RunningServer,
} from './harness.js';

const ADMIN_PASSWORD = 'shared admin password for the cluster';
const USER_PASSWORD = 'first password of carol';

interface Reply {
  status: number;
  body: Record<string, unknown> | undefined;
}

type DatabaseEnv = PostgresEnv | MariadbEnv;

interface DatabaseFixture {
  driver: 'postgresql' | 'mysql';
  start(): Promise<DatabaseEnv>;
  /** Runs statements as the superuser on one database. */
  exec(url: string, statements: string[]): Promise<void>;
}

const databases: DatabaseFixture[] = [
  {
    driver: 'postgresql',
    start: () => startPostgres(),
    exec: async (url, statements) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const statement of statements) await client.query(statement);
      await client.end();
    },
  },
  {
    driver: 'mysql',
    start: () => startMariadb(),
    exec: async (url, statements) => {
      const connection = await mysql.createConnection({ uri: url });
      for (const statement of statements) await connection.query(statement);
      await connection.end();
    },
  },
];

for (const fixture of databases) {
  describe(`three kubesftp servers on one ${fixture.driver} database`, { timeout: 240_000 }, () => {
    let db: DatabaseEnv;
    let servers: RunningServer[] = [];
    let tokens: string[] = [];
    let work: string;
    let homes: string;
    let key: { privatePath: string; publicKey: string };

    /** A REST call to a server, with its own token or with one that server `tokenFrom` issued. */
    async function api(
      target: number | { on: number; tokenFrom: number },
      method: string,
      path: string,
      body?: unknown,
    ): Promise<Reply> {
      const { on, tokenFrom } =
        typeof target === 'number' ? { on: target, tokenFrom: target } : target;
      const res = await fetch(`http://127.0.0.1:${servers[on]!.httpPort}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[tokenFrom]!}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
      };
    }

    const sftp = (i: number, auth: ClientAuth, commands: string[]) =>
      sftpBatch(servers[i]!.sftpPort, auth, commands, { cwd: work });
    const password = (secret: string): ClientAuth => ({ username: 'carol', password: secret });
    const keyAuth = (): ClientAuth => ({ username: 'carol', keyPath: key.privatePath });

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'kubesftp-cluster-'));
      homes = join(work, 'homes');
      await mkdir(homes);
      key = await makeKeyPair(work, 'ed25519');
      db = await fixture.start();
      const database = await db.createDatabase('cluster');
      const shared = {
        KUBESFTP_DATA_PROVIDER__DRIVER: fixture.driver,
        KUBESFTP_DATA_PROVIDER__HOST: db.host,
        KUBESFTP_DATA_PROVIDER__PORT: String(db.port),
        KUBESFTP_DATA_PROVIDER__NAME: database,
        KUBESFTP_DATA_PROVIDER__USERNAME: db.user,
        KUBESFTP_DATA_PROVIDER__PASSWORD: db.password,
        KUBESFTP_DATA_PROVIDER__POOL_SIZE: '4',
        KUBESFTP_ADMIN_PASSWORD: ADMIN_PASSWORD,
      };
      // Started together, as pods of a rollout: they migrate once and create one admin.
      servers = await startAll(
        ['2', '1', '0'].map((trackQuota) =>
          startServer({ ...shared, KUBESFTP_DATA_PROVIDER__TRACK_QUOTA: trackQuota }),
        ),
      );
      tokens = await Promise.all(servers.map((s) => adminToken(s.httpPort, ADMIN_PASSWORD)));
    });

    after(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await db?.stop();
      await rm(work, { recursive: true, force: true });
    });

    it('serves a user created on one server from the other two, files intact by sha256', async () => {
      const created = await api(0, 'POST', '/api/v1/user', {
        username: 'carol',
        password: USER_PASSWORD,
        public_keys: [key.publicKey],
        home_dir: join(homes, 'carol'),
        permissions: { '/': ['*'] },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const data = randomBytes(3 * 1024 * 1024 + 17);
      await writeFile(join(work, 'up.bin'), data);
      const put = await sftp(1, password(USER_PASSWORD), ['put up.bin']);
      assert.equal(put.code, 0, put.stderr);
      const get = await sftp(2, keyAuth(), ['get up.bin down.bin']);
      assert.equal(get.code, 0, get.stderr);
      const digest = createHash('sha256').update(data).digest('hex');
      assert.equal(await sha256File(join(homes, 'carol', 'up.bin')), digest);
      assert.equal(await sha256File(join(work, 'down.bin')), digest);
    });

    it('applies a password change and a disable made on one server at the next login on the others', async () => {
      const { body } = await api(0, 'GET', '/api/v1/user?username=carol');
      const id = (body as unknown as Array<{ id: number }>)[0]!.id;
      const changed = await api(1, 'PUT', `/api/v1/user/${id}`, { password: 'second password' });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      for (const i of [0, 2]) {
        assert.notEqual(
          (await sftp(i, password(USER_PASSWORD), ['pwd'])).code,
          0,
          `old password on ${i}`,
        );
        const fresh = await sftp(i, password('second password'), ['pwd']);
        assert.equal(fresh.code, 0, `new password on ${i}: ${fresh.stderr}`);
      }
      assert.equal((await api(2, 'PUT', `/api/v1/user/${id}`, { status: 0 })).status, 200);
      for (const i of [0, 1]) {
        assert.notEqual((await sftp(i, keyAuth(), ['pwd'])).code, 0, `disabled user on ${i}`);
      }
      assert.equal((await api(0, 'PUT', `/api/v1/user/${id}`, { status: 1 })).status, 200);
      const back = await sftp(1, keyAuth(), ['pwd']);
      assert.equal(back.code, 0, back.stderr);
    });

    it('accepts an admin token issued by any server on every server', async () => {
      for (let issuer = 0; issuer < 3; issuer++) {
        for (let target = 0; target < 3; target++) {
          const reply = await api({ on: target, tokenFrom: issuer }, 'GET', '/api/v1/user');
          assert.equal(reply.status, 200, `token of ${issuer} on ${target}`);
        }
      }
    });

    it("keeps each server's track_quota on the shared counters: 2 limited only, 1 all, 0 none", async () => {
      const users = { limited: { quota_size: 1 << 30 }, unlimited: {} } as const;
      for (const [username, limits] of Object.entries(users)) {
        const created = await api(0, 'POST', '/api/v1/user', {
          username,
          password: USER_PASSWORD,
          home_dir: join(homes, username),
          permissions: { '/': ['*'] },
          ...limits,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      const sizes = [1000, 20_000, 300_000];
      for (const [i, size] of sizes.entries())
        await writeFile(join(work, `f${i}.bin`), randomBytes(size));
      // Each file goes through the server whose track_quota is 2, 1 and 0 (in that order).
      for (const username of Object.keys(users)) {
        for (let i = 0; i < 3; i++) {
          const put = await sftp(i, { username, password: USER_PASSWORD }, [`put f${i}.bin`]);
          assert.equal(put.code, 0, put.stderr);
        }
      }
      const usage = async (username: string) => {
        const { body } = await api(2, 'GET', `/api/v1/user?username=${username}`);
        return (
          body as unknown as Array<{ used_quota_size: number; used_quota_files: number }>
        )[0]!;
      };
      assert.deepEqual(await usage('limited'), {
        ...(await usage('limited')),
        used_quota_size: sizes[0]! + sizes[1]!,
        used_quota_files: 2,
      });
      assert.deepEqual(await usage('unlimited'), {
        ...(await usage('unlimited')),
        used_quota_size: sizes[1]!,
        used_quota_files: 1,
      });
    });

    it('refuses to start a server older than the database schema, naming both versions', async () => {
      const database = await db.createDatabase('newer');
      await fixture.exec(db.url(database), [
        'CREATE TABLE schema_version (version VARCHAR(64) PRIMARY KEY, applied_at BIGINT NOT NULL)',
        "INSERT INTO schema_version VALUES ('20991231', 0)",
      ]);
      await assert.rejects(
        startServer({
          KUBESFTP_DATA_PROVIDER__DRIVER: fixture.driver,
          KUBESFTP_DATA_PROVIDER__CONNECTION_STRING: db.url(database),
        }),
        /exited with 1 before listening[\s\S]*schema is at 20991231, newer than this kubesftp knows \(\d{8}(_\d+)?\); upgrade kubesftp/,
      );
    });
  });
}
