import type { VfsCapabilities } from '../vfs/types.js';
import { PacketType } from './constants.js';
import type { ExtensionRow, RequestRow } from './context.js';
import * as dirs from './handlers/dirs.js';
import * as ext from './handlers/extensions.js';
import * as files from './handlers/files.js';
import * as paths from './handlers/paths.js';
import type { ExtensionPair } from './writer.js';

// Rows are typed per request; the table stores them erased, since each row's decode feeds its run.
type AnyRow = RequestRow<unknown>;
const erase = <A>(row: RequestRow<A>): AnyRow => row;
const extension = <A>(row: RequestRow<A>, version = '1'): ExtensionRow<unknown> => ({
  ...(row as AnyRow),
  version,
});

/** Every v3 request by packet type. */
export const REQUESTS: ReadonlyMap<number, AnyRow> = new Map([
  [PacketType.OPEN, erase(files.open)],
  [PacketType.CLOSE, erase(files.close)],
  [PacketType.READ, erase(files.read)],
  [PacketType.WRITE, erase(files.write)],
  [PacketType.LSTAT, erase(paths.lstat)],
  [PacketType.FSTAT, erase(files.fstat)],
  [PacketType.SETSTAT, erase(paths.setstat)],
  [PacketType.FSETSTAT, erase(files.fsetstat)],
  [PacketType.OPENDIR, erase(dirs.opendir)],
  [PacketType.READDIR, erase(dirs.readdir)],
  [PacketType.REMOVE, erase(paths.remove)],
  [PacketType.MKDIR, erase(paths.mkdir)],
  [PacketType.RMDIR, erase(paths.rmdir)],
  [PacketType.REALPATH, erase(paths.realpath)],
  [PacketType.STAT, erase(paths.stat)],
  [PacketType.RENAME, erase(paths.rename)],
  [PacketType.READLINK, erase(paths.readlink)],
  [PacketType.SYMLINK, erase(paths.symlink)],
]);

/** Extensions in the order OpenSSH's sftp-server advertises them; the row name is the wire name. */
export const EXTENSIONS: ReadonlyMap<string, ExtensionRow<unknown>> = new Map(
  [
    extension(ext.posixRename),
    extension(ext.statvfs, '2'),
    extension(ext.fstatvfs, '2'),
    extension(ext.hardlink),
    extension(files.fsync),
    extension(ext.lsetstat),
    extension(ext.limits),
    extension(ext.expandPath),
    extension(files.copyData),
    extension(ext.homeDirectory),
    extension(ext.usersGroupsById),
  ].map((row) => [row.name, row]),
);

export function isServed(row: AnyRow, capabilities: VfsCapabilities): boolean {
  return row.capability === undefined || capabilities[row.capability];
}

/** The VERSION extension list: exactly the rows this backend can serve. */
export function advertisedExtensions(capabilities: VfsCapabilities): ExtensionPair[] {
  const pairs: ExtensionPair[] = [];
  for (const row of EXTENSIONS.values()) {
    if (isServed(row, capabilities)) pairs.push({ name: row.name, data: row.version });
  }
  return pairs;
}
