import { ErrorCode, KubesftpError } from '../../errors.js';
import { toVirtualPath } from '../../vfs/virtual-path.js';
import type { OpenFlags } from '../../vfs/types.js';
import { attrsFromStat, setAttrsFromWire, type WireAttrs } from '../attrs.js';
import { COPY_CHUNK_LENGTH, OpenFlag, StatusCode } from '../constants.js';
import type { Reply, RequestContext, RequestRow } from '../context.js';
import type { PacketReader } from '../reader.js';
import { encodeAttrs, encodeData, encodeHandle, encodeStatus } from '../writer.js';

interface OpenArgs {
  path: string;
  pflags: number;
  attrs: WireAttrs;
}
export interface HandleArgs {
  handle: string;
}
interface ReadArgs {
  handle: string;
  offset: number;
  length: number;
}
interface WriteArgs {
  handle: string;
  offset: number;
  data: Buffer;
}
interface HandleAttrsArgs {
  handle: string;
  attrs: WireAttrs;
}

export function decodeHandle(reader: PacketReader): HandleArgs {
  return { handle: reader.handle() };
}
export function handleKey(args: { handle: string }): string {
  return args.handle;
}

export function openFlagsFromWire(pflags: number): OpenFlags {
  return {
    read: (pflags & OpenFlag.READ) !== 0,
    write: (pflags & OpenFlag.WRITE) !== 0,
    append: (pflags & OpenFlag.APPEND) !== 0,
    create: (pflags & OpenFlag.CREAT) !== 0,
    truncate: (pflags & OpenFlag.TRUNC) !== 0,
    exclusive: (pflags & OpenFlag.EXCL) !== 0,
  };
}

export const open: RequestRow<OpenArgs> = {
  name: 'open',
  writes: true,
  decode: (reader) => ({ path: reader.string(), pflags: reader.u32(), attrs: reader.attrs() }),
  run: async (ctx, id, { path, pflags, attrs }) => {
    ctx.handles.ensureRoom();
    const virtualPath = toVirtualPath(path);
    const flags = openFlagsFromWire(pflags);
    const file = await ctx.vfs.open(virtualPath, flags, setAttrsFromWire(attrs));
    try {
      const handle = ctx.handles.add({
        kind: 'file',
        file,
        path: virtualPath,
        readable: flags.read,
        writable: flags.write,
      });
      return encodeHandle(id, handle);
    } catch (err) {
      await file.abort();
      throw err;
    }
  },
};

export const close: RequestRow<HandleArgs> = {
  name: 'close',
  writes: false,
  decode: decodeHandle,
  queueKey: handleKey,
  run: async (ctx, id, { handle }) => {
    const entry = ctx.handles.remove(handle);
    if (entry.kind === 'file') await entry.file.close();
    else await entry.dir.close();
    return encodeStatus(id, StatusCode.OK);
  },
};

function readLength(ctx: RequestContext, args: ReadArgs): number {
  return Math.min(args.length, ctx.limits.maxReadLength);
}

/** A DATA reply, or EOF when nothing was read (a zero-length read is EOF to the client too). */
function dataOrEof(id: number, data: Buffer): Reply {
  return data.length === 0 ? encodeStatus(id, StatusCode.EOF) : encodeData(id, data);
}

export const read: RequestRow<ReadArgs> = {
  name: 'read',
  writes: false,
  hot: true,
  decode: (reader) => ({ handle: reader.handle(), offset: reader.u64(), length: reader.u32() }),
  queueKey: handleKey,
  run: readReply,
  continues: (ctx, prev, next) => next.offset === prev.offset + readLength(ctx, prev),
  // The reads of a batch run side by side, each into its own block, and answer as separate
  // reads would (a short read at end of file gives the later ones EOF). A failure answers all.
  runBatch: async (ctx, requests) => {
    const settled = await Promise.allSettled(
      requests.map(({ id, args }) => readReply(ctx, id, args)),
    );
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure === undefined) {
      return settled.map((result) => (result as PromiseFulfilledResult<Reply>).value);
    }
    for (const result of settled) {
      if (result.status === 'fulfilled') releaseReply(ctx, result.value);
    }
    throw failure.reason;
  },
};

