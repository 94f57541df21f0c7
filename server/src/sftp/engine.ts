import type { Duplex } from 'node:stream';
import type { Vfs } from '../vfs/types.js';
import { sftpBlockPools } from './block-pool.js';
import { processPendingBudget, type PendingBudget } from './pending-budget.js';
import { MAX_BATCH_REQUESTS, PacketType, SFTP_VERSION, StatusCode } from './constants.js';
import {
  resolveLimits,
  type Reply,
  type RequestContext,
  type RequestRow,
  type SftpLimits,
} from './context.js';
import { BAD_LENGTH, FrameBuffer } from './framing.js';
import { HandleTable, type OpenHandle } from './handles.js';
import type { NameLookup } from './longname.js';
import { SerialQueues } from './queues.js';
import { PacketReader } from './reader.js';
import { toStatus } from './status.js';
import { advertisedExtensions, EXTENSIONS, isServed, REQUESTS } from './table.js';
import { encodeStatus, encodeVersion } from './writer.js';

type LogMethod = (fields: object, message: string) => void;
/** The pino methods the engine uses, so tests can pass a recorder. */
export interface SftpLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

export interface SftpSessionOptions {
  /** The raw `sftp` subsystem channel (or any byte stream speaking SFTP). */
  stream: Duplex;
  vfs: Vfs;
  logger: SftpLogger;
  limits?: SftpLimits;
  /** Virtual path of the user's home, for expand-path and home-directory; defaults to "/". */
  homeDirectory?: string;
  /** The session's user, so `~name` and home-directory answer for that name only. */
  username?: string;
  names?: NameLookup;
  /**
   * Gives a chunk of `stream` back to the transport that lent it, once the engine has copied it
   * out and holds no view of it (see FrameBuffer).
   */
  releaseChunk?: (chunk: Buffer) => void;
  /**
   * The connection under the stream: held while the process's budget of pending bytes
   * (pending-budget.ts) stops the session, so that what the client sends next stays in the
   * kernel instead of piling up decrypted in the channel. Pausing the channel alone does not
   * stop what its window already allows.
   */
  input?: InputHold;
  /**
   * The process-wide bound of pending bytes; by default the one for `limits.maxInFlightBytes`.
   * A session bounded below the server's setting (a throttled one) must be given the server's.
   */
  pendingBudget?: PendingBudget;
  /**
   * Called once, right before the engine ends the stream, so the transport can report an
   * exit status (clients such as scp treat a missing one as failure).
   */
  beforeEnd?: () => void;
}

/** Stops and restarts reading a connection; holds are counted by whoever implements it. */
export interface InputHold {
  hold(): void;
  release(): void;
}

export interface SftpSession {
  /** Settles once the session has ended and every handle has been aborted or closed. */
  readonly closed: Promise<void>;
  /** Ends the session: stops reading, aborts every open handle and ends the stream. */
  close(): Promise<void>;
}

interface Job {
  row: RequestRow<unknown>;
  id: number;
  args: unknown;
  bytes: number;
  /** The request packet; `args` may view into it, so its block is released with the job. */
  packet: Buffer;
}

export function serveSftp(options: SftpSessionOptions): SftpSession {
  return new SftpEngine(options);
}

