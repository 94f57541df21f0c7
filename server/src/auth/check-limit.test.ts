import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { ConcurrencyLimit, passwordCheckLimit } from './check-limit.js';
import { hashPassword, verifyPassword } from './passwords.js';

/** A promise the test settles by hand, to hold a task inside the limit. */
function gate(): { opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimit', () => {
  it('never runs more than maxActive tasks, and every queued task completes with its own result', async () => {
    const limit = new ConcurrencyLimit({ maxActive: 3, maxQueued: 20 });
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
          running -= 1;
          return i * 10;
        }),
      ),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i * 10),
    );
    assert.equal(peak, 3, 'the limit was reached but never passed');
    assert.equal(limit.active, 0);
    assert.equal(limit.queued, 0);
  });

  it('refuses at once past the queue bound with RATE_LIMITED, then serves again', async () => {
    const limit = new ConcurrencyLimit({ maxActive: 1, maxQueued: 2 });
    const held = gate();
    const order: number[] = [];
    const accepted = [1, 2, 3].map((n) =>
      limit.run(async () => {
        await held.opened;
        order.push(n);
        return n;
      }),
    );
    await tick();
    assert.equal(limit.active, 1);
    assert.equal(limit.queued, 2);
    await assert.rejects(
      limit.run(() => Promise.resolve('never')),
      (err) => isKubesftpError(err, ErrorCode.RATE_LIMITED),
    );
    held.open();
    assert.deepEqual(await Promise.all(accepted), [1, 2, 3]);
    assert.deepEqual(order, [1, 2, 3], 'queued tasks run first come, first served');
    assert.equal(await limit.run(() => Promise.resolve('again')), 'again');
  });

  it('frees the slot of a task that fails', async () => {
    const limit = new ConcurrencyLimit({ maxActive: 1, maxQueued: 0 });
    await assert.rejects(
      limit.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(limit.active, 0);
    assert.equal(await limit.run(() => Promise.resolve(1)), 1);
  });

  it('sizes the process-wide password limit to max(2, CPUs)', () => {
    assert.equal(passwordCheckLimit.maxActive, Math.max(2, availableParallelism()));
    assert.ok(passwordCheckLimit.maxQueued >= passwordCheckLimit.maxActive);
  });
});

describe('verifyPassword under the limit', () => {
  it('queues checks while the limit is busy and gives each its own verdict', async () => {
    const hash = await hashPassword('right one');
    const limit = new ConcurrencyLimit({ maxActive: 1, maxQueued: 4 });
    const held = gate();
    const blocker = limit.run(() => held.opened);
    const right = verifyPassword('right one', hash, limit);
    const wrong = verifyPassword('wrong one', hash, limit);
    await tick();
    assert.equal(limit.queued, 2, 'both checks wait for the busy slot');
    held.open();
    await blocker;
    assert.deepEqual(await Promise.all([right, wrong]), [true, false]);
  });

  it('fails a check at once when the queue is full, without throwing', async () => {
    const hash = await hashPassword('right one');
    const limit = new ConcurrencyLimit({ maxActive: 1, maxQueued: 1 });
    const held = gate();
    const busy = [limit.run(() => held.opened), limit.run(() => held.opened)];
    const started = Date.now();
    assert.equal(await verifyPassword('right one', hash, limit), false);
    assert.ok(Date.now() - started < 1000, 'refused without waiting');
    held.open();
    await Promise.all(busy);
    assert.equal(await verifyPassword('right one', hash, limit), true);
  });

  it('goes through the process-wide limit by default', async () => {
    const hash = await hashPassword('right one');
    const held = gate();
    const slots = passwordCheckLimit.maxActive + passwordCheckLimit.maxQueued;
    const busy = Array.from({ length: slots }, () => passwordCheckLimit.run(() => held.opened));
    assert.equal(await verifyPassword('right one', hash), false, 'refused while saturated');
    held.open();
    await Promise.all(busy);
    assert.equal(await verifyPassword('right one', hash), true);
  });
});
