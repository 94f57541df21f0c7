import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockPool } from './block-pool.js';

describe('BlockPool', () => {
  it('lends blocks of its size and reuses a released one', () => {
    const pool = new BlockPool(8192, 4);
    const block = pool.take();
    assert.equal(block.length, 8192);
    assert.equal(pool.release(block.subarray(100, 200)), true, 'a view of the block releases it');
    assert.equal(pool.freeCount, 1);
    assert.equal(pool.take().buffer, block.buffer, 'the released memory is lent again');
    assert.equal(pool.freeCount, 0);
  });

  it('ignores a second release, so one block never goes to two users', () => {
    const pool = new BlockPool(8192, 4);
    const block = pool.take();
    assert.equal(pool.release(block), true);
    assert.equal(pool.release(block), false);
    assert.equal(pool.freeCount, 1);
    const first = pool.take();
    const second = pool.take();
    assert.notEqual(first.buffer, second.buffer);
  });

  it('ignores memory it did not lend, even of the same size', () => {
    const pool = new BlockPool(8192, 4);
    assert.equal(pool.release(Buffer.allocUnsafeSlow(8192)), false);
    assert.equal(pool.release(Buffer.from('small')), false);
    assert.equal(pool.freeCount, 0);
  });

  it('keeps at most its limit of free blocks and lets the rest go', () => {
    const pool = new BlockPool(4096, 2);
    const blocks = [pool.take(), pool.take(), pool.take()];
    for (const block of blocks) assert.equal(pool.release(block), true);
    assert.equal(pool.freeCount, 2);
  });
});
