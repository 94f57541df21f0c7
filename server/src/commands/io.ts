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
  /** Gives the memory of a chunk read from `input` back to the transport once done with it. */
  releaseInput?: (chunk: Buffer) => void;
}

function channelClosed(): KubesftpError {
  return new KubesftpError(ErrorCode.FAILURE, 'the channel is closed');
}

/**
 * Resolves once `data` is handed to the stream and the stream can take more. When it cannot,
 * this waits for the chunk's own write callback (or for `closed`), not for "drain".
 */
function writeTo(
  stream: Writable,
  data: Buffer | string,
  closed?: AbortSignal,
  written?: () => void,
): Promise<void> {
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
      written?.();
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

/**
 * Writes to the command's standard output with backpressure. `written` runs from the write's
 * callback: on an SSH channel `data` has then been copied into packets, so its memory can be
 * reused (a stream that keeps what it was given, a PassThrough, must be read by copying).
 */
export function writeOut(
  io: CommandIo,
  data: Buffer | string,
  written?: () => void,
): Promise<void> {
  return writeTo(io.output, data, io.closed, written);
}

/** Writes to the command's standard error with backpressure. */
export function writeErr(io: CommandIo, data: Buffer | string): Promise<void> {
  return writeTo(io.errors, data, io.closed);
}

/** Bytes taken from the channel ahead of the reader before it stops taking more. */
const READ_AHEAD_BYTES = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Pulls the client's bytes on demand: nothing is read from the channel until a caller asks,
 * then at most READ_AHEAD_BYTES ahead, so a slow file system holds the client back through the
 * SSH window. Chunks are taken one by one as the channel delivered them ('data' in flowing
 * mode), never joined: a reader asking for up to a chunk's size gets that very chunk, which it
 * may hand back with `release` once nothing reads it any more.
 */
export class InputReader {
  readonly #input: Readable;
  readonly #release: ((chunk: Buffer) => void) | undefined;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #started = false;
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  /** What is left of the chunk being read, or several joined for a line. */
  #pending: Buffer = EMPTY;
  /** #pending is a chunk as the channel delivered it, not a slice or a join. */
  #pendingWhole = false;
  /** Chunks handed out whole, which `release` may give back. */
  readonly #handedOut = new WeakSet<Buffer>();

  /** `release` gives a chunk's memory back to the transport (releaseIncomingPacket). */
  constructor(input: Readable, release?: (chunk: Buffer) => void) {
    this.#input = input;
    this.#release = release;
  }

  /** True once the client sent EOF and every byte was taken. */
  get ended(): boolean {
    return this.#ended && this.#queue.length === 0 && this.#pending.length === 0;
  }

  #start(): void {
    this.#started = true;
    const input = this.#input;
    input.on('data', (chunk: Buffer | string) => {
      const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      this.#queue.push(data);
      this.#queued += data.length;
      if (this.#queued >= READ_AHEAD_BYTES) input.pause();
      this.#notify();
    });
    // Not destroyed at end of input: the channel must stay open to send the exit status.
    input.once('end', () => {
      this.#ended = true;
      this.#notify();
    });
    input.once('close', () => {
      if (!this.#ended) this.#failure ??= channelClosed();
      this.#notify();
    });
    input.once('error', (err: Error) => {
      this.#failure ??= err;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next chunk as delivered, or undefined at end of input. */
  async #next(): Promise<Buffer | undefined> {
    if (!this.#started) this.#start();
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.length;
        if (this.#queued < READ_AHEAD_BYTES && this.#input.isPaused()) this.#input.resume();
        return chunk;
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async #fill(): Promise<boolean> {
    const chunk = await this.#next();
    if (chunk === undefined) return false;
    this.#pendingWhole = this.#pending.length === 0;
    this.#pending = this.#pendingWhole ? chunk : Buffer.concat([this.#pending, chunk]);
    return true;
  }

  /** Up to `max` bytes, at least one; an empty buffer at end of input. */
  async read(max: number): Promise<Buffer> {
    if (this.#pending.length === 0 && !(await this.#fill())) return EMPTY;
    if (this.#pending.length <= max) {
      const all = this.#pending;
      if (this.#pendingWhole) this.#handedOut.add(all);
      this.#pending = EMPTY;
      return all;
    }
    const taken = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(max);
    this.#pendingWhole = false;
    return taken;
  }

  /**
   * Gives back a buffer `read` returned, once nothing reads it any more. Only a chunk handed
   * out whole goes back; anything else is left to the collector.
   */
  release(chunk: Buffer): void {
    if (!this.#handedOut.delete(chunk)) return;
    this.#release?.(chunk);
  }

  /** One line without its "\n"; undefined at end of input. Longer than `max` is an error. */
  async readLine(max: number): Promise<string | undefined> {
    for (;;) {
      const end = this.#pending.indexOf(0x0a);
      if (end >= 0) {
        const line = this.#pending.subarray(0, end).toString('utf8');
        this.#pending = this.#pending.subarray(end + 1);
        this.#pendingWhole = false;
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
    this.#pending = EMPTY;
    while ((await this.#next()) !== undefined);
  }
}
