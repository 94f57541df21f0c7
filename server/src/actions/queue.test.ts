import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionQueue } from './queue.js';

/** A job that runs until released, counting how many run at once. */
function gate(): { job: () => Promise<void>; release(): void; started: number; peak: number } {
  const waiters: (() => void)[] = [];
  const state = {
    started: 0,
    peak: 0,
    running: 0,
    job: async (): Promise<void> => {
      state.started += 1;
      state.running += 1;
      state.peak = Math.max(state.peak, state.running);
      await new Promise<void>((resolve) => waiters.push(resolve));
      state.running -= 1;
    },
    release(): void {
      for (const resolve of waiters.splice(0)) resolve();
    },
  };
  return state;
}

test('a burst runs at most `concurrency` jobs at once and drops what the queue cannot hold', async () => {
  const queue = new ActionQueue({ concurrency: 3, capacity: 5 });
  const g = gate();
  const accepted = Array.from({ length: 10_000 }, () => queue.push(g.job));
  assert.equal(accepted.filter(Boolean).length, 8, '3 running + 5 waiting');
  assert.equal(accepted.slice(8).some(Boolean), false, 'every later job is refused at once');
  assert.equal(queue.running, 3);
  assert.equal(queue.waiting, 5);
  assert.equal(g.started, 3);
  while (queue.running > 0) {
    g.release();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await queue.drained();
  assert.equal(g.started, 8);
  assert.equal(g.peak, 3);
  assert.equal(queue.waiting, 0);
});

test('a job that rejects frees its slot, and drained() waits for the last job', async () => {
  const queue = new ActionQueue({ concurrency: 1, capacity: 1 });
  const order: string[] = [];
  queue.push(() => Promise.reject(new Error('boom')));
  queue.push(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('second');
  });
  await queue.drained();
  assert.deepEqual(order, ['second']);
  assert.equal(
    queue.push(() => Promise.resolve()),
    true,
    'room again after draining',
  );
  await queue.drained();
});
