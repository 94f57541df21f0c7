import { ErrorCode, KubesftpError } from '../../errors.js';
import { toVirtualPath } from '../../vfs/virtual-path.js';
import type { StatVfs } from '../../vfs/types.js';
import { setAttrsFromWire, type WireAttrs } from '../attrs.js';
import { StatusCode } from '../constants.js';
import type { RequestContext, RequestRow } from '../context.js';
import { PacketReader } from '../reader.js';
import { encodeExtendedStrings, encodeExtendedU64s, encodeStatus } from '../writer.js';
import { decodeHandle, type HandleArgs } from './files.js';
import {
  canonicalPath,
  decodePath,
  decodeTwoPaths,
  singleName,
  type TwoPathArgs,
} from './paths.js';

const ok = (id: number): Buffer => encodeStatus(id, StatusCode.OK);

export const posixRename: RequestRow<TwoPathArgs> = {
  name: 'posix-rename@openssh.com',
  writes: true,
  capability: 'posixRename',
  decode: decodeTwoPaths,
  run: async (ctx, id, { from, to }) => {
    await ctx.vfs.rename(toVirtualPath(from), toVirtualPath(to), { overwrite: true });
    return ok(id);
  },
};

export const hardlink: RequestRow<TwoPathArgs> = {
  name: 'hardlink@openssh.com',
  writes: true,
  capability: 'hardlinks',
  decode: decodeTwoPaths,
  run: async (ctx, id, { from, to }) => {
    await ctx.vfs.link(toVirtualPath(from), toVirtualPath(to));
    return ok(id);
  },
};

function statvfsReply(id: number, s: StatVfs): Buffer {
  return encodeExtendedU64s(id, [
    s.bsize,
    s.frsize,
    s.blocks,
    s.bfree,
    s.bavail,
    s.files,
    s.ffree,
    s.favail,
    s.fsid,
    s.flag,
    s.namemax,
  ]);
}

export const statvfs: RequestRow<{ path: string }> = {
  name: 'statvfs@openssh.com',
  writes: false,
  capability: 'statvfs',
  decode: decodePath,
  run: async (ctx, id, { path }) => statvfsReply(id, await ctx.vfs.statvfs(toVirtualPath(path))),
};

export const fstatvfs: RequestRow<HandleArgs> = {
  name: 'fstatvfs@openssh.com',
  writes: false,
  capability: 'statvfs',
  decode: decodeHandle,
  run: async (ctx, id, { handle }) =>
    statvfsReply(id, await ctx.vfs.statvfs(ctx.handles.any(handle).path)),
};

export const lsetstat: RequestRow<{ path: string; attrs: WireAttrs }> = {
  name: 'lsetstat@openssh.com',
  writes: true,
  // Without links it is setstat under another name; offered only where it differs.
  capability: 'symlinks',
  decode: (reader) => ({ path: reader.string(), attrs: reader.attrs() }),
  run: async (ctx, id, { path, attrs }) => {
    await ctx.vfs.lsetstat(toVirtualPath(path), setAttrsFromWire(attrs));
    return ok(id);
  },
};

export const limits: RequestRow<null> = {
  name: 'limits@openssh.com',
  writes: false,
  decode: () => null,
  // Derived from the bounds the reader and handle table enforce, so the two cannot drift.
  run: (ctx, id) =>
    Promise.resolve(
      encodeExtendedU64s(id, [
        ctx.limits.maxPacketLength,
        ctx.limits.maxReadLength,
        ctx.limits.maxWriteLength,
        ctx.limits.maxOpenHandles,
      ]),
    ),
};

function noSuchUser(name: string): KubesftpError {
  return new KubesftpError(ErrorCode.NO_SUCH_FILE, `no home directory for user "${name}"`);
}

/** `~` and `~/x` name the session's home; `~user` only the session's own user. */
function expandTilde(ctx: RequestContext, path: string): string {
  if (!path.startsWith('~')) return path;
  const slash = path.indexOf('/');
  const user = slash < 0 ? path.slice(1) : path.slice(1, slash);
  if (user !== '' && user !== ctx.username) throw noSuchUser(user);
  const rest = slash < 0 ? '' : path.slice(slash + 1);
  return rest === '' ? ctx.homeDirectory : `${ctx.homeDirectory}/${rest}`;
}

export const expandPath: RequestRow<{ path: string }> = {
  name: 'expand-path@openssh.com',
  writes: false,
  decode: decodePath,
  run: async (ctx, id, { path }) =>
    singleName(
      id,
      await canonicalPath(ctx, toVirtualPath(expandTilde(ctx, path), ctx.homeDirectory)),
    ),
};

export const homeDirectory: RequestRow<{ username: string }> = {
  name: 'home-directory',
  writes: false,
  decode: (reader) => ({ username: reader.string() }),
  run: (ctx, id, { username }) => {
    if (username !== '' && ctx.username !== undefined && username !== ctx.username) {
      return Promise.reject(noSuchUser(username));
    }
    return Promise.resolve(singleName(id, ctx.homeDirectory));
  },
};

interface IdListArgs {
  uids: Buffer;
  gids: Buffer;
}

function readIds(packed: Buffer): number[] {
  if (packed.length % 4 !== 0) {
    throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'id list is not a run of uint32');
  }
  const reader = new PacketReader(packed);
  const ids: number[] = [];
  while (reader.remaining > 0) ids.push(reader.u32());
  return ids;
}

/** Names in request order, empty where unknown, packed as strings inside one string. */
function packNames(
  ids: number[],
  lookup: ((id: number) => string | undefined) | undefined,
): Buffer {
  const names = ids.map((id) => Buffer.from(lookup?.(id) ?? '', 'utf8'));
  const packed = Buffer.allocUnsafe(names.reduce((sum, name) => sum + 4 + name.length, 0));
  let at = 0;
  for (const name of names) {
    at = packed.writeUInt32BE(name.length, at);
    at += name.copy(packed, at);
  }
  return packed;
}

export const usersGroupsById: RequestRow<IdListArgs> = {
  name: 'users-groups-by-id@openssh.com',
  writes: false,
  decode: (reader) => ({ uids: reader.bytes(), gids: reader.bytes() }),
  // Parsing the id lists may throw; inside the promise that becomes a STATUS reply.
  run: (ctx, id, { uids, gids }) =>
    Promise.resolve().then(() => {
      const users = packNames(readIds(uids), ctx.names?.userName?.bind(ctx.names));
      const groups = packNames(readIds(gids), ctx.names?.groupName?.bind(ctx.names));
      return encodeExtendedStrings(id, [users, groups]);
    }),
};
