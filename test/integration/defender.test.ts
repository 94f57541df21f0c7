/**
 * The brute-force defender with the real OpenSSH clients, each from its own loopback address:
 * wrong passwords get an address banned and its next connection refused at once, other
 * addresses are not affected, and the address logs in again once the short ban is over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataProvider } from '../../server/src/dataprovider/index.js';
import { DefenderHostMap } from '../../server/src/dataprovider/defender-hosts.js';
import { newUser } from '../../server/src/dataprovider/test-support.js';
import type { DataProvider } from '../../server/src/dataprovider/types.js';
import { Defender, type BanNotice } from '../../server/src/defender/index.js';
import { IpRanges } from '../../server/src/session/ip-ranges.js';
import { askpassEnv, makeKeyPair, runSsh, sftpBatch, sshOptions } from './harness.js';
import { startInProcessSsh, type InProcessSsh } from './in-process-ssh.js';

const BAN_MS = 3_000;
const PASSWORD = 'the right password';

describe('defender with the OpenSSH client', { timeout: 90_000 }, () => {
  let work: string;
  let provider: DataProvider;
  let server: InProcessSsh;
  let defender: Defender;
  const bans: BanNotice[] = [];

  /** `sftp -b` with one `ls`, from `source`, with a password. */
  const sftpFrom = (source: string, password: string) =>
    sftpBatch(server.port, { username: 'erin', password }, ['ls'], {
      cwd: work,
      extraArgs: ['-o', `BindAddress=${source}`],
    });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-defender-it-'));
    provider = await createDataProvider({ driver: 'memory', name: '', configDir: work });
    await provider.initialize();
    await provider.addUser(
      newUser({ username: 'erin', password: PASSWORD, home_dir: join(work, 'erin') }),
    );
    defender = new Defender({
      settings: {
        enabled: true,
        policy: { threshold: 3, banMs: BAN_MS, banIncrementPercent: 50, observationMs: 60_000 },
        scores: { invalid_user: 2, failed_login: 1, limit_exceeded: 3, no_auth: 0 },
        safeList: new IpRanges([]),
        blockList: new IpRanges(['127.0.0.9']),
        entries: { softLimit: 100, hardLimit: 150 },
      },
      store: new DefenderHostMap({ softLimit: 100, hardLimit: 150 }),
      onBan: (ban) => bans.push(ban),
    });
    server = await startInProcessSsh({
      provider,
      configDir: work,
      defender,
      settings: { maxAuthTries: 6 },
    });
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('wrong passwords ban the address; its next connection is refused at once', async () => {
    const wrong = 'not the password';
    const guessing = await runSsh(
      [
        ...sshOptions(server.port, { username: 'erin', password: wrong }, '-p'),
        '-o',
        'BindAddress=127.0.0.2',
        '-o',
        'NumberOfPasswordPrompts=5',
        'erin@127.0.0.1',
        'true',
      ],
      { cwd: work, env: await askpassEnv(work, wrong) },
    );
    assert.equal(guessing.code, 255);
    const tries = server.failures.filter((f) => f.loginType === 'password');
    assert.equal(tries.length, 3, 'cut off at the third wrong password, not the fifth');
    assert.deepEqual(
      bans.map((b) => [b.ip, b.banMs]),
      [['127.0.0.2', BAN_MS]],
    );

    const refused = await sftpFrom('127.0.0.2', PASSWORD);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Connection (reset|closed)/);
    assert.equal(server.failures.length, 3, 'refused before any login attempt');
    const line = server.logs.find((l) => l.msg === 'connection refused');
    assert.equal(line?.client_ip, '127.0.0.2');
    assert.equal(line?.reason, 'banned');
    assert.equal(line?.level, 40, 'a warning');
  });

  test('another address still logs in while the first is banned', async () => {
    assert.ok(await defender.isBanned('127.0.0.2'));
    const other = await sftpFrom('127.0.0.3', PASSWORD);
    assert.equal(other.code, 0, other.stderr);
  });

  test('after the ban time the address logs in again', async () => {
    const until = bans[0]?.until ?? 0;
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 100));
    const again = await sftpFrom('127.0.0.2', PASSWORD);
    assert.equal(again.code, 0, again.stderr);
  });

  test('keys offered without a signature do not count; the block list refuses at once', async () => {
    const stranger = await makeKeyPair(work, 'ecdsa');
    for (let i = 0; i < 4; i++) {
      const probe = await runSsh(
        [
          ...sshOptions(server.port, { username: 'erin', keyPath: stranger.privatePath }, '-p'),
          '-o',
          'BindAddress=127.0.0.4',
          'erin@127.0.0.1',
          'true',
        ],
        { cwd: work },
      );
      assert.equal(probe.code, 255);
    }
    assert.equal(await defender.isBanned('127.0.0.4'), false);
    assert.deepEqual(
      (await defender.hosts()).filter((h) => h.ip === '127.0.0.4'),
      [],
      'not scored',
    );

    const blocked = await sftpFrom('127.0.0.9', PASSWORD);
    assert.notEqual(blocked.code, 0);
    const line = server.logs.find(
      (l) => l.msg === 'connection refused' && l.reason === 'block_list',
    );
    assert.equal(line?.client_ip, '127.0.0.9');
  });
});
