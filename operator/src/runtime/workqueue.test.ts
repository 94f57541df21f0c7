import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { WorkQueue } from './workqueue.js';

describe('WorkQueue', () => {
  it('keeps a key waiting once however often it is added', async () => {
    const queue = new WorkQueue<string>();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    assert.equal(queue.length, 2);
    assert.equal(await queue.get(), 'a');
    assert.equal(await queue.get(), 'b');
    assert.equal(queue.length, 0);
  });

  it('never hands a key being processed to a second worker, and hands it back once done', async () => {
    const queue = new WorkQueue<string>();
    queue.add('a');
    const first = await queue.get();
    assert.equal(first, 'a');
    queue.add('a');
    queue.add('a');
    assert.equal(queue.length, 0, 'a key in flight does not wait in the queue');
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await sleep(5);
    assert.equal(second, undefined);
    queue.done('a');
    await sleep(5);
    assert.equal(second, 'a', 'added while processing: back once, after done');
    queue.done('a');
    assert.equal(queue.length, 0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue<string>();
    const next = queue.get();
    queue.add('x');
    assert.equal(await next, 'x');
  });

  it('delays a key and keeps only the earliest pending delay', async () => {
    const queue = new WorkQueue<string>();
    queue.addAfter('k', 200);
    queue.addAfter('k', 30);
    queue.addAfter('k', 500);
    assert.equal(queue.length, 0);
    const started = Date.now();
    assert.equal(await queue.get(), 'k');
    const waited = Date.now() - started;
    assert.ok(waited >= 25 && waited < 180, `waited ${waited} ms`);
  });

  it('backs off per key, doubling per failure, and starts over after forget', () => {
    const queue = new WorkQueue<string>({ backoff: { baseMs: 10, maxMs: 50 } });
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => queue.addRateLimited('a')),
      [10, 20, 40, 50, 50],
    );
    assert.equal(queue.addRateLimited('b'), 10, 'another key has its own count');
    queue.forget('a');
    assert.equal(queue.addRateLimited('a'), 10);
    queue.shutdown();
  });

  it('ends waiting workers at shutdown', async () => {
    const queue = new WorkQueue<string>();
    const next = queue.get();
    queue.shutdown();
    assert.equal(await next, undefined);
    queue.add('late');
    assert.equal(await queue.get(), undefined);
  });
});
