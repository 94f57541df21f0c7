/**
 * One behaviour contract, run against every driver: memory, sqlite and kv on a temp file, and
 * PostgreSQL and MariaDB servers started for this file (a fresh database per test). Drivers
 * whose store can be shared also run it from two provider instances at once, as two server
 * processes would.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { verifyPassword } from '../auth/passwords.js';
import { ErrorCode, isKubesftpError, type ErrorCode as Code } from '../errors.js';
import {
  startMariadb,
  startPostgres,
  type MariadbEnv,
  type PostgresEnv,
} from '../../../test/env/testbed.js';
import { clusterContract } from './contract-cluster.js';
import { homeRemovalContract } from './contract-home-removals.js';
import { openDriver, type DataProviderConfig } from './drivers.js';
import { createDataProvider } from './index.js';
import { newUser as baseUser } from './test-support.js';
import type { DataProvider, DefenderHost, NewUser } from './types.js';

/** md5crypt of "password" made by `openssl passwd -1 -salt saltsalt password`. */
const MD5CRYPT_PASSWORD = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

const keyDir = mkdtempSync(join(tmpdir(), 'kubesftp-contract-keys-'));
let publicKey = '';

/** The contract's account: limits and filters set, so round trips cover every field. */
function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return baseUser({
    password: MD5CRYPT_PASSWORD,
    uid: 1000,
    gid: 1000,
    max_sessions: 2,
    quota_size: 1 << 20,
    quota_files: 100,
    permissions: { '/': ['list', 'download'], '/uploads': ['*'] },
    download_bandwidth: 512,
    filters: { allowed_ip: ['192.0.2.0/24', '2001:db8::/32'], denied_ip: [] },
    managed_by: '',
    ...overrides,
  });
}

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(isKubesftpError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

interface DriverFixture {
  name: string;
  /** Settings for a fresh, empty store; every call to createDataProvider with them shares it. */
  settings(dir: string): Promise<DataProviderConfig>;
  /** Two instances share the store (every driver but memory). */
  shared: boolean;
}

let postgres: PostgresEnv | undefined;
let mariadb: MariadbEnv | undefined;

const drivers: DriverFixture[] = [
  {
    name: 'memory',
    shared: false,
    settings: async (dir) => Promise.resolve({ driver: 'memory', name: '', configDir: dir }),
  },
  {
    name: 'sqlite',
    shared: true,
    settings: async (dir) =>
      Promise.resolve({ driver: 'sqlite', name: 'kubesftp.db', configDir: dir }),
  },
  {
    name: 'kv',
    shared: true,
    settings: async (dir) =>
      Promise.resolve({ driver: 'kv', name: 'kubesftp.mdb', configDir: dir }),
  },
  {
    name: 'postgresql',
    shared: true,
    settings: async (dir) => {
      postgres ??= await startPostgres();
      const { host, port, user, password } = postgres;
      return {
        driver: 'postgresql',
        name: await postgres.createDatabase('contract'),
        configDir: dir,
        network: { host, port, username: user, password },
      };
    },
  },
  {
    name: 'mysql',
    shared: true,
    settings: async (dir) => {
      mariadb ??= await startMariadb();
      const { host, port, user, password } = mariadb;
      return {
        driver: 'mysql',
        name: await mariadb.createDatabase('contract'),
        configDir: dir,
        network: { host, port, username: user, password },
      };
    },
  },
];

after(async () => {
  await postgres?.stop();
  await mariadb?.stop();
});

before(() => {
  const file = join(keyDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'contract', '-f', file]);
  publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
});
after(() => rmSync(keyDir, { recursive: true, force: true }));

