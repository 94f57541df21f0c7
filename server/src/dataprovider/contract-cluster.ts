/**
 * The contract of sessions and quota reservations, run by contract.test.ts inside each
 * driver's suite (so every driver, and the database servers started there, are covered).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { newUser as baseUser } from './test-support.js';
import type { DataProvider, NewUser, QuotaGrant, SessionClaim, SessionRecord } from './types.js';

/** md5crypt of "password": the driver stores a hash as given. */
const HASH = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return baseUser({ password: HASH, ...overrides });
}

export interface ClusterContractOptions {
  provider(): DataProvider;
  /** Another provider on the same store, as a second process opens it. */
  openAnother(): Promise<DataProvider>;
  shared: boolean;
}

const MiB = 1024 * 1024;

function session(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    username: 'alice',
    nodeId: 'node-a',
    protocol: 'SFTP',
    clientIp: '192.0.2.1',
    ttlMs: 60_000,
    ...overrides,
  };
}

function claim(
  id: string,
  maxSessions: number,
  overrides: Partial<SessionRecord> = {},
): SessionClaim {
  return { ...session(id, overrides), maxSessions };
}

function granted(grant: QuotaGrant): { size: number; files: number } {
  assert.ok(grant.granted, `expected a grant, got ${JSON.stringify(grant)}`);
  return { size: grant.size, files: grant.files };
}

async function usage(p: DataProvider, username = 'alice'): Promise<[number, number]> {
  const user = (await p.getUserByUsername(username))!;
  return [user.used_quota_size, user.used_quota_files];
}

