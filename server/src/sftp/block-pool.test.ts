import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockPool, SizedBlockPools, sftpBlockPools } from './block-pool.js';

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

describe('SizedBlockPools', () => {
  it('lends from the smallest size that holds the request and takes each block back', () => {
    const pools = new SizedBlockPools([65_536, 4096, 16_384], 4);
    assert.deepEqual(
      pools.pools.map((pool) => pool.blockSize),
      [4096, 16_384, 65_536],
    );
    const small = pools.take(4000);
    const middle = pools.take(4097);
    const large = pools.take(65_536);
    assert.deepEqual([small.length, middle.length, large.length], [4096, 16_384, 65_536]);
    for (const block of [small, middle.subarray(10, 20), large]) {
      assert.equal(pools.release(block), true);
    }
    assert.deepEqual(
      pools.pools.map((pool) => pool.freeCount),
      [1, 1, 1],
    );
    assert.equal(pools.release(middle), false, 'a second release is ignored');
    assert.equal(pools.release(Buffer.allocUnsafeSlow(4096)), false, 'foreign memory too');
    assert.throws(() => pools.take(65_537), RangeError);
  });

  it('gives the SFTP engine 32, 64 and 128 KiB of data with header room, and the largest packet', () => {
    const sizes = sftpBlockPools(256 * 1024 + 4).pools.map((pool) => pool.blockSize);
    assert.deepEqual(sizes, [33 * 1024, 65 * 1024, 129 * 1024, 256 * 1024 + 4]);
    assert.equal(sftpBlockPools(256 * 1024 + 4), sftpBlockPools(256 * 1024 + 4), 'shared');
    assert.deepEqual(
      sftpBlockPools(40_000).pools.map((pool) => pool.blockSize),
      [33 * 1024, 40_000],
    );
  });
});
