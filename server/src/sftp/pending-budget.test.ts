import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TestClient, type Reply } from '../../../test/sftp/client.js';
import { startEngine, until, within } from '../../../test/sftp/harness.js';
import { spyVfs, type FileCall } from '../../../test/sftp/spy-vfs.js';
import { MemoryVfs } from '../vfs/memory.js';
import { OpenFlag } from './constants.js';
import type { InputHold } from './engine.js';
import { PendingBudget, processPendingBudget } from './pending-budget.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const WRITE_NEW = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;
const CHUNK = 16 * 1024;
/** A WRITE packet carries its data plus a few dozen bytes of header and handle. */
const PACKET_OVERHEAD = 100;
const LIMIT = 4 * CHUNK;
const WAIT_MS = 5000;

/** An `input` that counts the engine's calls. */
function recordingInput(): InputHold & { holds: number; releases: number; holding: number } {
  return {
    holds: 0,
    releases: 0,
    get holding() {
      return this.holds - this.releases;
    },
    hold() {
      this.holds++;
    },
    release() {
      this.releases++;
    },
  };
}

/** Holds every backend write until the test opens (or fails) the gate. */
function stalledWrites() {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  // Unhandled until a write waits on it; a failed gate with no write waiting is not an error.
  gate.catch(() => undefined);
  const stall = {
    waiting: 0,
    gate: (call: FileCall): Promise<void> | undefined => {
      if (call.op !== 'write') return undefined;
      stall.waiting++;
      return gate;
    },
    open: () => open(),
    fail: (err: Error) => fail(err),
  };
  return stall;
}

function startSession(budget: PendingBudget, sessionLimit = LIMIT) {
  const input = recordingInput();
  const stall = stalledWrites();
  const vfs = spyVfs(new MemoryVfs(), { gate: stall.gate });
  const harness = startEngine({
    vfs,
    input,
    pendingBudget: budget,
    limits: { maxInFlightBytes: sessionLimit },
  });
  return { ...harness, vfs, input, stall };
}

async function openUpload(client: TestClient, path: string): Promise<string> {
  await within(client.init(), 2000, 'INIT');
  return within(client.open(path, WRITE_NEW), 2000, 'OPEN');
}

function writeAll(client: TestClient, handle: string, data: Buffer): Promise<Reply>[] {
  const replies = [];
  for (let offset = 0; offset < data.length; offset += CHUNK) {
    replies.push(client.write(handle, offset, data.subarray(offset, offset + CHUNK)));
  }
  return replies;
}

async function expectAllOk(replies: Promise<Reply>[], what: string): Promise<void> {
  for (const reply of await within(Promise.all(replies), WAIT_MS, what)) {
    TestClient.expectOk(reply);
  }
}

async function download(client: TestClient, path: string): Promise<Buffer> {
  const handle = await client.open(path, OpenFlag.READ);
  const data = await client.readAll(handle);
  await client.close(handle);
  return data;
}

/** Two sessions on one budget, each with an upload open and its data to send. */
async function twoUploads(limit: number, chunksA: number, chunksB: number) {
  const budget = new PendingBudget(limit);
  const a = startSession(budget, 1024 * 1024);
  const b = startSession(budget, 1024 * 1024);
  const handleA = await openUpload(a.client, '/a.bin');
  const handleB = await openUpload(b.client, '/b.bin');
  const dataA = randomBytes(chunksA * CHUNK);
  const dataB = randomBytes(chunksB * CHUNK);
  /** Closes both uploads, checks that every byte arrived and the budget is empty, and ends. */
  const finish = async (): Promise<void> => {
    await a.client.close(handleA);
    await b.client.close(handleB);
    assert.equal(budget.held, 0);
    assert.equal(budget.holders, 0);
    assert.equal(sha256(await download(a.client, '/a.bin')), sha256(dataA));
    assert.equal(sha256(await download(b.client, '/b.bin')), sha256(dataB));
    await Promise.all([a.session.close(), b.session.close()]);
  };
  return { budget, a, b, handleA, handleB, dataA, dataB, finish };
}

