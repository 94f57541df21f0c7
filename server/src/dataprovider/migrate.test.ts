import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ErrorCode, isKubesftpError, type ErrorCode as Code } from '../errors.js';
import { createDataProvider } from './index.js';
import { compareVersions, findMigrationsDir, loadMigrations } from './migrate.js';
import { SqliteProvider } from './sqlite.js';
import { newUser } from './test-support.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubesftp-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isKubesftpError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function openSqlite(
  extra: Record<string, unknown> = {},
): Promise<Awaited<ReturnType<typeof createDataProvider>>> {
  return createDataProvider({ driver: 'sqlite', name: 'kubesftp.db', configDir: dir, ...extra });
}

describe('migration runner', () => {
  it('orders versions by date, then by numeric step', () => {
    const versions = ['20200101_10', '20200101', '20191231', '20200101_2'];
    assert.deepEqual(versions.sort(compareVersions), [
      '20191231',
      '20200101',
      '20200101_2',
      '20200101_10',
    ]);
  });

  it('applies a directory of migrations in order, once, with placeholders filled', async () => {
    const sqlDir = join(dir, 'sql');
    const db = join(dir, 'custom.db');
    const migrations = {
      '20191231.sql': 'CREATE TABLE log (step TEXT);',
      '20200101.sql': "INSERT INTO log VALUES ('20200101');",
      '20200101_2.sql': "INSERT INTO log VALUES ('20200101_2');",
      '20200101_10.sql':
        'INSERT INTO log VALUES (\'20200101_10\'); CREATE TABLE "{{users_table}}" (x);',
    };
    rmSync(sqlDir, { recursive: true, force: true });
    mkdirSync(sqlDir);
    for (const [name, sql] of Object.entries(migrations)) writeFileSync(join(sqlDir, name), sql);
    for (let start = 0; start < 2; start++) {
      const provider = await openSqlite({
        name: db,
        migrationsDir: sqlDir,
        usersTable: 'accounts',
      });
      await provider.initialize();
      await provider.close();
    }
    const log = query<{ step: string }>(db, 'SELECT step FROM log ORDER BY rowid').map(
      (r) => r.step,
    );
    assert.deepEqual(log, ['20200101', '20200101_2', '20200101_10']);
    const tables = query<{ name: string }>(
      db,
      "SELECT name FROM sqlite_master WHERE name = 'accounts'",
    );
    assert.equal(tables.length, 1);
  });

  it('refuses misnamed migration files and unknown placeholders', async () => {
    writeFileSync(join(dir, '2020-01-01.sql'), 'SELECT 1;');
    await rejectsWith(loadMigrations(dir, {}), ErrorCode.FAILURE);
    rmSync(join(dir, '2020-01-01.sql'));
    writeFileSync(join(dir, '20200101.sql'), 'CREATE TABLE "{{nope}}" (x);');
    await rejectsWith(loadMigrations(dir, { users_table: 'users' }), ErrorCode.FAILURE);
  });

  it('finds the shipped sqlite migrations', async () => {
    const shipped = await loadMigrations(findMigrationsDir('sqlite'), { users_table: 'users' });
    assert.ok(shipped.length >= 1);
    assert.equal(shipped[0]?.version, '20261128');
  });
});

