import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig } from '../config/validate.js';
import { DefenderHostMap } from '../dataprovider/defender-hosts.js';
import { SqliteProvider } from '../dataprovider/sqlite.js';
import type { DefenderHostStore } from '../dataprovider/types.js';
import { isKubesftpError } from '../errors.js';
import { IpRanges } from '../session/ip-ranges.js';
import { Defender, type BanNotice, type DefenderSettings } from './defender.js';
import { createDefender, defenderSettingsFrom } from './index.js';
import { MAX_BAN_MS } from './scoring.js';

const SECOND = 1000;

/** Threshold 10; a failed login scores 1, an unknown user 2, a refused connection 3. */
function settings(overrides: Partial<DefenderSettings> = {}): DefenderSettings {
  return {
    enabled: true,
    policy: {
      threshold: 10,
      banMs: 60 * SECOND,
      banIncrementPercent: 50,
      observationMs: 30 * SECOND,
    },
    scores: { invalid_user: 2, failed_login: 1, limit_exceeded: 3, no_auth: 0 },
    safeList: new IpRanges(['10.9.0.0/16']),
    blockList: new IpRanges(['192.0.2.66', '2001:db8:bad::/48']),
    entries: { softLimit: 3, hardLimit: 5 },
    ...overrides,
  };
}

/** A defender on a hand-moved clock; `bans` collects every ban notice. */
function harness(
  overrides: Partial<DefenderSettings> = {},
  store: DefenderHostStore = new DefenderHostMap(settings(overrides).entries),
) {
  const clock = { now: 1_000_000 };
  const bans: BanNotice[] = [];
  const defender = new Defender({
    settings: settings(overrides),
    store,
    now: () => clock.now,
    onBan: (ban) => bans.push(ban),
  });
  return { defender, clock, bans, store };
}

async function recordTimes(defender: Defender, ip: string, event: 'failed_login', times: number) {
  const results: boolean[] = [];
  for (let i = 0; i < times; i++) results.push(await defender.record(ip, event));
  return results;
}

