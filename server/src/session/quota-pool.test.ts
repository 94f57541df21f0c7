import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDataProvider } from '../dataprovider/index.js';
import { newUser } from '../dataprovider/test-support.js';
import type { DataProvider, SessionRecord } from '../dataprovider/types.js';
import { isKubesftpError, ErrorCode } from '../errors.js';
import { QuotaPool } from './quota-pool.js';
import { Settlements } from './settlements.js';

const CHUNK = 1000;

async function userWithQuota(quotaSize: number): Promise<DataProvider> {
  const provider = await createDataProvider({ driver: 'memory', name: '', configDir: '.' });
  await provider.initialize();
  await provider.addUser(newUser({ password: 'pw-alice-1', quota_size: quotaSize }));
  return provider;
}

async function pool(provider: DataProvider, id: string): Promise<QuotaPool> {
  const session: SessionRecord = {
    id,
    username: 'alice',
    nodeId: 'node-a',
    protocol: 'SFTP',
    clientIp: '127.0.0.1',
    ttlMs: 60_000,
  };
  assert.equal(await provider.claimSession({ ...session, maxSessions: 0 }), true);
  const settlements = new Settlements({
    provider,
    onDropped: (what) => assert.fail(`settlement dropped: ${JSON.stringify(what)}`),
    onDrained: () => undefined,
  });
  return new QuotaPool({ provider, settlements, session, chunkSize: CHUNK, chunkFiles: 1 });
}

/** One upload of `size` bytes through the pool: taken first, settled as written. */
async function upload(quota: QuotaPool, size: number): Promise<void> {
  await quota.take(size, 1);
  await quota.settle({ sizeDelta: size, filesDelta: 1, takenSize: size, takenFiles: 1 });
}

test('near the limit, a session with nothing in flight gives back what it holds', async () => {
  // 4 chunks of quota: well within NEAR_LIMIT_CHUNKS of the limit.
  const provider = await userWithQuota(4 * CHUNK);
  const first = await pool(provider, 's1');
  const second = await pool(provider, 's2');
  await upload(first, 10);
  assert.deepEqual(first.free, { size: 0, files: 0 }, 'the chunk went back with the settlement');
  // The other session can now take everything left, up to the last byte.
  await upload(second, 4 * CHUNK - 10);
  await assert.rejects(second.take(1, 0), (err) => isKubesftpError(err, ErrorCode.QUOTA_EXCEEDED));
  const stored = await provider.getUserByUsername('alice');
  assert.equal(stored?.used_quota_size, 4 * CHUNK);
  await provider.close();
});

test('far from the limit, a session keeps its chunk for the next file', async () => {
  const provider = await userWithQuota(1000 * CHUNK);
  const only = await pool(provider, 's1');
  await upload(only, 10);
  assert.equal(only.free.size, CHUNK - 10, 'the rest of the chunk stays with the session');
  assert.equal(only.tryTake(CHUNK - 10, 0), true, 'the next write asks nothing of the provider');
  await provider.close();
});

test('a session with an upload still open keeps what that upload took', async () => {
  const provider = await userWithQuota(4 * CHUNK);
  const quota = await pool(provider, 's1');
  await quota.take(500, 1);
  await quota.take(200, 1);
  await quota.settle({ sizeDelta: 200, filesDelta: 1, takenSize: 200, takenFiles: 1 });
  // One chunk was reserved, 700 taken, 200 of it settled: the rest stays for the open upload.
  assert.equal(quota.free.size, CHUNK - 700);
  await quota.settle({ sizeDelta: 500, filesDelta: 1, takenSize: 500, takenFiles: 1 });
  assert.deepEqual(quota.free, { size: 0, files: 0 });
  assert.equal((await provider.getUserByUsername('alice'))?.used_quota_size, 700);
  // Nothing is left reserved: another session gets all the rest.
  const other = await pool(provider, 's2');
  await upload(other, 4 * CHUNK - 700);
  await provider.close();
});

test('a write that only reservations of other sessions keep out waits for them to end', async () => {
  const provider = await userWithQuota(3 * CHUNK);
  const first = await pool(provider, 's1');
  const second = await pool(provider, 's2');
  // The first session's open upload holds two chunks; the usage is still 0.
  await first.take(2 * CHUNK, 1);
  let done = false;
  const waiting = second.take(2 * CHUNK, 1).then(() => (done = true));
  await sleep(30);
  assert.equal(done, false, 'refused at first, and waiting');
  // The upload ends having written 500 bytes: the rest of what it held goes back.
  await first.settle({ sizeDelta: 500, filesDelta: 1, takenSize: 2 * CHUNK, takenFiles: 1 });
  await waiting;
  assert.equal(second.free.size, 0);
  await second.settle({ sizeDelta: 2 * CHUNK, filesDelta: 1, takenSize: 2 * CHUNK, takenFiles: 1 });
  assert.equal((await provider.getUserByUsername('alice'))?.used_quota_size, 2 * CHUNK + 500);
  // Now the usage itself leaves too little: refused without waiting for anything.
  await assert.rejects(second.take(CHUNK, 0), (err) =>
    isKubesftpError(err, ErrorCode.QUOTA_EXCEEDED),
  );
  await provider.close();
});
