import type { Vfs } from '../vfs/types.js';
import type { SizedBlockPools } from './block-pool.js';
import {
  MAX_DATA_LENGTH,
  MAX_IN_FLIGHT_BYTES,
  MAX_IN_FLIGHT_REQUESTS,
  MAX_OPEN_HANDLES,
  MAX_PACKET_LENGTH,
  READDIR_BATCH,
} from './constants.js';
import type { HandleTable } from './handles.js';
import type { NameLookup } from './longname.js';
import type { PacketReader } from './reader.js';

/** Tunable bounds of one session; each defaults to the constant of the same meaning. */
export interface SftpLimits {
  maxPacketLength?: number;
  maxReadLength?: number;
  maxOpenHandles?: number;
  maxInFlightRequests?: number;
  maxInFlightBytes?: number;
  readdirBatch?: number;
}

export type ResolvedLimits = Required<SftpLimits> & { maxWriteLength: number };

export function resolveLimits(limits: SftpLimits = {}): ResolvedLimits {
  const maxPacketLength = limits.maxPacketLength ?? MAX_PACKET_LENGTH;
  // A WRITE's data shares its packet with the header fields, so it is bounded by the packet.
  const maxDataLength = Math.min(MAX_DATA_LENGTH, maxPacketLength - 1024);
  return {
    maxPacketLength,
    maxReadLength: Math.min(limits.maxReadLength ?? maxDataLength, maxDataLength),
    maxWriteLength: maxDataLength,
    maxOpenHandles: limits.maxOpenHandles ?? MAX_OPEN_HANDLES,
    maxInFlightRequests: limits.maxInFlightRequests ?? MAX_IN_FLIGHT_REQUESTS,
    maxInFlightBytes: limits.maxInFlightBytes ?? MAX_IN_FLIGHT_BYTES,
    readdirBatch: limits.readdirBatch ?? READDIR_BATCH,
  };
}

/** What a request handler may use: the session's Vfs, handle table and settings. */
export interface RequestContext {
  readonly vfs: Vfs;
  /** Blocks for READ data, each large enough for the longest read served. */
  readonly blocks: SizedBlockPools;
  readonly handles: HandleTable;
  readonly limits: ResolvedLimits;
  /** Virtual path of the user's home, for expand-path and home-directory. */
  readonly homeDirectory: string;
  readonly username: string | undefined;
  readonly names: NameLookup | undefined;
}

/**
 * One row of the request table. Dispatch, the VERSION extension list and the capability check
 * all derive from these rows.
 */
export interface RequestRow<A> {
  /** Display name for logs: the packet name, or the extension name. */
  readonly name: string;
  /** Changes the file system (for the audit log line). */
  readonly writes: boolean;
  /** Vfs capability that must be true for the request to be served or advertised. */
  readonly capability?: keyof Vfs['capabilities'];
  /** Data and transfer requests: too frequent for a log line each. */
  readonly hot?: boolean;
  /** Reads every field; the engine checks `reader.failed` once afterwards. */
  decode(reader: PacketReader): A;
  /** Requests naming a handle run in arrival order behind earlier ones on it. */
  queueKey?(args: A): string;
  /** Acts and returns exactly one reply packet; a throw becomes a STATUS reply. */
  run(ctx: RequestContext, id: number, args: A): Promise<Reply>;
  /**
   * Whether `next`, queued right behind `prev` on the same handle, continues it (the next
   * byte range), so both can be served together. Rows without it never batch.
   */
  continues?(ctx: RequestContext, prev: A, next: A): boolean;
  /** Serves continuing requests together; one reply per request, in order. */
  runBatch?(ctx: RequestContext, requests: readonly BatchedRequest<A>[]): Promise<Reply[]>;
}

/** One reply packet: whole, or in parts sent back to back (a DATA header and its payload). */
export type Reply = Buffer | readonly Buffer[];

export interface BatchedRequest<A> {
  id: number;
  args: A;
}

export interface ExtensionRow<A> extends RequestRow<A> {
  /** Version string sent with the name in VERSION. */
  readonly version: string;
}
