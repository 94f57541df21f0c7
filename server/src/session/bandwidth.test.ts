import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { writeLength, type VfsFile, type WriteData } from '../vfs/types.js';
import {
  ByteRateLimiter,
  MIN_PENDING_BYTES,
  SessionBandwidth,
  type RateClock,
} from './bandwidth.js';
import { throttled } from './throttled-file.js';

/** A clock that moves only when told to, firing due timers in deadline order. */
class ManualClock implements RateClock {
  #now = 0;
  #timers: { at: number; run: () => void; timer: NodeJS.Timeout }[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(run: () => void, ms: number): NodeJS.Timeout {
    const timer = {} as NodeJS.Timeout;
    this.#timers.push({ at: this.#now + ms, run, timer });
    return timer;
  }

  clearTimeout(timer: NodeJS.Timeout): void {
    this.#timers = this.#timers.filter((t) => t.timer !== timer);
  }

  get pending(): number {
    return this.#timers.length;
  }

  /** Moves to `ms` later, firing each timer due by then, earliest first. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.run();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#now = end;
  }
}

/** A file in memory that counts the writes reaching it. */
function memoryFile(): { file: VfsFile; writes: number } {
  let content = Buffer.alloc(0);
  const state = { file: undefined as unknown as VfsFile, writes: 0 };
  const ok = (): Promise<void> => Promise.resolve();
  state.file = {
    read: (length, position) =>
      Promise.resolve(Buffer.from(content.subarray(position, position + length))),
    write: (data: WriteData, position: number) => {
      state.writes += 1;
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data);
      assert.equal(bytes.length, writeLength(data));
      const grown = Buffer.alloc(Math.max(content.length, position + bytes.length));
      content.copy(grown);
      bytes.copy(grown, position);
      content = grown;
      return ok();
    },
    stat: () => Promise.reject(new Error('not needed')),
    setstat: ok,
    sync: ok,
    close: ok,
    abort: ok,
  };
  return state;
}

/** Records when each take of a list is released, in the clock's time. */
function releases(limiter: ByteRateLimiter, clock: ManualClock, sizes: number[]): number[] {
  const at: number[] = [];
  sizes.forEach((size, index) => {
    const turn = limiter.take(size);
    if (turn === undefined) at[index] = clock.now();
    else void turn.then(() => (at[index] = clock.now()));
  });
  return at;
}

test('bytes within the burst pass at once, without a timer', () => {
  const clock = new ManualClock();
  const limiter = new ByteRateLimiter({ bytesPerSecond: 1000, burstMs: 100, clock });
  assert.equal(limiter.take(50), undefined);
  assert.equal(limiter.take(50), undefined);
  assert.equal(clock.pending, 0);
  assert.notEqual(limiter.take(50), undefined, 'past the burst the next take waits');
});

test('concurrent takes share one rate and are released in the order they asked', async () => {
  const clock = new ManualClock();
  const limiter = new ByteRateLimiter({ bytesPerSecond: 1000, burstMs: 100, clock });
  // 64 parallel 100-byte requests: 6.4 s of data at 1000 B/s, less the 100 ms burst.
  const at = releases(limiter, clock, Array<number>(64).fill(100));
  assert.equal(limiter.waiting, 63);
  await clock.advance(10_000);
  assert.equal(at.length, 64);
  assert.deepEqual(
    at,
    [...at].sort((a, b) => a - b),
    'released in order',
  );
  assert.equal(Math.round(at.at(-1)!), 6300);
  at.forEach((when, index) => {
    assert.ok(when >= (index + 1) * 100 - 100 - 1e-6, `take ${index} released early at ${when}`);
  });
  assert.equal(limiter.waiting, 0);
});

test('idle time earns no more than the burst', async () => {
  const clock = new ManualClock();
  const limiter = new ByteRateLimiter({ bytesPerSecond: 1000, burstMs: 100, clock });
  await clock.advance(60_000);
  const released = releases(limiter, clock, [2000]);
  await clock.advance(5_000);
  assert.equal(Math.round(released[0]! - 60_000), 1900);
});

test('a take larger than the burst waits in proportion instead of failing', async () => {
  const clock = new ManualClock();
  const limiter = new ByteRateLimiter({ bytesPerSecond: 1000, burstMs: 100, clock });
  const at = releases(limiter, clock, [10_000, 10]);
  await clock.advance(20_000);
  assert.deepEqual(at.map(Math.round), [9900, 9910]);
});

