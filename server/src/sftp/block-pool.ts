/**
 * Reusable fixed-size buffers for the transfer path: WRITE packets that arrive in pieces and
 * the data of READ replies. V8 counts every Buffer above 4 KiB as external memory, and at a few
 * hundred MiB/s that churn forced a full collection every few dozen milliseconds; reused blocks
 * keep a transfer out of the collector.
 *
 * A block goes back only through `release`, once nothing reads it any more. A block released
 * twice, or memory that never came from a pool, is ignored, so a stray release cannot hand one
 * block to two users.
 */
export class BlockPool {
  readonly blockSize: number;
  readonly #maxFree: number;
  readonly #free: Buffer[] = [];
  /** Blocks handed out and not yet released, by their memory. */
  readonly #lent = new WeakSet<ArrayBufferLike>();

  constructor(blockSize: number, maxFree: number) {
    this.blockSize = blockSize;
    this.#maxFree = maxFree;
  }

  /** Free blocks kept for reuse. */
  get freeCount(): number {
    return this.#free.length;
  }

  /** A block of `blockSize` bytes, with unspecified contents. */
  take(): Buffer {
    const block = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.blockSize);
    this.#lent.add(block.buffer);
    return block;
  }

  /** Returns true when `view` lies in a block this pool lent, which is now back. */
  release(view: Uint8Array): boolean {
    const memory = view.buffer;
    if (!this.#lent.has(memory)) return false;
    this.#lent.delete(memory);
    if (this.#free.length < this.#maxFree) {
      this.#free.push(Buffer.from(memory, 0, this.blockSize));
    }
    return true;
  }
}

/** Free blocks kept per shared pool: 64 of 256 KiB, 16 MiB, the READ data one session keeps in flight. */
const MAX_FREE_BLOCKS = 64;

const sharedPools = new Map<number, BlockPool>();

/** The process-wide pool of `size`-byte blocks, shared by every session. */
export function blockPool(size: number): BlockPool {
  let pool = sharedPools.get(size);
  if (pool === undefined) {
    pool = new BlockPool(size, MAX_FREE_BLOCKS);
    sharedPools.set(size, pool);
  }
  return pool;
}
