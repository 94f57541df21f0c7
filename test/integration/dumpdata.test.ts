/**
 * A SQLite install moves to PostgreSQL in two commands of the real CLI: `kubesftp dumpdata`
 * with the old config, `kubesftp loaddata` with the new one. Accounts, password hashes, keys
 * and usage arrive unchanged; loading again skips or replaces; the memory driver starts from
 * the same file, and a real server logs the users in with the OpenSSH sftp from it and from
 * the same dump loaded into the kv driver.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyPassword } from '../../server/src/auth/passwords.js';
import {
  createDataProvider,
  type DataProviderConfig,
} from '../../server/src/dataprovider/index.js';
import { newUser } from '../../server/src/dataprovider/test-support.js';
import type { User } from '../../server/src/dataprovider/types.js';
import { startPostgres, type PostgresEnv } from '../env/testbed.js';
import { makeKeyPair, repoRoot, sftpBatch, sha256File, startServer } from './harness.js';

const cli = join(repoRoot, 'dist/server/src/cli/main.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function kubesftp(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        done({
          code: err === null ? 0 : Number((err as { code?: number }).code ?? 1),
          stdout,
          stderr,
        }),
    );
  });
}

/** What must survive the move: everything but the target's own id and quota-scan time. */
function portable(user: User): Partial<User> {
  const copy: Partial<User> = { ...user };
  delete copy.id;
  delete copy.last_quota_update;
  return copy;
}

