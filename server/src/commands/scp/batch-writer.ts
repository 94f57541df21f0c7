/**
 * Writes what arrives from the channel into a file in batches, one batch on its way to the
 * backend while the next one fills, so the disk and the network overlap. At most two batches
 * are held; the channel is not read while both are busy, which holds the client back.
 * After the first failed write the rest is dropped and the error kept for the caller. Each
 * chunk goes to `release` once its write settled, so the transport can reuse its memory.
 */
import type { VfsFile } from '../../vfs/types.js';

/** Large enough that a write costs little per byte, small enough to keep memory flat. */
const BATCH_BYTES = 1024 * 1024;

export class BatchWriter {
  readonly #file: VfsFile;
  readonly #release: ((chunk: Buffer) => void) | undefined;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #position = 0;
  #inFlight: Promise<void> | undefined;
  #error: unknown;
  #failed = false;

  constructor(file: VfsFile, release?: (chunk: Buffer) => void) {
    this.#file = file;
    this.#release = release;
  }

  /** The first write error, if any. */
  get error(): unknown {
    return this.#error;
  }

  get failed(): boolean {
    return this.#failed;
  }

  async push(chunk: Buffer): Promise<void> {
    if (this.#failed) return;
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    if (this.#batchBytes >= BATCH_BYTES) await this.#send();
  }

  /** Writes what is left and waits for every write. */
  async flush(): Promise<void> {
    if (!this.#failed && this.#batchBytes > 0) await this.#send();
    await this.#inFlight;
  }

  async #send(): Promise<void> {
    await this.#inFlight;
    if (this.#failed) return;
    const data = this.#batch;
    const at = this.#position;
    this.#position += this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#inFlight = this.#file
      .write(data, at)
      .catch((err: unknown) => {
        this.#failed = true;
        this.#error = err;
      })
      .finally(() => this.#releaseAll(data));
  }

  #releaseAll(chunks: Buffer[]): void {
    const release = this.#release;
    if (release !== undefined) for (const chunk of chunks) release(chunk);
  }
}
