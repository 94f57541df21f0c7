import { AttrFlag } from './constants.js';
import type { FileStat, SetAttrs } from '../vfs/types.js';

/** Attributes as they travel on the wire: each field present only when its flag is set. */
export interface WireAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** Full st_mode when sent by the server; permission bits (and maybe type bits) from clients. */
  permissions?: number;
  atime?: number;
  mtime?: number;
}

export function attrsFromStat(stat: FileStat): WireAttrs {
  return {
    size: stat.size,
    uid: stat.uid,
    gid: stat.gid,
    permissions: stat.mode,
    atime: stat.atime,
    mtime: stat.mtime,
  };
}

/** What a client asked to change; only permission bits of the mode reach the Vfs. */
export function setAttrsFromWire(attrs: WireAttrs): SetAttrs {
  const out: SetAttrs = {};
  if (attrs.size !== undefined) out.size = attrs.size;
  if (attrs.uid !== undefined) out.uid = attrs.uid;
  if (attrs.gid !== undefined) out.gid = attrs.gid;
  if (attrs.permissions !== undefined) out.mode = attrs.permissions & 0o7777;
  if (attrs.atime !== undefined) out.atime = attrs.atime;
  if (attrs.mtime !== undefined) out.mtime = attrs.mtime;
  return out;
}

export function attrsFlags(attrs: WireAttrs): number {
  let flags = 0;
  if (attrs.size !== undefined) flags |= AttrFlag.SIZE;
  if (attrs.uid !== undefined && attrs.gid !== undefined) flags |= AttrFlag.UIDGID;
  if (attrs.permissions !== undefined) flags |= AttrFlag.PERMISSIONS;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) flags |= AttrFlag.ACMODTIME;
  return flags;
}

/** Encoded size in bytes, flags word included. */
export function attrsLength(attrs: WireAttrs): number {
  const flags = attrsFlags(attrs);
  let length = 4;
  if (flags & AttrFlag.SIZE) length += 8;
  if (flags & AttrFlag.UIDGID) length += 8;
  if (flags & AttrFlag.PERMISSIONS) length += 4;
  if (flags & AttrFlag.ACMODTIME) length += 8;
  return length;
}