test('closing fails every wait at once and refuses later takes', async () => {
  const clock = new ManualClock();
  const limiter = new ByteRateLimiter({ bytesPerSecond: 1000, burstMs: 0, clock });
  const waits = [limiter.take(5000), limiter.take(5000)];
  limiter.close();
  for (const wait of waits) {
    await assert.rejects(wait!, (err: unknown) => isKubesftpError(err, ErrorCode.FAILURE));
  }
  assert.equal(clock.pending, 0);
  assert.throws(
    () => limiter.take(1),
    (err: unknown) => isKubesftpError(err, ErrorCode.FAILURE),
  );
});

test('a rate must be positive', () => {
  assert.throws(() => new ByteRateLimiter({ bytesPerSecond: 0 }), /positive/);
});

test('the account limits are KB/s of 1024 bytes, 0 unlimited', async () => {
  const clock = new ManualClock();
  const rates = new SessionBandwidth({ uploadKBps: 0, downloadKBps: 1, clock });
  assert.equal(rates.upload, undefined);
  assert.equal(rates.limited, true);
  const at = releases(rates.download!, clock, [1024, 1024]);
  await clock.advance(5_000);
  assert.deepEqual(at.map(Math.round), [900, 1900]);
  assert.equal(
    SessionBandwidth.forUser({ upload_bandwidth: 0, download_bandwidth: 0 }).limited,
    false,
  );
});

test('a throttled file charges what a read returned and holds a write until its turn', async () => {
  const clock = new ManualClock();
  const rates = new SessionBandwidth({ uploadKBps: 1, downloadKBps: 1, clock });
  const inner = memoryFile();
  const file = throttled(inner.file, { reads: rates.download, writes: rates.upload });
  const data = Buffer.from('x'.repeat(2048));
  let written = false;
  const writing = file.write(data, 0).then(() => (written = true));
  await clock.advance(1800);
  assert.equal(inner.writes, 0, 'the backend has not seen the write before its turn');
  await clock.advance(100);
  await writing;
  assert.equal(written, true);
  assert.equal(inner.writes, 1);
  // A read at the end of the file returns nothing and costs nothing.
  assert.equal((await file.read(4096, 2048)).length, 0);
  const reading = file.read(2048, 0);
  // Downloads have a rate of their own: 2 KiB less the burst, 1900 ms from now.
  await clock.advance(1899);
  assert.equal(rates.download!.waiting, 1);
  await clock.advance(1);
  assert.deepEqual(await reading, data, 'the bytes pass unchanged');
});

test('an unlimited session gets the file itself', () => {
  const inner = memoryFile().file;
  assert.equal(throttled(inner, {}), inner);
});

test('on the real clock, parallel takes hold the rate', async () => {
  const limiter = new ByteRateLimiter({ bytesPerSecond: 64 * 1024, burstMs: 0 });
  const started = performance.now();
  await Promise.all(Array.from({ length: 16 }, () => limiter.take(1024) ?? Promise.resolve()));
  const elapsed = performance.now() - started;
  // 16 KiB at 64 KiB/s: 250 ms; timers never fire early, so this bound is safe under load.
  assert.ok(elapsed >= 240, `finished in ${elapsed} ms`);
});

test('a throttled session holds about a second of its upload rate, within the server bound', () => {
  const MIB = 1024 * 1024;
  const bound = 16 * MIB;
  const session = (uploadKBps: number) => new SessionBandwidth({ uploadKBps, downloadKBps: 0 });
  assert.equal(session(0).uploadPendingBound(bound), bound, 'unlimited: the server bound');
  assert.equal(session(100).uploadPendingBound(bound), MIN_PENDING_BYTES, 'slow: the least');
  assert.equal(session(4096).uploadPendingBound(bound), 4 * MIB, 'a second of 4 MiB/s');
  assert.equal(session(100_000).uploadPendingBound(bound), bound, 'fast: the server bound');
  const downloadsOnly = new SessionBandwidth({ uploadKBps: 0, downloadKBps: 100 });
  assert.equal(downloadsOnly.uploadPendingBound(bound), bound, 'a download limit holds nothing');
});