describe('sqlite provider schema', () => {
  it('is idempotent across restarts and concurrent starts, in WAL mode', async () => {
    const first = await openSqlite();
    const second = await openSqlite();
    await Promise.all([first.initialize(), second.initialize()]);
    await first.close();
    await second.close();
    const again = await openSqlite();
    await again.initialize();
    await again.addUser(
      newUser({
        username: 'u',
        password: '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/',
        home_dir: '/srv/u',
      }),
    );
    await again.close();
    const file = join(dir, 'kubesftp.db');
    const shipped = await loadMigrations(findMigrationsDir('sqlite'), { users_table: 'users' });
    assert.deepEqual(
      query<{ version: string }>(file, 'SELECT version FROM schema_version ORDER BY rowid').map(
        (r) => r.version,
      ),
      shipped.map((m) => m.version),
    );
    assert.deepEqual(query(file, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
    assert.equal(query(file, 'SELECT * FROM users').length, 1);
  });

  it('keeps administrators of the first schema active when it adds admin status', async () => {
    const first = join(dir, 'first-schema');
    mkdirSync(first);
    const shippedDir = findMigrationsDir('sqlite');
    writeFileSync(join(first, '20261128.sql'), readFileSync(join(shippedDir, '20261128.sql')));
    const old = await openSqlite({ migrationsDir: first });
    await old.initialize();
    const db = new Database(join(dir, 'kubesftp.db'));
    db.prepare("INSERT INTO admins (username, password) VALUES ('veteran', '$1$x$y')").run();
    db.close();
    await old.close();
    const upgraded = await openSqlite();
    await upgraded.initialize();
    const veteran = await upgraded.getAdminByUsername('veteran');
    await upgraded.close();
    assert.deepEqual(veteran, {
      id: 1,
      username: 'veteran',
      password: '$1$x$y',
      status: 1,
      description: '',
    });
  });

  it('refuses to start on a database migrated by a newer kubesftp', async () => {
    const provider = await openSqlite();
    await provider.initialize();
    await provider.close();
    const db = new Database(join(dir, 'kubesftp.db'));
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(
      '20991231',
      Date.now(),
    );
    db.close();
    const older = await openSqlite();
    await rejectsWith(older.initialize(), ErrorCode.PROVIDER_UNAVAILABLE);
    await older.close();
  });

  it('keeps users in the configured users table', async () => {
    const provider = await openSqlite({ usersTable: 'sftp_accounts' });
    await provider.initialize();
    await provider.close();
    const names = query<{ name: string }>(
      join(dir, 'kubesftp.db'),
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    );
    assert.ok(names.some((t) => t.name === 'sftp_accounts'));
    assert.ok(!names.some((t) => t.name === 'users'));
    await assert.rejects(openSqlite({ usersTable: 'users"; DROP TABLE admins; --' }), (err) =>
      isKubesftpError(err, ErrorCode.CONFIG_INVALID),
    );
  });
});

describe('sqlite database file', () => {
  it('is created with its -wal and -shm files as 0600, even under a umask of 0', async () => {
    const previous = process.umask(0);
    try {
      const provider = await openSqlite();
      await provider.initialize();
      await provider.addAdmin({ username: 'root', password: 'root pass' });
      for (const suffix of ['', '-wal', '-shm']) {
        const file = join(dir, `kubesftp.db${suffix}`);
        assert.equal(statSync(file).mode & 0o777, 0o600, file);
      }
      await provider.close();
    } finally {
      process.umask(previous);
    }
  });

  it('refuses a database file others can access or its group can write, and names the fix', async () => {
    const file = join(dir, 'kubesftp.db');
    const first = await openSqlite();
    await first.initialize();
    await first.close();
    for (const [target, mode] of [
      [file, 0o644],
      [file, 0o660],
      [`${file}-wal`, 0o606],
    ] as const) {
      if (target !== file) writeFileSync(target, '', { mode: 0o600 });
      chmodSync(target, mode);
      await assert.rejects(openSqlite(), (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID), String(err));
        assert.ok(err.message.startsWith(`data_provider.name: the sqlite database ${target} `));
        assert.ok(err.message.includes(`chmod 600 ${target}`), err.message);
        return true;
      });
      chmodSync(target, 0o600);
    }
    rmSync(`${file}-wal`);
    chmodSync(file, 0o640);
    const groupReadable = await openSqlite();
    await groupReadable.initialize();
    await groupReadable.close();
  });

  it('opens ":memory:" as SQLite does, in memory, without a file of that name', async () => {
    const previous = process.cwd();
    process.chdir(dir);
    try {
      const provider = new SqliteProvider({ path: ':memory:', usersTable: 'users' });
      await provider.initialize();
      await provider.addAdmin({ username: 'root', password: '$1$x$y' });
      await provider.close();
      assert.equal(existsSync(join(dir, ':memory:')), false);
    } finally {
      process.chdir(previous);
    }
  });

  it('names the file when it cannot be created', async () => {
    const missing = join(dir, 'no-such-dir', 'kubesftp.db');
    await assert.rejects(openSqlite({ name: missing }), (err) => {
      assert.ok(isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE), String(err));
      assert.ok(
        err.message.startsWith(`data_provider.name: cannot open the sqlite database ${missing}: `),
      );
      return true;
    });
  });
});

describe('createDataProvider', () => {
  it('resolves a relative sqlite name against the config dir and accepts an absolute one', async () => {
    const relative = await openSqlite({ name: 'nested.db' });
    await relative.initialize();
    await relative.close();
    assert.ok(existsSync(join(dir, 'nested.db')));
    const absolutePath = join(dir, 'absolute.db');
    const absolute = await createDataProvider({
      driver: 'sqlite',
      name: absolutePath,
      configDir: '/nonexistent',
    });
    await absolute.initialize();
    await absolute.close();
    assert.ok(existsSync(absolutePath));
  });

  it('names the key for an unknown driver and a file driver without a file', async () => {
    await assert.rejects(
      createDataProvider({ driver: 'oracle', name: 'x', configDir: dir }),
      (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID));
        assert.match(err.message, /^data_provider\.driver: "oracle" is not a known driver/);
        return true;
      },
    );
    for (const driver of ['sqlite', 'kv', 'bolt']) {
      await assert.rejects(createDataProvider({ driver, name: '', configDir: dir }), (err) => {
        assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID));
        assert.match(
          err.message,
          /^data_provider\.name: the (sqlite|kv) database file is required/,
        );
        return true;
      });
    }
  });
});
