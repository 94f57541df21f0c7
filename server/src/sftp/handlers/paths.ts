import { ErrorCode, isKubesftpError, KubesftpError } from '../../errors.js';
import { toVirtualPath } from '../../vfs/virtual-path.js';
import { attrsFromStat, setAttrsFromWire, type WireAttrs } from '../attrs.js';
import { StatusCode } from '../constants.js';
import type { RequestContext, RequestRow } from '../context.js';
import type { PacketReader } from '../reader.js';
import { encodeAttrs, encodeName, encodeStatus } from '../writer.js';

interface PathArgs {
  path: string;
}
interface PathAttrsArgs {
  path: string;
  attrs: WireAttrs;
}
export interface TwoPathArgs {
  from: string;
  to: string;
}

export function decodePath(reader: PacketReader): PathArgs {
  return { path: reader.string() };
}
export function decodePathAttrs(reader: PacketReader): PathAttrsArgs {
  return { path: reader.string(), attrs: reader.attrs() };
}
export function decodeTwoPaths(reader: PacketReader): TwoPathArgs {
  return { from: reader.string(), to: reader.string() };
}

/** A NAME reply with one entry and empty attributes, as OpenSSH sends for paths. */
export function singleName(id: number, path: string): Buffer {
  return encodeName(id, [{ filename: path, longname: path, attrs: {} }]);
}

/** Canonical path; a missing target still gets its normalized name so clients can name new files. */
export async function canonicalPath(ctx: RequestContext, virtualPath: string): Promise<string> {
  try {
    return await ctx.vfs.realpath(virtualPath);
  } catch (err) {
    if (isKubesftpError(err, ErrorCode.NO_SUCH_FILE)) return virtualPath;
    throw err;
  }
}

const ok = (id: number): Buffer => encodeStatus(id, StatusCode.OK);

export const stat: RequestRow<PathArgs> = {
  name: 'stat',
  writes: false,
  decode: decodePath,
  run: async (ctx, id, { path }) =>
    encodeAttrs(id, attrsFromStat(await ctx.vfs.stat(toVirtualPath(path)))),
};

export const lstat: RequestRow<PathArgs> = {
  name: 'lstat',
  writes: false,
  decode: decodePath,
  run: async (ctx, id, { path }) =>
    encodeAttrs(id, attrsFromStat(await ctx.vfs.lstat(toVirtualPath(path)))),
};

export const setstat: RequestRow<PathAttrsArgs> = {
  name: 'setstat',
  writes: true,
  decode: decodePathAttrs,
  run: async (ctx, id, { path, attrs }) => {
    await ctx.vfs.setstat(toVirtualPath(path), setAttrsFromWire(attrs));
    return ok(id);
  },
};

export const remove: RequestRow<PathArgs> = {
  name: 'remove',
  writes: true,
  decode: decodePath,
  run: async (ctx, id, { path }) => {
    await ctx.vfs.remove(toVirtualPath(path));
    return ok(id);
  },
};

export const mkdir: RequestRow<PathAttrsArgs> = {
  name: 'mkdir',
  writes: true,
  decode: decodePathAttrs,
  run: async (ctx, id, { path, attrs }) => {
    await ctx.vfs.mkdir(toVirtualPath(path), setAttrsFromWire(attrs));
    return ok(id);
  },
};

export const rmdir: RequestRow<PathArgs> = {
  name: 'rmdir',
  writes: true,
  decode: decodePath,
  run: async (ctx, id, { path }) => {
    await ctx.vfs.rmdir(toVirtualPath(path));
    return ok(id);
  },
};

export const realpath: RequestRow<PathArgs> = {
  name: 'realpath',
  writes: false,
  decode: decodePath,
  run: async (ctx, id, { path }) => singleName(id, await canonicalPath(ctx, toVirtualPath(path))),
};

export const rename: RequestRow<TwoPathArgs> = {
  name: 'rename',
  writes: true,
  decode: decodeTwoPaths,
  run: async (ctx, id, { from, to }) => {
    await ctx.vfs.rename(toVirtualPath(from), toVirtualPath(to), { overwrite: false });
    return ok(id);
  },
};

export const readlink: RequestRow<PathArgs> = {
  name: 'readlink',
  writes: false,
  capability: 'symlinks',
  decode: decodePath,
  run: async (ctx, id, { path }) => singleName(id, await ctx.vfs.readlink(toVirtualPath(path))),
};

interface SymlinkArgs {
  target: string;
  linkPath: string;
}

export const symlink: RequestRow<SymlinkArgs> = {
  name: 'symlink',
  writes: true,
  capability: 'symlinks',
  // OpenSSH sends the target first and the new link second, the reverse of the draft's order;
  // every common client follows OpenSSH, so we do too.
  decode: (reader) => ({ target: reader.string(), linkPath: reader.string() }),
  run: async (ctx, id, { target, linkPath }) => {
    // A relative target stays relative to the link; an absolute one is a virtual path.
    const linkTarget = target.startsWith('/') ? toVirtualPath(target) : target;
    if (linkTarget.includes('\0')) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'symlink target contains NUL');
    }
    await ctx.vfs.symlink(toVirtualPath(linkPath), linkTarget);
    return ok(id);
  },
};