describe('defender scoring and bans', () => {
  test('scores add up within the observation window and ban at the threshold', async () => {
    const { defender, clock, bans } = harness();
    const results = await recordTimes(defender, '192.0.2.1', 'failed_login', 9);
    assert.deepEqual(results, Array(9).fill(false));
    assert.equal(await defender.isBanned('192.0.2.1'), false);
    assert.deepEqual(await defender.hosts(), [{ ip: '192.0.2.1', score: 9, bannedUntil: 0 }]);
    assert.equal(await defender.record('192.0.2.1', 'failed_login'), true, 'the tenth bans');
    assert.equal(await defender.isBanned('192.0.2.1'), true);
    assert.equal(await defender.isBanned('::ffff:192.0.2.1'), true, 'mapped IPv4 is the same');
    assert.equal(await defender.isBanned('192.0.2.2'), false);
    assert.deepEqual(bans, [
      { ip: '192.0.2.1', banMs: 60 * SECOND, until: clock.now + 60 * SECOND },
    ]);
    assert.deepEqual(await defender.hosts(), [
      { ip: '192.0.2.1', score: 0, bannedUntil: clock.now + 60 * SECOND },
    ]);
  });

  test('each event kind has its own score', async () => {
    const { defender } = harness();
    await defender.record('192.0.2.1', 'invalid_user');
    await defender.record('192.0.2.1', 'limit_exceeded');
    await defender.record('192.0.2.1', 'no_auth');
    assert.equal((await defender.hosts())[0]?.score, 5);
  });

  test('events older than the observation window stop counting', async () => {
    const { defender, clock } = harness();
    await recordTimes(defender, '192.0.2.1', 'failed_login', 5);
    clock.now += 20 * SECOND;
    await recordTimes(defender, '192.0.2.1', 'failed_login', 4);
    clock.now += 11 * SECOND;
    assert.equal(await defender.record('192.0.2.1', 'failed_login'), false, 'the first five left');
    assert.equal((await defender.hosts())[0]?.score, 5);
  });

  test('a ban ends after the ban time; events while banned do not lengthen it', async () => {
    const { defender, clock, bans } = harness();
    await recordTimes(defender, '192.0.2.1', 'failed_login', 10);
    clock.now += 59 * SECOND;
    const whileBanned = await recordTimes(defender, '192.0.2.1', 'failed_login', 10);
    assert.deepEqual(whileBanned, Array(10).fill(true), 'still banned');
    clock.now += 1 * SECOND;
    assert.equal(await defender.isBanned('192.0.2.1'), false);
    assert.equal(bans.length, 1);
  });

  test('each further ban lasts ban_time_increment percent longer than the previous', async () => {
    const { defender, clock, bans } = harness();
    for (const expected of [60, 90, 135]) {
      await recordTimes(defender, '192.0.2.1', 'failed_login', 10);
      assert.equal(bans.at(-1)?.banMs, expected * SECOND);
      clock.now = (bans.at(-1)?.until ?? 0) + SECOND;
      assert.equal(await defender.isBanned('192.0.2.1'), false);
    }
    // A whole observation window after a ban ends, the history is forgotten.
    clock.now += 30 * SECOND;
    await recordTimes(defender, '192.0.2.1', 'failed_login', 10);
    assert.equal(bans.at(-1)?.banMs, 60 * SECOND);
  });

  test('bans stop growing at a bound', async () => {
    const { defender, clock, bans } = harness({
      policy: {
        threshold: 1,
        banMs: 20 * 24 * 3600_000,
        banIncrementPercent: 100,
        observationMs: 3600_000,
      },
    });
    await defender.record('192.0.2.1', 'failed_login');
    clock.now = (bans.at(-1)?.until ?? 0) + 1;
    await defender.record('192.0.2.1', 'failed_login');
    assert.equal(bans.at(-1)?.banMs, MAX_BAN_MS);
  });

  test('safe addresses are never scored or banned; blocked ones are always refused', async () => {
    const { defender, store } = harness({ policy: { ...settings().policy, threshold: 1 } });
    assert.equal(await defender.record('10.9.1.2', 'invalid_user'), false);
    assert.equal(await defender.isBanned('10.9.1.2'), false);
    assert.equal(await store.getDefenderHost('10.9.1.2'), undefined, 'nothing stored');
    assert.ok(defender.isSafe('::ffff:10.9.200.1'));
    assert.ok(defender.isBlocked('192.0.2.66'));
    assert.ok(defender.isBlocked('2001:db8:bad:1::9'));
    assert.ok(!defender.isBlocked('192.0.2.67'));
  });

  test('disabled: nothing is scored or banned, the lists still apply', async () => {
    const { defender, store } = harness({ enabled: false });
    await recordTimes(defender, '192.0.2.1', 'failed_login', 20);
    assert.equal(await defender.isBanned('192.0.2.1'), false);
    assert.equal(await store.getDefenderHost('192.0.2.1'), undefined);
    assert.ok(defender.isBlocked('192.0.2.66'));
    assert.ok(defender.isSafe('10.9.0.1'));
  });

  test('an event scored 0 does not touch the store', async () => {
    const { defender, store } = harness();
    assert.equal(await defender.record('192.0.2.1', 'no_auth'), false);
    assert.equal(await store.getDefenderHost('192.0.2.1'), undefined);
  });

  test('unban forgets an address at once', async () => {
    const { defender } = harness();
    await recordTimes(defender, '192.0.2.1', 'failed_login', 10);
    assert.equal(await defender.unban('192.0.2.1'), true);
    assert.equal(await defender.isBanned('192.0.2.1'), false);
    assert.deepEqual(await defender.hosts(), []);
    assert.equal(await defender.unban('192.0.2.1'), false);
  });
});

