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

/** Free blocks kept per pool (per size): of 256 KiB, 16 MiB, the READ data one session keeps in flight. */
const MAX_FREE_BLOCKS = 64;

/**
 * Blocks of a few sizes, each lent from the smallest that holds what is asked. Clients write
 * and read 32 KiB, 64 KiB or 256 KiB at a time (rclone, paramiko and WinSCP 32 KiB, OpenSSH up
 * to our 256 KiB limit): with one size, a pending 32 KiB WRITE held a whole 256 KiB block, eight
 * times what the pending-bytes bounds count for it.
 */
export class SizedBlockPools {
  /** Ascending by block size. */
  readonly #pools: BlockPool[];
  readonly #bySize = new Map<number, BlockPool>();

  /** `sizes` must be distinct; the largest is the most any caller may ask for. */
  constructor(sizes: readonly number[], maxFree: number) {
    this.#pools = [...sizes].sort((a, b) => a - b).map((size) => new BlockPool(size, maxFree));
    for (const pool of this.#pools) this.#bySize.set(pool.blockSize, pool);
  }

  /** The pool of each size, smallest first. */
  get pools(): readonly BlockPool[] {
    return this.#pools;
  }

  /** A block of at least `size` bytes (its whole length; callers view what they use). */
  take(size: number): Buffer {
    const pool = this.#pools.find((candidate) => candidate.blockSize >= size);
    if (pool === undefined) throw new RangeError(`no block holds ${size} bytes`);
    return pool.take();
  }

  /** Returns true when `view` lies in a block one of the pools lent, which is now back. */
  release(view: Uint8Array): boolean {
    return this.#bySize.get(view.buffer.byteLength)?.release(view) ?? false;
  }
}

/** Room beside a request's data for its header: a 32 KiB WRITE is 32 KiB and 33 bytes. */
const HEADER_ROOM = 1024;
const SMALLER_DATA_SIZES = [32 * 1024, 64 * 1024, 128 * 1024];

const sharedSizedPools = new Map<number, SizedBlockPools>();

/**
 * The process-wide pools of the SFTP engine for packets of up to `maxSize` bytes: 32, 64 and
 * 128 KiB of data with room for a header, and `maxSize`.
 */
export function sftpBlockPools(maxSize: number): SizedBlockPools {
  let pools = sharedSizedPools.get(maxSize);
  if (pools === undefined) {
    const smaller = SMALLER_DATA_SIZES.map((size) => size + HEADER_ROOM).filter(
      (size) => size < maxSize,
    );
    pools = new SizedBlockPools([...smaller, maxSize], MAX_FREE_BLOCKS);
    sharedSizedPools.set(maxSize, pools);
  }
  return pools;
}

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