describe('PendingBudget', () => {
  it('counts what is taken and given back, never below zero', () => {
    const budget = new PendingBudget(100);
    assert.equal(budget.held, 0);
    budget.take(30, 0);
    budget.take(50, 30);
    assert.equal(budget.held, 80);
    budget.give(30, 50);
    assert.equal(budget.held, 50);
    budget.give(80, 0);
    assert.equal(budget.held, 0);
  });

  it('lets a session holding nothing take one request even when full', () => {
    const budget = new PendingBudget(100);
    budget.take(250, 0);
    assert.equal(budget.allows(0), true);
  });

  it('refuses a session already holding bytes once at or over the limit', () => {
    const budget = new PendingBudget(100);
    budget.take(99, 0);
    assert.equal(budget.allows(99), true);
    budget.take(1, 99);
    assert.equal(budget.allows(100), false, 'at the limit');
    budget.take(50, 100);
    assert.equal(budget.allows(150), false, 'over the limit');
    budget.give(110, 40);
    assert.equal(budget.allows(40), true);
  });

  it('shares the limit evenly among the sessions holding bytes', () => {
    const budget = new PendingBudget(100);
    budget.take(60, 0); // A, alone: the whole limit is its share
    assert.equal(budget.share, 100);
    assert.equal(budget.allows(60), true);
    budget.take(10, 0); // B: two holders now
    assert.equal(budget.holders, 2);
    assert.equal(budget.share, 50);
    assert.equal(budget.allows(60), false, 'A is past its share while B holds bytes');
    assert.equal(budget.allows(10), true, 'B is under its share and the limit');
    budget.take(30, 10); // B holds 40, the process 100
    assert.equal(budget.allows(40), false, 'under its share but at the limit');
    budget.give(60, 0); // A is done: B alone again
    assert.equal(budget.holders, 1);
    assert.equal(budget.share, 100);
    assert.equal(budget.allows(40), true);
    budget.give(40, 0);
    assert.equal(budget.holders, 0);
    assert.equal(budget.held, 0);
  });
});