describe('defender memory driver bounds', () => {
  test('past the hard limit the oldest entries go, down to the soft limit; bans go last', async () => {
    const { defender, clock, store } = harness({ policy: { ...settings().policy, threshold: 3 } });
    await defender.record('192.0.2.1', 'limit_exceeded'); // banned at once
    for (const ip of ['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5']) {
      clock.now += SECOND;
      await defender.record(ip, 'failed_login');
    }
    assert.equal((store as DefenderHostMap).size, 5);
    clock.now += SECOND;
    await defender.record('192.0.2.6', 'failed_login');
    assert.equal((store as DefenderHostMap).size, 3);
    const left = (await defender.hosts()).map((h) => h.ip).sort();
    assert.deepEqual(left, ['192.0.2.1', '192.0.2.5', '192.0.2.6']);
    assert.equal(await defender.isBanned('192.0.2.1'), true);
  });

  test('expired records are cleaned up at most once per interval', async () => {
    const store = new DefenderHostMap();
    const clock = { now: 1_000_000 };
    const defender = new Defender({
      settings: settings(),
      store,
      now: () => clock.now,
      pruneIntervalMs: 10 * SECOND,
    });
    await defender.record('192.0.2.1', 'failed_login');
    clock.now += 31 * SECOND;
    await defender.record('192.0.2.2', 'failed_login');
    await new Promise((r) => setImmediate(r));
    assert.equal(await store.getDefenderHost('192.0.2.1'), undefined);
    assert.equal(store.size, 1);
  });
});

describe('defender provider driver', () => {
  test('two servers on one SQLite file share scores and see the same ban', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubesftp-defender-'));
    const path = join(dir, 'kubesftp.db');
    const first = new SqliteProvider({ path, usersTable: 'users' });
    const second = new SqliteProvider({ path, usersTable: 'users' });
    try {
      await Promise.all([first.initialize(), second.initialize()]);
      const a = harness({}, first);
      const b = harness({}, second);
      b.clock.now = a.clock.now;
      await recordTimes(a.defender, '192.0.2.1', 'failed_login', 5);
      assert.equal(await b.defender.isBanned('192.0.2.1'), false);
      await recordTimes(b.defender, '192.0.2.1', 'failed_login', 4);
      assert.equal(await a.defender.record('192.0.2.1', 'failed_login'), true);
      assert.equal(await b.defender.isBanned('192.0.2.1'), true, 'the other server sees the ban');
      assert.equal(a.bans.length + b.bans.length, 1, 'logged once');
      assert.equal(await b.defender.unban('192.0.2.1'), true);
      assert.equal(await a.defender.isBanned('192.0.2.1'), false, 'and the unban');
    } finally {
      await first.close();
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('defender settings from the config', () => {
  test('minutes become milliseconds and the driver picks the store', async () => {
    const config = { ...defaultConfig().defender, driver: 'memory' as const, threshold: 1 };
    const parsed = defenderSettingsFrom(config);
    assert.equal(parsed.policy.banMs, 30 * 60_000);
    assert.equal(parsed.policy.observationMs, 30 * 60_000);
    assert.deepEqual(parsed.scores, {
      invalid_user: 2,
      failed_login: 1,
      limit_exceeded: 3,
      no_auth: 0,
    });
    const provider = new SqliteProvider({ path: ':memory:', usersTable: 'users' });
    const defender = createDefender({ config, provider });
    // The memory driver never reaches the (uninitialized) provider.
    assert.equal(await defender.record('192.0.2.1', 'failed_login'), true);
    await provider.close();
  });

  test('bad lists and limits are refused naming the key', () => {
    const base = defaultConfig().defender;
    const refused = (config: typeof base, pattern: RegExp) =>
      assert.throws(
        () => defenderSettingsFrom(config),
        (err) => isKubesftpError(err, 'CONFIG_INVALID') && pattern.test(err.message),
      );
    refused({ ...base, safe_list: ['10.0.0.0/40'] }, /^defender\.safe_list: "10\.0\.0\.0\/40"/);
    refused({ ...base, block_list: ['host.example'] }, /^defender\.block_list: /);
    refused({ ...base, entries_soft_limit: 150 }, /^defender\.entries_soft_limit: /);
  });
});