describe(
  'dumpdata and loaddata move accounts from SQLite to PostgreSQL',
  { timeout: 120_000 },
  () => {
    let work: string;
    let postgres: PostgresEnv;
    let pgEnv: Record<string, string>;
    let pgSettings: DataProviderConfig;
    const sqliteDir = (): string => join(work, 'sqlite');

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'kubesftp-dump-'));
      postgres = await startPostgres();
      const database = await postgres.createDatabase('moved');
      pgEnv = {
        KUBESFTP_DATA_PROVIDER__DRIVER: 'postgresql',
        KUBESFTP_DATA_PROVIDER__HOST: postgres.host,
        KUBESFTP_DATA_PROVIDER__PORT: String(postgres.port),
        KUBESFTP_DATA_PROVIDER__NAME: database,
        KUBESFTP_DATA_PROVIDER__USERNAME: postgres.user,
        KUBESFTP_DATA_PROVIDER__PASSWORD: postgres.password,
      };
      pgSettings = {
        driver: 'postgresql',
        name: database,
        configDir: work,
        network: {
          host: postgres.host,
          port: postgres.port,
          username: postgres.user,
          password: postgres.password,
        },
      };
      // The old install: a SQLite database with accounts of every kind.
      await mkdir(sqliteDir(), { recursive: true });
      const old = await createDataProvider({
        driver: 'sqlite',
        name: 'kubesftp.db',
        configDir: sqliteDir(),
      });
      await old.initialize();
      const key = await makeKeyPair(work, 'ed25519');
      await old.addUser(
        newUser({ username: 'alice', password: 'alice secret', home_dir: '/srv/alice' }),
      );
      await old.addUser(
        newUser({
          username: 'bob',
          public_keys: [key.publicKey],
          home_dir: '/srv/bob',
          quota_size: 1 << 20,
          permissions: { '/': ['list', 'download'], '/in': ['*'] },
          filters: { allowed_ip: ['192.0.2.0/24'], denied_ip: [] },
        }),
      );
      await old.updateQuota('bob', { sizeDelta: 4096, filesDelta: 3, reset: true });
      await old.updateLastLogin('bob', 1_700_000_000_000);
      await old.addAdmin({ username: 'ops', password: 'ops secret', description: 'on call' });
      await old.close();
    });

    after(async () => {
      await postgres?.stop();
      await rm(work, { recursive: true, force: true });
    });

    it('copies every user and admin with their hashes and usage, in two commands', async () => {
      const dumpFile = join(work, 'accounts.json');
      const dumped = await kubesftp([
        'dumpdata',
        '--config-dir',
        sqliteDir(),
        '--output',
        dumpFile,
      ]);
      assert.equal(dumped.code, 0, dumped.stderr);
      assert.match(dumped.stdout, /dumped 2 users and 1 admins/);
      assert.equal((await stat(dumpFile)).mode & 0o777, 0o600, 'the dump holds hashes');

      const loaded = await kubesftp(['loaddata', '--config-dir', work, '--input', dumpFile], pgEnv);
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /users 2 added, 0 replaced, 0 skipped; admins 1 added/);

      const source = await createDataProvider({
        driver: 'sqlite',
        name: 'kubesftp.db',
        configDir: sqliteDir(),
      });
      const target = await createDataProvider(pgSettings);
      await target.initialize();
      try {
        const list = { offset: 0, limit: 10, order: 'ASC' } as const;
        assert.deepEqual(
          (await target.listUsers(list)).map(portable),
          (await source.listUsers(list)).map(portable),
        );
        const alice = await target.getUserByUsername('alice');
        assert.equal(await verifyPassword('alice secret', alice!.password), true);
        const ops = await target.getAdminByUsername('ops');
        assert.equal(ops?.description, 'on call');
        assert.equal(await verifyPassword('ops secret', ops.password), true);
      } finally {
        await source.close();
        await target.close();
      }
    });

    it('skips existing accounts by default and replaces them when asked', async () => {
      const dumpFile = join(work, 'changed.json');
      const dumped = await kubesftp([
        'dumpdata',
        '--config-dir',
        sqliteDir(),
        '--output',
        dumpFile,
      ]);
      assert.equal(dumped.code, 0, dumped.stderr);
      const dump = JSON.parse(await readFile(dumpFile, 'utf8')) as { users: User[] };
      dump.users[0]!.home_dir = '/srv/elsewhere';
      await writeFile(dumpFile, JSON.stringify(dump));

      const skipped = await kubesftp(
        ['loaddata', '--config-dir', work, '--input', dumpFile],
        pgEnv,
      );
      assert.match(skipped.stdout, /users 0 added, 0 replaced, 2 skipped/);
      const replaced = await kubesftp(
        ['loaddata', '--config-dir', work, '--input', dumpFile, '--mode', 'replace'],
        pgEnv,
      );
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.match(replaced.stdout, /users 0 added, 2 replaced, 0 skipped/);
      const target = await createDataProvider(pgSettings);
      assert.equal((await target.getUserByUsername('alice'))?.home_dir, '/srv/elsewhere');
      await target.close();
    });

    it('never overwrites a file and names a bad dump', async () => {
      const existing = join(work, 'accounts.json');
      const again = await kubesftp(['dumpdata', '--config-dir', sqliteDir(), '--output', existing]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^kubesftp dumpdata: .*EEXIST/);
      const bad = join(work, 'bad.json');
      await writeFile(bad, JSON.stringify({ version: 1, users: [{ username: 'x' }], admins: [] }));
      const refused = await kubesftp(['loaddata', '--config-dir', work, '--input', bad], pgEnv);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /bad\.json: users\[0\]: /);
    });

    it('lets the memory driver start from the dump file', async () => {
      const memory = await createDataProvider({
        driver: 'memory',
        name: 'accounts.json',
        configDir: work,
      });
      await memory.initialize();
      assert.deepEqual(
        (await memory.listUsers({ offset: 0, limit: 10, order: 'ASC' })).map((u) => u.username),
        ['alice', 'bob'],
      );
      assert.equal((await memory.getUserByUsername('bob'))?.used_quota_size, 4096);
      await memory.close();
      const missing = await createDataProvider({
        driver: 'memory',
        name: 'missing.json',
        configDir: work,
      });
      await assert.rejects(
        missing.initialize(),
        /data_provider\.name: the memory driver cannot load the dump/,
      );
    });

    it('serves real logins from the dump on the memory driver, and from it loaded into kv', async () => {
      // The dump of the first test, with homes this test may write, open to loopback.
      const dump = JSON.parse(await readFile(join(work, 'accounts.json'), 'utf8')) as {
        users: User[];
      };
      for (const user of dump.users) {
        user.home_dir = join(work, 'homes', user.username);
        user.filters.allowed_ip = [];
        await mkdir(join(user.home_dir, 'in'), { recursive: true });
      }
      const dumpFile = join(work, 'homes.json');
      await writeFile(dumpFile, JSON.stringify(dump), { mode: 0o600 });
      const kvEnv = {
        KUBESFTP_DATA_PROVIDER__DRIVER: 'kv',
        KUBESFTP_DATA_PROVIDER__NAME: 'kv.mdb',
      };
      const loaded = await kubesftp(['loaddata', '--config-dir', work, '--input', dumpFile], kvEnv);
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /users 2 added, 0 replaced, 0 skipped; admins 1 added/);

      const payload = join(work, 'payload.bin');
      await writeFile(payload, randomBytes(100_000));
      const servers = [
        { KUBESFTP_DATA_PROVIDER__DRIVER: 'memory', KUBESFTP_DATA_PROVIDER__NAME: dumpFile },
        { ...kvEnv, KUBESFTP_DATA_PROVIDER__NAME: join(work, 'kv.mdb') },
      ];
      for (const env of servers) {
        const server = await startServer(env);
        try {
          const driver = env.KUBESFTP_DATA_PROVIDER__DRIVER;
          const alice = await sftpBatch(
            server.sftpPort,
            { username: 'alice', password: 'alice secret' },
            [`put ${payload} ${driver}.bin`],
            { cwd: work },
          );
          assert.equal(alice.code, 0, alice.stderr);
          assert.equal(
            await sha256File(join(work, 'homes', 'alice', `${driver}.bin`)),
            await sha256File(payload),
          );
          const bob = await sftpBatch(
            server.sftpPort,
            { username: 'bob', keyPath: join(work, 'id_ed25519') },
            ['ls /', `-put ${payload} /refused.bin`],
            { cwd: work },
          );
          assert.equal(bob.code, 0, bob.stderr);
          assert.match(bob.stdout, /in/);
          assert.match(bob.stderr, /Permission denied/, 'bob may only write under /in');
          const denied = await sftpBatch(
            server.sftpPort,
            { username: 'alice', password: 'wrong' },
            ['ls'],
            { cwd: work },
          );
          assert.notEqual(denied.code, 0);
        } finally {
          await server.stop();
        }
      }
    });
  },
);
