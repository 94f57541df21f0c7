/**
 * SHA-256 for the S3 client's request signatures. Over plain HTTP, SigV4 signs the hash of
 * every body, and the SDK's hash runs on the event loop, which also decrypts SSH: an 8 MiB
 * part held that loop about ten milliseconds. Bodies from OFF_LOOP_BYTES on are hashed with
 * WebCrypto's digest, which runs on the libuv thread pool; small inputs (canonical requests,
 * the keys of the signature's HMAC chain) stay synchronous, cheaper than a thread hop.
 */
import { createHash, createHmac, webcrypto } from 'node:crypto';

/** Inputs this large are hashed off the event loop. */
export const OFF_LOOP_BYTES = 64 * 1024;

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** The SDK's Checksum shape: an HMAC when built with a secret, else a plain hash. */
export class OffLoopSha256 {
  readonly #secret: Uint8Array | undefined;
  #chunks: Uint8Array[] = [];
  #length = 0;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : bytesOf(secret);
  }

  update(data: SourceData): void {
    const bytes = bytesOf(data);
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  async digest(): Promise<Uint8Array> {
    if (this.#secret === undefined && this.#length >= OFF_LOOP_BYTES) {
      const data = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      return new Uint8Array(await webcrypto.subtle.digest('SHA-256', data));
    }
    const hash =
      this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
    for (const chunk of this.#chunks) hash.update(chunk);
    return hash.digest();
  }

  reset(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}