class SftpEngine implements SftpSession {
  readonly closed: Promise<void>;
  readonly #stream: Duplex;
  readonly #log: SftpLogger;
  readonly #ctx: RequestContext;
  readonly #beforeEnd: (() => void) | undefined;
  readonly #frames: FrameBuffer;
  readonly #queues = new SerialQueues<Job>(
    (jobs) => this.#executeQueued(jobs),
    (queue) => this.#batchLength(queue),
  );
  #initialized = false;
  #ending = false;
  #inFlight = 0;
  #inFlightBytes = 0;
  #waitingDrain = false;
  #paused = false;
  readonly #input: InputHold | undefined;
  #holdingInput = false;
  readonly #budget: PendingBudget;
  #settled: (() => void) | undefined;
  #resolveClosed!: () => void;

  constructor(options: SftpSessionOptions) {
    const limits = resolveLimits(options.limits);
    this.#stream = options.stream;
    this.#log = options.logger;
    this.#beforeEnd = options.beforeEnd;
    this.#input = options.input;
    this.#budget = options.pendingBudget ?? processPendingBudget(limits.maxInFlightBytes);
    // The largest block holds any packet, so also any READ's data.
    const blocks = sftpBlockPools(limits.maxPacketLength + 4);
    this.#frames = new FrameBuffer(limits.maxPacketLength, blocks, options.releaseChunk);
    this.#ctx = {
      vfs: options.vfs,
      blocks,
      handles: new HandleTable(limits.maxOpenHandles),
      limits,
      homeDirectory: options.homeDirectory ?? '/',
      username: options.username,
      names: options.names,
    };
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#stream.on('data', this.#onData);
    this.#stream.on('drain', this.#onDrain);
    this.#stream.on('end', this.#onEnd);
    this.#stream.on('close', this.#onEnd);
    this.#stream.on('error', this.#onError);
  }

  close(): Promise<void> {
    void this.#shutdown();
    return this.closed;
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ending) return;
    this.#frames.push(chunk);
    this.#pump();
  };

  readonly #onBudgetRoom = (): void => {
    this.#pump();
  };

  readonly #onDrain = (): void => {
    this.#waitingDrain = false;
    this.#pump();
  };

  readonly #onEnd = (): void => {
    void this.#shutdown();
  };

  readonly #onError = (err: Error): void => {
    this.#log.debug({ err: err.message }, 'sftp channel error');
    void this.#shutdown();
  };

  #canAccept(): boolean {
    return (
      !this.#waitingDrain &&
      this.#inFlight < this.#ctx.limits.maxInFlightRequests &&
      !this.#overBytes()
    );
  }

  /** Over the session's bytes bound or the process's; never while holding nothing. */
  #overBytes(): boolean {
    const own = this.#inFlightBytes;
    return own >= this.#ctx.limits.maxInFlightBytes || !this.#budget.allows(own);
  }

  /**
   * Stopped by the process's budget alone (its limit or the session's share of it). Only then is
   * the connection held: at its own bound a session pauses its channel, whose window stops the
   * client, and holding the connection there too would stop its other channels and keepalives
   * for as long as a throttled upload takes. A full reply channel (#waitingDrain) never holds
   * it, since the client's window adjustment that ends that wait arrives on the connection.
   */
  #stoppedByBudget(): boolean {
    const own = this.#inFlightBytes;
    return own < this.#ctx.limits.maxInFlightBytes && !this.#budget.allows(own);
  }

  #holdInput(hold: boolean): void {
    // Another session's completion may free the budget before this one's own work does.
    if (hold) this.#budget.waitForRoom(this.#onBudgetRoom);
    if (hold === this.#holdingInput) return;
    this.#holdingInput = hold;
    if (hold) this.#input?.hold();
    else this.#input?.release();
  }

  /** Handles buffered packets while under every bound; otherwise stops reading the channel. */
  #pump(): void {
    while (!this.#ending && this.#canAccept()) {
      const packet = this.#frames.next();
      if (packet === null) break;
      if (packet === BAD_LENGTH) {
        this.#fatal('packet length out of bounds');
        return;
      }
      this.#handlePacket(packet);
    }
    if (this.#ending) return;
    this.#holdInput(this.#stoppedByBudget());
    const paused = !this.#canAccept();
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (paused) this.#stream.pause();
    else this.#stream.resume();
  }

  #handlePacket(packet: Buffer): void {
    const reader = new PacketReader(packet);
    const type = reader.u8();
    if (!this.#initialized) {
      this.#handleInit(type, reader);
      return;
    }
    if (type === PacketType.INIT) {
      this.#fatal('duplicate INIT');
      return;
    }
    const id = reader.u32();
    const row = this.#lookup(type, reader);
    if (reader.failed) {
      this.#fatal('truncated packet header', { type });
      return;
    }
    if (row === undefined) {
      this.#send(encodeStatus(id, StatusCode.OP_UNSUPPORTED));
      return;
    }
    this.#dispatch(row, { id, reader, packet });
  }

  #handleInit(type: number, reader: PacketReader): void {
    const version = reader.u32();
    if (type !== PacketType.INIT || reader.failed) {
      this.#fatal('first packet is not INIT', { type });
      return;
    }
    this.#initialized = true;
    this.#log.debug({ clientVersion: version }, 'sftp session started');
    this.#send(encodeVersion(SFTP_VERSION, advertisedExtensions(this.#ctx.vfs.capabilities)));
  }

  /** The row for a request, or undefined when unknown or not served by this backend. */
  #lookup(type: number, reader: PacketReader): RequestRow<unknown> | undefined {
    let row: RequestRow<unknown> | undefined;
    if (type === PacketType.EXTENDED) {
      const name = reader.string();
      row = EXTENSIONS.get(name);
      // An unknown extension MUST get SSH_FX_OP_UNSUPPORTED (draft-ietf-secsh-filexfer-02 8.4).
      if (row === undefined) this.#log.debug({ extension: name }, 'unsupported extension');
    } else {
      row = REQUESTS.get(type);
      if (row === undefined) this.#log.debug({ type }, 'unsupported request type');
    }
    if (row !== undefined && !isServed(row, this.#ctx.vfs.capabilities)) return undefined;
    return row;
  }

  #dispatch(
    row: RequestRow<unknown>,
    request: { id: number; reader: PacketReader; packet: Buffer },
  ): void {
    const args = row.decode(request.reader);
    if (request.reader.failed) {
      this.#fatal('malformed request', { request: row.name, requestId: request.id });
      return;
    }
    if (row.writes && row.hot !== true) {
      // Debug: what a change did is logged once done (Upload, Mkdir, Rename...), and failures
      // on their own; at info this was a second line per uploaded file.
      this.#log.debug({ request: row.name, requestId: request.id }, 'sftp request');
    }
    const { packet } = request;
    const job: Job = { row, id: request.id, args, bytes: packet.length, packet };
    this.#inFlight++;
    this.#budget.take(job.bytes, this.#inFlightBytes);
    this.#inFlightBytes += job.bytes;
    const key = row.queueKey?.(args);
    if (key !== undefined && this.#ctx.handles.has(key)) this.#queues.push(key, job);
    else void this.#execute(job);
  }

  /** How many jobs at the head of a handle's queue continue each other (same row, next range). */
  #batchLength(queue: readonly Job[]): number {
    const row = queue[0]?.row;
    if (row?.continues === undefined || row.runBatch === undefined) return 1;
    let count = 1;
    while (count < queue.length && count < MAX_BATCH_REQUESTS) {
      const prev = queue[count - 1]!;
      const next = queue[count]!;
      if (next.row !== row || !row.continues(this.#ctx, prev.args, next.args)) break;
      count++;
    }
    return count;
  }

  #executeQueued(jobs: Job[]): Promise<void> {
    return jobs.length === 1 ? this.#execute(jobs[0]!) : this.#executeBatch(jobs);
  }

  /** Several continuing requests served together; a failure answers each of them. */
  async #executeBatch(jobs: Job[]): Promise<void> {
    const row = jobs[0]!.row;
    let replies: Reply[];
    try {
      replies = await row.runBatch!(this.#ctx, jobs);
    } catch (err) {
      replies = jobs.map((job) => this.#failureReply(job, err));
    }
    for (const job of jobs) this.#release(job);
    if (!this.#ending) this.#sendAll(replies);
    this.#pump();
  }

  async #execute(job: Job): Promise<void> {
    let reply: Reply;
    try {
      reply = await job.row.run(this.#ctx, job.id, job.args);
    } catch (err) {
      reply = this.#failureReply(job, err);
    }
    this.#release(job);
    if (!this.#ending) this.#send(reply);
    this.#pump();
  }

  #failureReply(job: Job, err: unknown): Buffer {
    const { code, error } = toStatus(err);
    const level = code === StatusCode.FAILURE ? 'warn' : 'debug';
    this.#log[level](
      { request: job.row.name, requestId: job.id, code: error.code, err: error.message },
      'sftp request failed',
    );
    return encodeStatus(job.id, code);
  }

  #release(job: Job): void {
    this.#ctx.blocks.release(job.packet);
    this.#inFlight--;
    this.#inFlightBytes -= job.bytes;
    this.#budget.give(job.bytes, this.#inFlightBytes);
    if (this.#inFlight === 0) this.#settled?.();
  }

  /**
   * Replies of one batch. Whole small replies (the STATUS answers to a write batch) go out as
   * one channel write, so as one SSH packet rather than one each.
   */
  #sendAll(replies: readonly Reply[]): void {
    if (replies.every((reply) => Buffer.isBuffer(reply))) {
      this.#send(Buffer.concat(replies));
      return;
    }
    for (const reply of replies) this.#send(reply);
  }

  #send(reply: Reply): void {
    if (Buffer.isBuffer(reply)) {
      this.#sendPacket(reply);
      return;
    }
    // A part may lie in a pool block (READ data): it goes back once the channel has copied it.
    for (const part of reply) this.#sendPacket(part, () => this.#ctx.blocks.release(part));
  }

  #sendPacket(packet: Buffer, done?: () => void): void {
    if (!this.#stream.writable) {
      done?.();
      return;
    }
    if (!this.#stream.write(packet, done)) this.#waitingDrain = true;
  }

  #fatal(reason: string, fields: object = {}): void {
    this.#log.warn({ ...fields, reason }, 'sftp session ended: bad packet');
    void this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    if (this.#ending) return;
    this.#ending = true;
    this.#budget.stopWaiting(this.#onBudgetRoom);
    this.#holdInput(false);
    this.#stream.off('data', this.#onData);
    for (const job of this.#queues.cancel()) this.#release(job);
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#settled = resolve));
    await Promise.all(this.#ctx.handles.closeAll().map((handle) => this.#abortHandle(handle)));
    if (this.#stream.writable) {
      this.#beforeEnd?.();
      this.#stream.end();
    }
    this.#resolveClosed();
  }

  async #abortHandle(handle: OpenHandle): Promise<void> {
    try {
      if (handle.kind === 'file') await handle.file.abort();
      else await handle.dir.close();
    } catch (err) {
      this.#log.warn(
        { path: handle.path, err: String(err) },
        'closing handle at session end failed',
      );
    }
  }
}