export function clusterContract(o: ClusterContractOptions): void {
  it('claims sessions up to max_sessions as the database holds it, and frees them on release', async () => {
    const p = o.provider();
    await p.addUser(newUser({ max_sessions: 2 }));
    assert.equal(await p.claimSession(claim('s1', 2)), true);
    assert.equal(await p.claimSession(claim('s2', 2, { nodeId: 'node-b' })), true);
    assert.equal(await p.claimSession(claim('s3', 2)), false, 'the third of two');
    assert.equal(await p.countSessions('alice'), 2);
    await p.releaseSession('s1');
    assert.equal(await p.countSessions('alice'), 1);
    assert.equal(await p.claimSession(claim('s3', 2)), true);
    // A limit read at login as 0 is not looked up again; one read as 2 is, and now says 3.
    assert.equal(await p.claimSession(claim('s4', 0)), true);
    const user = (await p.getUserByUsername('alice'))!;
    await p.updateUser(user.id, { ...newUser({ max_sessions: 4 }), password: '' });
    assert.equal(await p.claimSession(claim('s5', 2)), true, 'the fourth of four');
    assert.equal(await p.claimSession(claim('s6', 2)), false, 'the fifth of four');
    await p.releaseSession('s4');
    assert.equal(await p.claimSession(claim('s6', 2)), true);
    await p.releaseSession('no such session');
    await assert.rejects(p.claimSession(claim('x', 1, { username: 'nobody' })), (err) =>
      isKubesftpError(err, ErrorCode.NOT_FOUND),
    );
  });

  it('releases every row of one gone process at once with its reservations, and only those', async () => {
    const p = o.provider();
    await p.addUser(newUser({ max_sessions: 3, quota_size: 2 * MiB }));
    assert.equal(await p.claimSession(claim('w1', 3, { nodeId: 'worker-1' })), true);
    assert.equal(await p.claimSession(claim('w2', 3, { nodeId: 'worker-1' })), true);
    assert.equal(await p.claimSession(claim('w3', 3, { nodeId: 'worker-2' })), true);
    const w1 = session('w1', { nodeId: 'worker-1' });
    const w3 = session('w3', { nodeId: 'worker-2' });
    const ask = { size: MiB, minSize: MiB, files: 0, minFiles: 0 };
    granted(await p.reserveQuota({ session: w1, ...ask }));
    granted(await p.reserveQuota({ session: w3, ...ask }));
    assert.equal((await p.reserveQuota({ session: w3, ...ask })).granted, false, 'quota held');
    assert.equal(await p.releaseNodeSessions('worker-1'), 2);
    assert.equal(await p.countSessions('alice'), 1, 'the other process keeps its session');
    granted(await p.reserveQuota({ session: w3, ...ask }));
    assert.equal(await p.releaseNodeSessions('worker-1'), 0);
  });

  it('changes the protocol of a live session row, and makes no row for a session gone', async () => {
    const p = o.provider();
    await p.addUser(newUser());
    assert.equal(await p.claimSession(claim('p1', 0)), true);
    await p.setSessionProtocol('p1', 'SCP');
    assert.equal(await p.countSessions('alice'), 1);
    await p.releaseSession('p1');
    await p.setSessionProtocol('p1', 'SSH');
    assert.equal(await p.countSessions('alice'), 0, 'a released row stays released');
    await p.setSessionProtocol('no such session', 'SSH');
  });

  it('lets sessions without a heartbeat lapse after their ttl, and keeps those with one', async () => {
    const p = o.provider();
    await p.addUser(newUser({ max_sessions: 1 }));
    const short = { ttlMs: 400 };
    assert.equal(await p.claimSession(claim('dead', 1, { ...short, nodeId: 'killed' })), true);
    await sleep(600);
    assert.equal(await p.countSessions('alice'), 0, 'the killed node no longer counts');
    assert.equal(await p.claimSession(claim('live', 1, short)), true);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      assert.deepEqual(
        await p.heartbeatSessions({
          nodeId: 'node-a',
          ttlMs: 400,
          sessions: [session('live', short)],
        }),
        [],
      );
    }
    assert.equal(await p.countSessions('alice'), 1, 'kept alive past its ttl by heartbeats');
    assert.equal(await p.claimSession(claim('other', 1, short)), false);
    // Long expired rows are pruned; a listed session the store lost is made again.
    await p.releaseSession('live');
    const remade = await p.heartbeatSessions({
      nodeId: 'node-a',
      ttlMs: 400,
      sessions: [session('live', short)],
    });
    assert.deepEqual(remade, ['live']);
    assert.equal(await p.countSessions('alice'), 1);
  });

  it('names the sessions of a node whose user was disabled or deleted', async () => {
    const p = o.provider();
    const alice = await p.addUser(newUser({ username: 'alice' }));
    const bob = await p.addUser(newUser({ username: 'bob', home_dir: '/srv/sftp/bob' }));
    await p.addUser(newUser({ username: 'carol', home_dir: '/srv/sftp/carol' }));
    for (const [id, username, nodeId] of [
      ['a1', 'alice', 'node-a'],
      ['b1', 'bob', 'node-a'],
      ['b2', 'bob', 'node-b'],
      ['c1', 'carol', 'node-a'],
    ] as const) {
      assert.equal(await p.claimSession(claim(id, 0, { username, nodeId })), true);
    }
    assert.deepEqual(await p.revokedSessions('node-a'), []);
    await p.updateUser(alice.id, { ...newUser({ username: 'alice', status: 0 }), password: '' });
    await p.deleteUser(bob.id);
    assert.deepEqual((await p.revokedSessions('node-a')).sort(), ['a1', 'b1']);
    assert.deepEqual(await p.revokedSessions('node-b'), ['b2']);
  });

  it('reserves quota against usage and every live reservation, all wanted or only what is needed', async () => {
    const p = o.provider();
    await p.addUser(newUser({ quota_size: 10 * MiB, quota_files: 5 }));
    await p.updateQuota('alice', { sizeDelta: 2 * MiB, filesDelta: 1, reset: false });
    for (const id of ['r1', 'r2']) assert.equal(await p.claimSession(claim(id, 0)), true);
    const ask = (
      id: string,
      [size, minSize, files = 0, minFiles = 0]: number[],
    ): Promise<QuotaGrant> =>
      p.reserveQuota({ session: session(id), size: size!, minSize: minSize!, files, minFiles });
    const first = await ask('r1', [4 * MiB, 1, 2, 1]);
    assert.deepEqual(granted(first), { size: 4 * MiB, files: 2 });
    assert.equal(first.granted && first.sizeLeft, 4 * MiB);
    assert.equal(first.granted && first.filesLeft, 2);
    // 2 used + 4 held leave 4: a 4 MiB chunk still fits, then only what is needed.
    assert.deepEqual(granted(await ask('r2', [4 * MiB, 1])), { size: 4 * MiB, files: 0 });
    // Refused, though the usage alone leaves room: the reservations of live sessions hold it.
    const held = { granted: false, held: true };
    assert.deepEqual(await ask('r2', [4 * MiB, 1]), { ...held, exceeded: 'size' });
    assert.deepEqual(await ask('r1', [0, 0, 3, 3]), { ...held, exceeded: 'files' });
    assert.deepEqual(await ask('r1', [0, 0, 5, 5]), {
      granted: false,
      exceeded: 'files',
      held: false,
    });
    // A settlement moves reserved bytes into the usage; a release frees what is left.
    await p.settleQuota({
      username: 'alice',
      sessionId: 'r1',
      sizeDelta: 3 * MiB,
      filesDelta: 1,
      releasedSize: 3 * MiB,
      releasedFiles: 1,
    });
    assert.deepEqual(await usage(p), [5 * MiB, 2]);
    assert.deepEqual(await ask('r2', [4 * MiB, 1]), { ...held, exceeded: 'size' });
    assert.deepEqual(await ask('r2', [6 * MiB, 6 * MiB]), {
      granted: false,
      exceeded: 'size',
      held: false,
    });
    await p.releaseSession('r1');
    assert.deepEqual(granted(await ask('r2', [4 * MiB, 512])), { size: 512, files: 0 });
    // A deleted user has nothing left to settle.
    const user = (await p.getUserByUsername('alice'))!;
    await p.deleteUser(user.id);
    await p.settleQuota({
      username: 'alice',
      sessionId: 'r2',
      sizeDelta: 1,
      filesDelta: 1,
      releasedSize: 1,
      releasedFiles: 0,
    });
  });

  it('lets the reservations of a session without heartbeat lapse, and grants without a limit', async () => {
    const p = o.provider();
    await p.addUser(newUser({ quota_size: 1 * MiB }));
    await p.addUser(newUser({ username: 'bob', home_dir: '/srv/sftp/bob' }));
    const dead = session('dead', { nodeId: 'killed', ttlMs: 300 });
    assert.deepEqual(
      granted(
        await p.reserveQuota({ session: dead, size: MiB, minSize: 1, files: 0, minFiles: 0 }),
      ),
      { size: MiB, files: 0 },
    );
    const live = session('live');
    assert.equal(
      (await p.reserveQuota({ session: live, size: 1, minSize: 1, files: 0, minFiles: 0 })).granted,
      false,
    );
    await sleep(500);
    assert.equal(
      (await p.reserveQuota({ session: live, size: MiB, minSize: 1, files: 0, minFiles: 0 }))
        .granted,
      true,
    );
    const unlimited = await p.reserveQuota({
      session: session('b', { username: 'bob' }),
      size: 64 * MiB,
      minSize: 1,
      files: 9,
      minFiles: 1,
    });
    assert.deepEqual(unlimited, {
      granted: true,
      size: 64 * MiB,
      files: 9,
      sizeLeft: Infinity,
      filesLeft: Infinity,
    });
  });

  it('pushes disables, renames and deletes where the driver can, and not quota updates', async () => {
    const p = o.provider();
    const changed: string[] = [];
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    const feed = p.watchUserChanges({
      changed: (username) => changed.push(username),
      connected: () => connected(),
      disconnected: () => undefined,
    });
    if (feed === undefined) {
      assert.notEqual(p.driver, 'postgresql', 'PostgreSQL pushes changes');
      return;
    }
    try {
      await ready;
      const alice = await p.addUser(newUser());
      await p.updateQuota('alice', { sizeDelta: 5, filesDelta: 1, reset: false });
      await p.updateUser(alice.id, { ...newUser({ status: 0 }), password: '' });
      await p.updateUser(alice.id, { ...newUser({ username: 'alice2', status: 0 }), password: '' });
      await p.deleteUser(alice.id);
      const deadline = Date.now() + 5_000;
      while (changed.length < 3 && Date.now() < deadline) await sleep(20);
      assert.deepEqual(changed, ['alice', 'alice', 'alice2']);
    } finally {
      await feed.close();
    }
  });

  if (!o.shared) return;

  it('two instances claiming at once never pass max_sessions', async () => {
    const other = await o.openAnother();
    await o.provider().addUser(newUser({ max_sessions: 3 }));
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) =>
        (i % 2 === 0 ? o.provider() : other).claimSession(
          claim(`c${i}`, 3, { nodeId: `n${i % 2}` }),
        ),
      ),
    );
    assert.equal(results.filter(Boolean).length, 3);
    assert.equal(await other.countSessions('alice'), 3);
  });

  it('two instances reserving at once never grant more than the quota', async () => {
    const other = await o.openAnother();
    await o.provider().addUser(newUser({ quota_size: 10 * MiB }));
    const grants = await Promise.all(
      Array.from({ length: 24 }, async (_, i) =>
        (i % 2 === 0 ? o.provider() : other).reserveQuota({
          session: session(`q${i % 6}`, { nodeId: `n${i % 2}` }),
          size: MiB,
          minSize: 512 * 1024,
          files: 0,
          minFiles: 0,
        }),
      ),
    );
    const total = grants.reduce((sum, g) => sum + (g.granted ? g.size : 0), 0);
    assert.equal(total, 10 * MiB);
  });
}
