import { posix } from 'node:path';
import { toVirtualPath } from '../../vfs/virtual-path.js';
import type { FileStat } from '../../vfs/types.js';
import { attrsFromStat } from '../attrs.js';
import { MAX_NAME_REPLY_BYTES, StatusCode } from '../constants.js';
import type { RequestContext, RequestRow } from '../context.js';
import type { DirHandle } from '../handles.js';
import { formatLongname } from '../longname.js';
import {
  NAME_HEADER_BYTES,
  encodeHandle,
  encodeName,
  encodeStatus,
  nameEntryLength,
  type NameEntry,
} from '../writer.js';
import { decodeHandle, handleKey, type HandleArgs } from './files.js';
import { decodePath } from './paths.js';

export const opendir: RequestRow<{ path: string }> = {
  name: 'opendir',
  writes: false,
  decode: decodePath,
  run: async (ctx, id, { path }) => {
    ctx.handles.ensureRoom();
    const virtualPath = toVirtualPath(path);
    const dir = await ctx.vfs.opendir(virtualPath);
    try {
      const handle = ctx.handles.add({
        kind: 'dir',
        dir,
        path: virtualPath,
        dotsSent: false,
        exhausted: false,
        carried: [],
      });
      return encodeHandle(id, handle);
    } catch (err) {
      await dir.close();
      throw err;
    }
  },
};

function nameEntry(ctx: RequestContext, name: string, stat: FileStat): NameEntry {
  return {
    filename: name,
    longname: formatLongname(name, stat, { names: ctx.names }),
    attrs: attrsFromStat(stat),
  };
}

async function dotEntries(ctx: RequestContext, dir: DirHandle): Promise<NameEntry[]> {
  const entries: NameEntry[] = [];
  const self = await dir.dir.stat().catch(() => null);
  if (self !== null) entries.push(nameEntry(ctx, '.', self));
  // `..` of the root is the root itself: the user never sees above their home.
  const parent = await ctx.vfs.stat(posix.dirname(dir.path)).catch(() => null);
  if (parent !== null) entries.push(nameEntry(ctx, '..', parent));
  return entries;
}

/** Fills one batch from the backend; a backend listing `.` or `..` itself is not repeated. */
async function nextEntries(ctx: RequestContext, dir: DirHandle): Promise<NameEntry[]> {
  const entries: NameEntry[] = [];
  while (entries.length === 0 && !dir.exhausted) {
    const batch = await dir.dir.next(ctx.limits.readdirBatch);
    if (batch === null) {
      dir.exhausted = true;
      break;
    }
    for (const entry of batch) {
      if (entry.name !== '.' && entry.name !== '..') {
        entries.push(nameEntry(ctx, entry.name, entry.stat));
      }
    }
    if (batch.length === 0) break;
  }
  return entries;
}

/** Moves carried entries into `reply` while they fit; the first always does. */
function takeCarried(dir: DirHandle, reply: NameEntry[], bytes: number): number {
  let used = bytes;
  let taken = 0;
  for (const entry of dir.carried) {
    const length = nameEntryLength(entry);
    if (reply.length > 0 && used + length > MAX_NAME_REPLY_BYTES) break;
    reply.push(entry);
    used += length;
    taken++;
  }
  dir.carried.splice(0, taken);
  return used;
}

export const readdir: RequestRow<HandleArgs> = {
  name: 'readdir',
  writes: false,
  decode: decodeHandle,
  queueKey: handleKey,
  run: async (ctx, id, { handle }) => {
    const dir = ctx.handles.dir(handle);
    if (!dir.dotsSent) {
      dir.dotsSent = true;
      dir.carried.push(...(await dotEntries(ctx, dir)));
    }
    const entries: NameEntry[] = [];
    const bytes = takeCarried(dir, entries, NAME_HEADER_BYTES);
    // One batch from the backend at most, only when the carried entries left room.
    if (dir.carried.length === 0 && !dir.exhausted) {
      dir.carried = await nextEntries(ctx, dir);
      takeCarried(dir, entries, bytes);
    }
    if (entries.length === 0) return encodeStatus(id, StatusCode.EOF);
    return encodeName(id, entries);
  },
};