/** Reads into a pool block; the block goes back when the reply has been sent (or on failure). */
async function readReply(ctx: RequestContext, id: number, args: ReadArgs): Promise<Reply> {
  const { file } = ctx.handles.file(args.handle);
  const length = readLength(ctx, args);
  const block = ctx.blocks.take(length);
  try {
    const data = await file.read(length, args.offset, block);
    if (data.length === 0) ctx.blocks.release(block);
    return dataOrEof(id, data);
  } catch (err) {
    ctx.blocks.release(block);
    throw err;
  }
}

function releaseReply(ctx: RequestContext, reply: Reply): void {
  if (!Buffer.isBuffer(reply)) for (const part of reply) ctx.blocks.release(part);
}

export const write: RequestRow<WriteArgs> = {
  name: 'write',
  writes: true,
  hot: true,
  decode: (reader) => ({ handle: reader.handle(), offset: reader.u64(), data: reader.bytes() }),
  queueKey: handleKey,
  run: async (ctx, id, { handle, offset, data }) => {
    await ctx.handles.file(handle).file.write(data, offset);
    return encodeStatus(id, StatusCode.OK);
  },
  continues: (_ctx, prev, next) => next.offset === prev.offset + prev.data.length,
  runBatch: async (ctx, requests) => {
    const first = requests[0]!.args;
    const chunks = requests.map(({ args }) => args.data);
    await ctx.handles.file(first.handle).file.write(chunks, first.offset);
    return requests.map(({ id }) => encodeStatus(id, StatusCode.OK));
  },
};

export const fstat: RequestRow<HandleArgs> = {
  name: 'fstat',
  writes: false,
  decode: decodeHandle,
  queueKey: handleKey,
  run: async (ctx, id, { handle }) => {
    const entry = ctx.handles.any(handle);
    const stat = entry.kind === 'file' ? await entry.file.stat() : await entry.dir.stat();
    return encodeAttrs(id, attrsFromStat(stat));
  },
};

export const fsetstat: RequestRow<HandleAttrsArgs> = {
  name: 'fsetstat',
  writes: true,
  decode: (reader) => ({ handle: reader.handle(), attrs: reader.attrs() }),
  queueKey: handleKey,
  run: async (ctx, id, { handle, attrs }) => {
    await ctx.handles.file(handle).file.setstat(setAttrsFromWire(attrs));
    return encodeStatus(id, StatusCode.OK);
  },
};

export const fsync: RequestRow<HandleArgs> = {
  name: 'fsync@openssh.com',
  writes: false,
  capability: 'fsync',
  decode: decodeHandle,
  queueKey: handleKey,
  run: async (ctx, id, { handle }) => {
    await ctx.handles.file(handle).file.sync();
    return encodeStatus(id, StatusCode.OK);
  },
};

interface CopyDataArgs {
  readHandle: string;
  readOffset: number;
  length: number;
  writeHandle: string;
  writeOffset: number;
}

function checkCopyRanges(args: CopyDataArgs): void {
  if (args.readHandle !== args.writeHandle) return;
  const readEnd = args.length === 0 ? Infinity : args.readOffset + args.length;
  const writeEnd = args.length === 0 ? Infinity : args.writeOffset + args.length;
  if (args.readOffset < writeEnd && args.writeOffset < readEnd) {
    throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'copy-data ranges overlap in one file');
  }
}

async function copyChunks(ctx: RequestContext, args: CopyDataArgs): Promise<void> {
  const source = ctx.handles.file(args.readHandle);
  const target = ctx.handles.file(args.writeHandle);
  if (!source.readable || !target.writable) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'copy-data handle opened without access');
  }
  checkCopyRanges(args);
  let remaining = args.length === 0 ? Infinity : args.length;
  let readAt = args.readOffset;
  let writeAt = args.writeOffset;
  while (remaining > 0) {
    const chunk = await source.file.read(Math.min(COPY_CHUNK_LENGTH, remaining), readAt);
    if (chunk.length === 0) break;
    await target.file.write(chunk, writeAt);
    readAt += chunk.length;
    writeAt += chunk.length;
    remaining -= chunk.length;
  }
}

export const copyData: RequestRow<CopyDataArgs> = {
  name: 'copy-data',
  writes: true,
  decode: (reader) => ({
    readHandle: reader.handle(),
    readOffset: reader.u64(),
    length: reader.u64(),
    writeHandle: reader.handle(),
    writeOffset: reader.u64(),
  }),
  queueKey: (args) => args.writeHandle,
  run: async (ctx, id, args) => {
    await copyChunks(ctx, args);
    return encodeStatus(id, StatusCode.OK);
  },
};
