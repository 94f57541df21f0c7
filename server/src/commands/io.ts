/**
 * The byte streams of one exec request and the two ways commands use them: reading the
 * client's input as lines and counted runs of bytes (SCP), and writing with backpressure, so
 * neither side ever holds more than a channel window plus one chunk.
 */
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, KubesftpError } from '../errors.js';

/** An exec channel as commands see it: stdin, stdout and stderr of the remote command. */
export interface CommandIo {
  input: Readable;
  output: Writable;
  errors: Writable;
  /**
   * Aborted once the channel is gone. A write waiting for room then fails: the SSH channel
   * itself would keep such a write pending forever.
   */
  closed?: AbortSignal;
}

function channelClosed(): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, 'the channel is closed');
}

/**
 * Resolves once `data` is handed to the stream and the stream can take more. When it cannot,
 * this waits for the chunk's own write callback (or for `closed`), not for "drain".
 */
function writeTo(stream: Writable, data: Buffer | string, closed?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed || stream.writableEnded || closed?.aborted === true) {
      reject(channelClosed());
      return;
    }
    let outcome: 'pending' | 'written' | 'failed' = 'pending';
    let waiting = false;
    const onClosed = (): void => reject(channelClosed());
    const settle = (): void => {
      closed?.removeEventListener('abort', onClosed);
      if (outcome === 'written') resolve();
      else reject(channelClosed());
    };
    const fits = stream.write(data, (err) => {
      outcome = err ? 'failed' : 'written';
      if (waiting) settle();
    });
    if (fits) resolve();
    else if (outcome !== 'pending') settle();
    else {
      waiting = true;
      closed?.addEventListener('abort', onClosed, { once: true });
    }
  });
}

/** Writes to the command's standard output with backpressure. */
export function writeOut(io: CommandIo, data: Buffer | string): Promise<void> {
  return writeTo(io.output, data, io.closed);
}

/** Writes to the command's standard error with backpressure. */
export function writeErr(io: CommandIo, data: Buffer | string): Promise<void> {
  return writeTo(io.errors, data, io.closed);
}

/**
 * Pulls the client's bytes on demand: nothing is read from the channel until a caller asks,
 * so a slow file system holds the client back through the SSH window.
 */
export class InputReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(input: Readable) {
    // Not destroyed at end of input: the channel must stay open to send the exit status.
    this.#chunks = input.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  }

  /** True once the client sent EOF and every byte was taken. */
  get ended(): boolean {
    return this.#ended && this.#pending.length === 0;
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#chunks.next();
    if (next.done === true) {
      this.#ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return true;
  }

  /** Up to `max` bytes, at least one; an empty buffer at end of input. */
  async read(max: number): Promise<Buffer> {
    if (this.#pending.length === 0 && !(await this.#fill())) return Buffer.alloc(0);
    const taken = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(taken.length);
    return taken;
  }

  /** One line without its "\n"; undefined at end of input. Longer than `max` is an error. */
  async readLine(max: number): Promise<string | undefined> {
    for (;;) {
      const end = this.#pending.indexOf(0x0a);
      if (end >= 0) {
        const line = this.#pending.subarray(0, end).toString('utf8');
        this.#pending = this.#pending.subarray(end + 1);
        return line;
      }
      if (this.#pending.length > max) {
        throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'protocol line too long');
      }
      if (!(await this.#fill())) {
        if (this.#pending.length === 0) return undefined;
        throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'input ended inside a line');
      }
    }
  }

  /** Drops everything the client still sends, so it can finish writing and read our reply. */
  async drain(): Promise<void> {
    this.#pending = Buffer.alloc(0);
    while (await this.#fill()) this.#pending = Buffer.alloc(0);
  }
}