for (const driver of drivers) {
  describe(`data provider contract: ${driver.name}`, () => {
    let dir = '';
    let settings: DataProviderConfig;
    let provider: DataProvider;
    const opened: DataProvider[] = [];

    /** Another provider on the same store, as a second server process would open it. */
    const openAnother = async (): Promise<DataProvider> => {
      const another = await createDataProvider(settings);
      opened.push(another);
      await another.initialize();
      return another;
    };

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), `kubesftp-${driver.name}-`));
      settings = await driver.settings(dir);
      provider = await openAnother();
      await provider.checkAvailability();
    });
    afterEach(async () => {
      for (const each of opened.splice(0)) await each.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates, reads, updates and deletes users', async () => {
      assert.equal(provider.driver, driver.name);
      const added = await provider.addUser(
        newUser({ public_keys: [publicKey], managed_by: 'tenants/alice' }),
      );
      assert.ok(added.id > 0);
      assert.deepEqual(
        { ...added, id: 0 },
        {
          ...newUser({ public_keys: [publicKey], managed_by: 'tenants/alice' }),
          id: 0,
          used_quota_size: 0,
          used_quota_files: 0,
          last_quota_update: 0,
          last_login: 0,
        },
      );
      assert.deepEqual(await provider.getUserById(added.id), added);
      assert.deepEqual(await provider.getUserByUsername('alice'), added);
      assert.equal(await provider.getUserByUsername('bob'), undefined);
      assert.equal(await provider.getUserById(added.id + 1000), undefined);

      await provider.updateQuota('alice', { sizeDelta: 10, filesDelta: 1, reset: false });
      const changed = newUser({ home_dir: '/srv/other', max_sessions: 5, password: '', status: 0 });
      const updated = await provider.updateUser(added.id, changed);
      assert.equal(updated.home_dir, '/srv/other');
      assert.equal(updated.status, 0);
      assert.equal(updated.password, MD5CRYPT_PASSWORD, 'an empty password keeps the stored hash');
      assert.equal(updated.used_quota_size, 10, 'usage counters survive an update');
      assert.deepEqual(updated.public_keys, []);
      assert.equal(updated.managed_by, '', 'the marker is written like any property');
      assert.deepEqual(await provider.getUserById(added.id), updated);

      await provider.deleteUser(added.id);
      assert.equal(await provider.getUserById(added.id), undefined);
      await rejectsWith(provider.deleteUser(added.id), ErrorCode.NOT_FOUND);
      await rejectsWith(provider.updateUser(added.id, newUser()), ErrorCode.NOT_FOUND);
    });

    it('returns copies that callers cannot use to change stored users', async () => {
      const added = await provider.addUser(newUser());
      added.permissions['/']!.push('delete');
      const fetched = await provider.getUserById(added.id);
      fetched!.filters.denied_ip.push('10.0.0.0/8');
      assert.deepEqual((await provider.getUserById(added.id))!.permissions['/'], [
        'list',
        'download',
      ]);
      assert.deepEqual((await provider.getUserById(added.id))!.filters.denied_ip, []);
    });

    it('refuses a duplicate username with CONFLICT', async () => {
      await provider.addUser(newUser());
      await rejectsWith(provider.addUser(newUser({ home_dir: '/srv/x' })), ErrorCode.CONFLICT);
      const bob = await provider.addUser(newUser({ username: 'bob' }));
      await rejectsWith(
        provider.updateUser(bob.id, newUser({ username: 'alice' })),
        ErrorCode.CONFLICT,
      );
      assert.equal((await provider.getUserById(bob.id))!.username, 'bob');
    });

    it('lists users in username order with offset, limit and a username filter', async () => {
      const names = ['delta', 'alpha', 'echo', 'charlie', 'bravo'];
      for (const username of names) await provider.addUser(newUser({ username }));
      const sorted = [...names].sort();
      const list = async (
        q: Partial<Parameters<DataProvider['listUsers']>[0]>,
      ): Promise<string[]> =>
        (await provider.listUsers({ offset: 0, limit: 100, order: 'ASC', ...q })).map(
          (u) => u.username,
        );
      assert.deepEqual(await list({}), sorted);
      assert.deepEqual(await list({ order: 'DESC' }), [...sorted].reverse());
      assert.deepEqual(await list({ offset: 1, limit: 2 }), sorted.slice(1, 3));
      assert.deepEqual(
        await list({ offset: 1, limit: 2, order: 'DESC' }),
        [...sorted].reverse().slice(1, 3),
      );
      assert.deepEqual(await list({ offset: 10 }), []);
      assert.deepEqual(await list({ username: 'charlie' }), ['charlie']);
      assert.deepEqual(await list({ username: 'zulu' }), []);
      await rejectsWith(
        provider.listUsers({ offset: -1, limit: 1, order: 'ASC' }),
        ErrorCode.INVALID_ARGUMENT,
      );
      await rejectsWith(
        provider.listUsers({ offset: 0, limit: 0, order: 'ASC' }),
        ErrorCode.INVALID_ARGUMENT,
      );
      const badOrder = { offset: 0, limit: 1, order: 'SIDEWAYS' } as unknown as Parameters<
        DataProvider['listUsers']
      >[0];
      await rejectsWith(provider.listUsers(badOrder), ErrorCode.INVALID_ARGUMENT);
    });

    it('adds quota deltas atomically and resets them after a scan', async () => {
      await provider.addUser(newUser());
      const before = Date.now();
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) =>
          provider.updateQuota('alice', { sizeDelta: i + 1, filesDelta: 1, reset: false }),
        ),
      );
      await provider.updateQuota('alice', { sizeDelta: -20, filesDelta: -1, reset: false });
      let user = (await provider.getUserByUsername('alice'))!;
      assert.equal(user.used_quota_size, (40 * 41) / 2 - 20);
      assert.equal(user.used_quota_files, 39);
      assert.ok(user.last_quota_update >= before);
      await provider.updateQuota('alice', { sizeDelta: 7, filesDelta: 3, reset: true });
      user = (await provider.getUserByUsername('alice'))!;
      assert.equal(user.used_quota_size, 7);
      assert.equal(user.used_quota_files, 3);
      await rejectsWith(
        provider.updateQuota('nobody', { sizeDelta: 1, filesDelta: 1, reset: false }),
        ErrorCode.NOT_FOUND,
      );
      await rejectsWith(
        provider.updateQuota('alice', { sizeDelta: 0.5, filesDelta: 0, reset: false }),
        ErrorCode.INVALID_ARGUMENT,
      );
    });

    it('records the last login', async () => {
      await provider.addUser(newUser());
      await provider.updateLastLogin('alice', 1_700_000_000_123);
      // Writing the value a row already holds still finds the row (MySQL counts matched rows).
      await provider.updateLastLogin('alice', 1_700_000_000_123);
      assert.equal((await provider.getUserByUsername('alice'))!.last_login, 1_700_000_000_123);
      const alice = (await provider.getUserByUsername('alice'))!;
      await provider.updateUser(alice.id, newUser());
      await provider.updateUser(alice.id, newUser());
      await rejectsWith(provider.updateLastLogin('nobody', 1), ErrorCode.NOT_FOUND);
    });

    it('hashes a clear-text password with argon2id and keeps a known hash as given', async () => {
      const clear = await provider.addUser(newUser({ username: 'clear', password: 'open sesame' }));
      assert.match(clear.password, /^\$argon2id\$/);
      assert.equal(await verifyPassword('open sesame', clear.password), true);
      assert.equal(await verifyPassword('open sesame!', clear.password), false);
      const known = await provider.addUser(newUser({ username: 'known' }));
      assert.equal(known.password, MD5CRYPT_PASSWORD);
      assert.equal(await verifyPassword('password', known.password), true);
    });

    it('refuses a clear-text password as a bare driver: hashing happens before it', async () => {
      const bare = await openDriver(settings);
      opened.push(bare);
      await bare.initialize();
      await rejectsWith(
        bare.addUser(newUser({ username: 'clear', password: 'open sesame' })),
        ErrorCode.INVALID_ARGUMENT,
      );
      await rejectsWith(
        bare.addAdmin({ username: 'root', password: 'root pass' }),
        ErrorCode.INVALID_ARGUMENT,
      );
      const hashed = await bare.addUser(newUser({ username: 'hashed' }));
      await rejectsWith(
        bare.updateUser(hashed.id, newUser({ username: 'hashed', password: 'clear again' })),
        ErrorCode.INVALID_ARGUMENT,
      );
      assert.equal((await bare.getUserById(hashed.id))?.password, MD5CRYPT_PASSWORD);
    });

    it('keeps administrators', async () => {
      assert.equal(await provider.countAdmins(), 0);
      const admin = await provider.addAdmin({ username: 'root', password: 'admin pass' });
      assert.ok(admin.id > 0);
      assert.match(admin.password, /^\$argon2id\$/);
      assert.deepEqual(await provider.getAdminByUsername('root'), admin);
      assert.equal(await provider.getAdminByUsername('nobody'), undefined);
      assert.equal(await provider.countAdmins(), 1);
      await rejectsWith(
        provider.addAdmin({ username: 'root', password: '$1$x$y' }),
        ErrorCode.CONFLICT,
      );
      await rejectsWith(
        provider.addAdmin({ username: 'bad name', password: 'x' }),
        ErrorCode.INVALID_ARGUMENT,
      );
      await rejectsWith(
        provider.addAdmin({ username: 'empty', password: '' }),
        ErrorCode.INVALID_ARGUMENT,
      );
      assert.equal(await provider.countAdmins(), 1);
    });

    it('lists, updates and deletes administrators', async () => {
      const root = await provider.addAdmin({ username: 'root', password: 'root pass' });
      assert.equal(root.status, 1, 'active by default');
      assert.equal(root.description, '');
      const ops = await provider.addAdmin({
        username: 'ops',
        password: 'ops pass',
        status: 0,
        description: 'on call',
      });
      const list = async (order: 'ASC' | 'DESC', offset = 0, limit = 10): Promise<string[]> =>
        (await provider.listAdmins({ offset, limit, order })).map((a) => a.username);
      assert.deepEqual(await list('ASC'), ['ops', 'root']);
      assert.deepEqual(await list('DESC'), ['root', 'ops']);
      assert.deepEqual(await list('ASC', 1, 1), ['root']);
      assert.deepEqual((await provider.listAdmins({ offset: 0, limit: 1, order: 'ASC' }))[0], ops);

      const renamed = await provider.updateAdmin({
        username: 'ops',
        password: 'new ops pass',
        status: 1,
      });
      assert.equal(renamed.id, ops.id);
      assert.equal(renamed.status, 1);
      assert.equal(renamed.description, 'on call', 'an omitted property is kept');
      assert.notEqual(renamed.password, ops.password);
      assert.equal(await verifyPassword('new ops pass', renamed.password), true);
      const kept = await provider.updateAdmin({ username: 'ops', password: '', description: '' });
      assert.equal(kept.password, renamed.password, 'an empty password keeps the stored hash');
      assert.equal(kept.description, '');
      assert.deepEqual(await provider.getAdminByUsername('ops'), kept);
      await rejectsWith(
        provider.updateAdmin({ username: 'ops', password: '', status: 2 as 0 }),
        ErrorCode.INVALID_ARGUMENT,
      );
      await rejectsWith(
        provider.updateAdmin({ username: 'nobody', password: 'x' }),
        ErrorCode.NOT_FOUND,
      );

      await provider.deleteAdmin('ops');
      assert.equal(await provider.getAdminByUsername('ops'), undefined);
      await rejectsWith(provider.deleteAdmin('ops'), ErrorCode.NOT_FOUND);
      assert.deepEqual(await list('ASC'), ['root']);
    });

    it('keeps at least one active administrator', async () => {
      await provider.addAdmin({ username: 'root', password: 'root pass' });
      await rejectsWith(provider.deleteAdmin('root'), ErrorCode.CONFLICT);
      await rejectsWith(
        provider.updateAdmin({ username: 'root', password: '', status: 0 }),
        ErrorCode.CONFLICT,
      );
      assert.equal((await provider.getAdminByUsername('root'))?.status, 1);

      await provider.addAdmin({ username: 'ops', password: 'ops pass' });
      await provider.updateAdmin({ username: 'root', password: '', status: 0 });
      await rejectsWith(provider.deleteAdmin('ops'), ErrorCode.CONFLICT);
      await rejectsWith(
        provider.updateAdmin({ username: 'ops', password: '', status: 0 }),
        ErrorCode.CONFLICT,
      );
      await provider.deleteAdmin('root');
      assert.equal(await provider.countAdmins(), 1);
      assert.equal((await provider.getAdminByUsername('ops'))?.status, 1);
    });

    it('creates a named secret once and returns it to every caller', async () => {
      let calls = 0;
      const values = await Promise.all(
        Array.from({ length: 8 }, async (_, i) =>
          provider.getOrCreateSecret('jwt', () => {
            calls++;
            return `value-${i}`;
          }),
        ),
      );
      assert.equal(new Set(values).size, 1);
      assert.ok(calls >= 1);
      const again = await provider.getOrCreateSecret('jwt', () =>
        assert.fail('must not create twice'),
      );
      assert.equal(again, values[0]);
      assert.equal(await provider.getOrCreateSecret('other', () => 'o'), 'o');
    });

    it('keeps defender records: read-modify-write, list, delete, expiry', async () => {
      const host = (ip: string, at: number, extra: Partial<DefenderHost> = {}): DefenderHost => ({
        ip,
        events: [{ at, score: 2 }],
        banUntil: 0,
        banMs: 0,
        updatedAt: at,
        expiresAt: at + 1000,
        ...extra,
      });
      assert.equal(await provider.getDefenderHost('192.0.2.1'), undefined);
      const seen: Array<DefenderHost | undefined> = [];
      const stored = await provider.updateDefenderHost('192.0.2.1', (current) => {
        seen.push(current);
        return host('192.0.2.1', 100);
      });
      assert.deepEqual(stored, host('192.0.2.1', 100));
      await provider.updateDefenderHost('192.0.2.1', (current) => {
        seen.push(current);
        return { ...current!, events: [...current!.events, { at: 150, score: 1 }] };
      });
      assert.deepEqual(seen, [undefined, host('192.0.2.1', 100)]);
      const fetched = await provider.getDefenderHost('192.0.2.1');
      assert.deepEqual(fetched?.events, [
        { at: 100, score: 2 },
        { at: 150, score: 1 },
      ]);
      assert.ok(fetched);
      fetched.events.push({ at: 1, score: 100 });
      assert.equal((await provider.getDefenderHost('192.0.2.1'))?.events.length, 2, 'a copy');

      await provider.updateDefenderHost('2001:db8::1', () => host('2001:db8::1', 200));
      await provider.updateDefenderHost('192.0.2.9', () => host('192.0.2.9', 50));
      const listed = await provider.listDefenderHosts(1075);
      assert.deepEqual(
        listed.map((h) => h.ip),
        ['2001:db8::1', '192.0.2.1'],
        'newest first, the expired one left out',
      );
      assert.equal(await provider.pruneDefenderHosts({ now: 1075, hardLimit: 0, softLimit: 0 }), 1);
      assert.equal(await provider.getDefenderHost('192.0.2.9'), undefined);

      assert.equal(await provider.updateDefenderHost('192.0.2.1', () => undefined), undefined);
      assert.equal(await provider.getDefenderHost('192.0.2.1'), undefined);
      assert.equal(await provider.deleteDefenderHost('2001:db8::1'), true);
      assert.equal(await provider.deleteDefenderHost('2001:db8::1'), false);
    });

    it('prunes defender records past the hard limit: scored before banned, oldest first', async () => {
      const now = 10_000;
      const add = (ip: string, updatedAt: number, banUntil = 0) =>
        provider.updateDefenderHost(ip, () => ({
          ip,
          events: [],
          banUntil,
          banMs: banUntil > 0 ? 5000 : 0,
          updatedAt,
          expiresAt: now + 60_000,
        }));
      await add('10.0.0.1', 1, now + 5000);
      await add('10.0.0.2', 2);
      await add('10.0.0.3', 3);
      await add('10.0.0.4', 4, now + 5000);
      await add('10.0.0.5', 5);
      assert.equal(await provider.pruneDefenderHosts({ now, hardLimit: 5, softLimit: 3 }), 0);
      assert.equal(await provider.pruneDefenderHosts({ now, hardLimit: 4, softLimit: 2 }), 3);
      const left = await provider.listDefenderHosts(now);
      assert.deepEqual(left.map((h) => h.ip).sort(), ['10.0.0.1', '10.0.0.4']);
    });

    it('refuses invalid users with INVALID_ARGUMENT and stores nothing', async () => {
      const bad: Array<[string, Partial<NewUser>]> = [
        ['empty username', { username: '' }],
        ['unsafe username', { username: 'a/b' }],
        ['no credentials', { password: '', public_keys: [] }],
        ['relative home', { home_dir: 'srv/alice' }],
        ['no root permission', { permissions: { '/uploads': ['*'] } }],
        ['relative permission dir', { permissions: { '/': ['*'], uploads: ['*'] } }],
        ['unnormalized permission dir', { permissions: { '/': ['*'], '/a/../b': ['*'] } }],
        [
          'unknown permission',
          { permissions: { '/': ['fly'] } as unknown as NewUser['permissions'] },
        ],
        ['empty permission list', { permissions: { '/': [] } }],
        ['bad CIDR', { filters: { allowed_ip: ['192.0.2.0/33'], denied_ip: [] } }],
        ['address without prefix', { filters: { allowed_ip: [], denied_ip: ['192.0.2.1'] } }],
        ['garbage public key', { public_keys: ['ssh-ed25519 AAAAnope'] }],
        ['negative quota', { quota_size: -1 }],
        ['bad status', { status: 2 as 0 }],
        ['s3 without bucket', { filesystem: { provider: 1 } }],
      ];
      for (const [label, overrides] of bad) {
        await assert.rejects(provider.addUser(newUser(overrides)), (err) => {
          assert.ok(isKubesftpError(err, ErrorCode.INVALID_ARGUMENT), `${label}: ${String(err)}`);
          return true;
        });
      }
      assert.deepEqual(await provider.listUsers({ offset: 0, limit: 100, order: 'ASC' }), []);
      const keyOnly = await provider.addUser(
        newUser({ password: '', public_keys: [` ${publicKey}\n`] }),
      );
      assert.deepEqual(keyOnly.public_keys, [publicKey]);
      await rejectsWith(
        provider.updateUser(keyOnly.id, newUser({ home_dir: 'x' })),
        ErrorCode.INVALID_ARGUMENT,
      );
    });

    clusterContract({ provider: () => provider, openAnother, shared: driver.shared });
    homeRemovalContract({ provider: () => provider, openAnother, shared: driver.shared });

    if (driver.shared) {
      it('two instances on one store never lose a quota update', async () => {
        const other = await openAnother();
        await provider.addUser(newUser());
        const bump = (p: DataProvider) =>
          p.updateQuota('alice', { sizeDelta: 3, filesDelta: 1, reset: false });
        await Promise.all(
          Array.from({ length: 60 }, async (_, i) => bump(i % 2 === 0 ? provider : other)),
        );
        for (const p of [provider, other]) {
          const user = (await p.getUserByUsername('alice'))!;
          assert.equal(user.used_quota_size, 180);
          assert.equal(user.used_quota_files, 60);
        }
      });

      it('two instances on one store never lose a defender update', async () => {
        const other = await openAnother();
        const append = (p: DataProvider, at: number) =>
          p.updateDefenderHost('198.51.100.7', (current) => ({
            ip: '198.51.100.7',
            events: [...(current?.events ?? []), { at, score: 1 }],
            banUntil: 0,
            banMs: 0,
            updatedAt: at,
            expiresAt: Number.MAX_SAFE_INTEGER,
          }));
        await Promise.all(
          Array.from({ length: 40 }, async (_, i) => append(i % 2 === 0 ? provider : other, i)),
        );
        const host = await other.getDefenderHost('198.51.100.7');
        assert.deepEqual(
          host?.events.map((e) => e.at).sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, i) => i),
        );
        // First events for new addresses, from both at once: the race to create the record.
        const first = (p: DataProvider, ip: string, at: number) =>
          p.updateDefenderHost(ip, (current) => ({
            ip,
            events: [...(current?.events ?? []), { at, score: 1 }],
            banUntil: 0,
            banMs: 0,
            updatedAt: at,
            expiresAt: Number.MAX_SAFE_INTEGER,
          }));
        const fresh = Array.from({ length: 25 }, (_, i) => `203.0.113.${i + 1}`);
        await Promise.all(fresh.flatMap((ip) => [first(provider, ip, 1), first(other, ip, 2)]));
        for (const ip of fresh) {
          const events = (await provider.getDefenderHost(ip))?.events.map((e) => e.at);
          assert.deepEqual(events?.sort(), [1, 2], ip);
        }
      });

      it('two instances disabling or deleting the last two active admins leave one', async () => {
        const other = await openAnother();
        for (let round = 0; round < 4; round++) {
          const [a, b] = [`a${round}`, `b${round}`];
          await provider.addAdmin({ username: a, password: '$1$x$y' });
          await provider.addAdmin({ username: b, password: '$1$x$y' });
          for (const admin of await provider.listAdmins({ offset: 0, limit: 50, order: 'ASC' })) {
            if (admin.username !== a && admin.username !== b)
              await provider.deleteAdmin(admin.username);
          }
          const outcomes = await Promise.allSettled(
            round % 2 === 0
              ? [
                  provider.updateAdmin({ username: a, password: '', status: 0 }),
                  other.updateAdmin({ username: b, password: '', status: 0 }),
                ]
              : [provider.deleteAdmin(a), other.deleteAdmin(b)],
          );
          const refused = outcomes.filter(
            (o) => o.status === 'rejected' && isKubesftpError(o.reason, ErrorCode.CONFLICT),
          );
          assert.equal(refused.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
          const active = (await other.listAdmins({ offset: 0, limit: 50, order: 'ASC' })).filter(
            (admin) => admin.status === 1,
          );
          assert.equal(active.length, 1, `round ${round}`);
          for (const admin of await provider.listAdmins({ offset: 0, limit: 50, order: 'ASC' })) {
            if (admin.status === 0) await provider.deleteAdmin(admin.username);
          }
        }
      });

      it('two instances creating one secret at once agree on its value', async () => {
        const other = await openAnother();
        const values = await Promise.all(
          Array.from({ length: 10 }, async (_, i) =>
            (i % 2 === 0 ? provider : other).getOrCreateSecret('signing', () => `v${i}`),
          ),
        );
        assert.equal(new Set(values).size, 1);
      });

      it('an account written through one instance is read by the other at once', async () => {
        const other = await openAnother();
        const added = await provider.addUser(newUser({ public_keys: [publicKey] }));
        assert.deepEqual(await other.getUserByUsername('alice'), added);
        const updated = await other.updateUser(added.id, newUser({ password: '', status: 0 }));
        assert.deepEqual(await provider.getUserById(added.id), updated);
      });
    }
  });
}