describe('engine: pending bytes', () => {
  it('holds the connection while the shared budget stops it and releases it once writes complete', async () => {
    // The session's own bound is far off: the process's budget alone stops it.
    const budget = new PendingBudget(LIMIT);
    const { client, session, input, stall } = startSession(budget, 1024 * 1024);
    const handle = await openUpload(client, '/held.bin');
    const data = randomBytes(12 * CHUNK);
    const replies = writeAll(client, handle, data);

    await until(() => input.holding === 1, WAIT_MS, 'input held');
    assert.equal(input.releases, 0);
    assert.equal(stall.waiting, 1, 'one backend write running, the rest queued behind it');
    // The session stopped at its bound: the request that crossed it, no further.
    assert.ok(budget.held >= LIMIT, `held ${budget.held}`);
    assert.ok(budget.held < LIMIT + CHUNK + PACKET_OVERHEAD, `held ${budget.held}`);

    stall.open();
    await expectAllOk(replies, 'writes after the backend went on');
    assert.equal(input.holding, 0, 'input released');
    assert.ok(input.releases >= 1);
    await client.close(handle);
    assert.equal(budget.held, 0);
    assert.equal(sha256(await download(client, '/held.bin')), sha256(data));
    await session.close();
  });

  it('at its own bound pauses only the channel, without holding the connection', async () => {
    // A session's own bound is a bound of one channel, whose window already stops the client;
    // holding the connection there would also stop its other channels and keepalives.
    const budget = new PendingBudget(1024 * 1024);
    const { client, session, input, stall } = startSession(budget);
    const handle = await openUpload(client, '/own-bound.bin');
    const data = randomBytes(12 * CHUNK);
    const replies = writeAll(client, handle, data);
    await until(() => budget.held >= LIMIT, WAIT_MS, 'the session at its bound');
    assert.equal(stall.waiting, 1);
    assert.ok(budget.held < LIMIT + CHUNK + PACKET_OVERHEAD, `held ${budget.held}`);
    assert.equal(input.holds, 0, 'the connection is not held');
    stall.open();
    await expectAllOk(replies, 'writes after the backend went on');
    await client.close(handle);
    assert.equal(sha256(await download(client, '/own-bound.bin')), sha256(data));
    assert.equal(input.holds, 0);
    await session.close();
  });

  it('lets a session holding nothing take one request while another fills the shared budget', async () => {
    const { budget, a, b, handleA, handleB, dataA, dataB, finish } = await twoUploads(LIMIT, 8, 3);

    const repliesA = writeAll(a.client, handleA, dataA);
    await until(() => a.input.holding === 1, WAIT_MS, 'A held');
    const heldByA = budget.held;
    assert.ok(heldByA >= LIMIT, `A holds ${heldByA}`);

    // Under its own bound (3 chunks), B is stopped by the shared budget alone.
    const repliesB = writeAll(b.client, handleB, dataB);
    await until(() => b.input.holding === 1, WAIT_MS, 'B held');
    const tookB = budget.held - heldByA;
    assert.ok(tookB >= CHUNK && tookB < CHUNK + PACKET_OVERHEAD, `B took ${tookB} bytes`);
    assert.equal(b.stall.waiting, 1, 'B runs exactly one write');

    // A's writes complete while B's one write is still stalled: the freed budget wakes B,
    // which takes its other requests (queued behind the first on its handle) at once.
    a.stall.open();
    await expectAllOk(repliesA, "A's writes");
    assert.equal(a.input.holding, 0);
    await until(() => b.input.holding === 0, WAIT_MS, 'B woken by the freed budget');
    await until(() => budget.held >= dataB.length, WAIT_MS, 'B takes its other requests');
    assert.equal(b.stall.waiting, 1, "B's first write is still the one stalled");
    b.stall.open();
    await expectAllOk(repliesB, "B's writes");
    assert.equal(b.input.holding, 0);
    await finish();
  });

  it('stops a session at its share of the budget while another session holds bytes', async () => {
    const limit = 8 * CHUNK;
    const { budget, a, b, handleA, handleB, dataA, dataB, finish } = await twoUploads(limit, 3, 12);

    const repliesA = writeAll(a.client, handleA, dataA);
    await until(() => budget.held >= dataA.length, WAIT_MS, 'A holds all its writes');
    const heldByA = budget.held;
    const repliesB = writeAll(b.client, handleB, dataB);
    await until(() => b.input.holding === 1, WAIT_MS, 'B held');
    // Half the limit is B's share while A holds bytes; the process limit is still far off.
    const heldByB = budget.held - heldByA;
    assert.ok(heldByB >= limit / 2, `B holds ${heldByB}`);
    assert.ok(heldByB < limit / 2 + CHUNK, `B holds ${heldByB}, past its share`);
    assert.ok(budget.held < limit, `the process holds ${budget.held}`);

    // A finishes: B holds the budget alone and takes the rest of its writes.
    a.stall.open();
    await expectAllOk(repliesA, "A's writes");
    await until(() => b.input.holding === 0, WAIT_MS, 'B woken once A is done');
    await until(() => budget.held >= limit, WAIT_MS, 'B takes up to the whole limit');
    b.stall.open();
    await expectAllOk(repliesB, "B's writes");
    await finish();
  });

  it('does not hold the connection while only waiting for the reply channel to drain', async () => {
    const input = recordingInput();
    const budget = new PendingBudget(LIMIT);
    const { client, session } = startEngine({
      input,
      pendingBudget: budget,
      limits: { maxInFlightBytes: LIMIT },
      highWaterMark: CHUNK,
    });
    await within(client.init(), 2000, 'INIT');
    const data = randomBytes(2 * CHUNK);
    const handle = await client.open('/r.bin', WRITE_NEW);
    TestClient.expectOk(await client.write(handle, 0, data));
    await client.close(handle);

    const readHandle = await client.open('/r.bin', OpenFlag.READ);
    client.stream.pause();
    const reads = Array.from({ length: 20 }, () => client.read(readHandle, 0, data.length));
    // A reply larger than the channel's buffer: the engine now waits for 'drain', which only
    // the client reading (its window adjustment, over SSH) can bring.
    await until(() => client.stream.readableLength > 0, WAIT_MS, 'a reply in the channel');
    assert.equal(input.holds, 0, 'input held while waiting for drain');
    client.stream.resume();
    const results = await within(Promise.all(reads), WAIT_MS, 'reads after resume');
    for (const result of results) assert.equal(sha256(result!), sha256(data));
    assert.equal(input.holds, 0);
    await session.close();
  });

  it('releases the hold on shutdown and returns the budget once stalled writes complete', async () => {
    const budget = new PendingBudget(LIMIT);
    const { client, session, input, stall } = startSession(budget, 1024 * 1024);
    const handle = await openUpload(client, '/cut.bin');
    const replies = writeAll(client, handle, randomBytes(8 * CHUNK));
    await until(() => input.holding === 1, WAIT_MS, 'input held');

    void session.close();
    assert.equal(input.holding, 0, 'released at shutdown');
    assert.ok(budget.held > 0, 'the running write still holds its bytes');
    stall.open();
    await within(session.closed, WAIT_MS, 'session end');
    assert.equal(budget.held, 0);
    assert.equal(input.holding, 0);
    void Promise.allSettled(replies);
  });

  it('returns the budget when the channel ends and the stalled writes fail', async () => {
    const budget = new PendingBudget(LIMIT);
    const { client, session, input, stall, vfs } = startSession(budget, 1024 * 1024);
    const handle = await openUpload(client, '/failed.bin');
    const replies = writeAll(client, handle, randomBytes(8 * CHUNK));
    await until(() => input.holding === 1, WAIT_MS, 'input held');

    // The end of the channel comes after the requests still buffered in it, so the session
    // sees it once the stalled work lets it read on.
    client.stream.end();
    stall.fail(new Error('backend gone'));
    await within(session.closed, WAIT_MS, 'session end');
    assert.equal(input.holding, 0);
    assert.equal(budget.held, 0);
    assert.equal(vfs.calls.filter((call) => call.op === 'abort').length, 1, 'upload aborted');
    void Promise.allSettled(replies);
  });
});

describe('processPendingBudget', () => {
  it('is the one budget of the configured bound, whatever bound a session gets', () => {
    const budget = processPendingBudget(3 * 1024 * 1024);
    assert.equal(budget.limit, 3 * 1024 * 1024);
    assert.equal(budget, processPendingBudget(3 * 1024 * 1024));
    assert.notEqual(budget, processPendingBudget(4 * 1024 * 1024));
  });
});
