/**
 * Open files of the local backend, including atomic uploads.
 *
 * Upload modes: 0 writes to the requested path. 1 (atomic) writes a new or truncated upload to a
 * hidden temp file in the same directory and renames it onto the target on close(); abort()
 * deletes it, so the requested path never holds a partial upload. 2 is 1, except that abort()
 * moves the partial file onto the target so the client can resume (unless nothing was received,
 * which would only empty an existing target). In modes 1 and 2, an open that
 * keeps an existing file's data (no truncate: append or resume) writes in place, because a
 * resume must extend the very bytes already at the target.
 */
import { randomBytes } from 'node:crypto';
import {
  close,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsync,
  open,
  openSync,
  read,
  writev,
  writevSync,
} from 'node:fs';
import { link, lstat, rename, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import {
  isDirectory,
  isRegularFile,
  type FileStat,
  type OpenFlags,
  type SetAttrs,
  type VfsFile,
  type WriteData,
} from './types.js';
import {
  applyAttrsToFd,
  createdWithExactMode,
  creationMode,
  toFileStat,
  type NewFileOwner,
  type SetstatMode,
} from './local-attrs.js';
import { atOnce, fstatFd, lstatOrNull } from './fd.js';
import type { DirRef, LocalLocation } from './local-resolver.js';

export type UploadMode = 0 | 1 | 2;

/**
 * The first write of a file up to this size runs at once, on the event loop (decision 0026):
 * for a file sent in one request the thread pool's round trip costs more than the copy into
 * the page cache. Later and larger writes, like reads, go through the pool.
 */
export const AT_ONCE_WRITE_BYTES = 64 * 1024;

/** Calls that can wait on the device: libuv's thread pool. */
const inPool = {
  open: promisify(open),
  read: promisify(read),
  writev: promisify(writev),
  fsync: promisify(fsync),
  close: promisify(close),
};
/** Calls made at once (decisions 0020 and 0026). */
const atOnceOpen = atOnce((path: string, flags: number, mode?: number) =>
  openSync(path, flags, mode),
);
const atOnceClose = atOnce(closeSync);

/** What a read at or past the end of a file returns. */
const NOTHING_READ = Buffer.alloc(0);

/** Prefix of temp files written by atomic uploads. */
export const ATOMIC_UPLOAD_PREFIX = '.kubesftp-upload-';

export interface LocalFileSettings {
  umask: number;
  uploadMode: UploadMode;
  setstatMode: SetstatMode;
  owner: NewFileOwner | undefined;
}

export interface LocalOpenRequest {
  /** Where the resolver found the file, the final symlink already followed. */
  at: LocalLocation;
  flags: OpenFlags;
  attrs: SetAttrs | undefined;
}

/** Where an atomic upload lives until it completes: two names in one held directory. */
interface PendingUpload {
  /** Held until the upload is completed or discarded, then released. */
  dir: DirRef;
  tempPath: string;
  targetPath: string;
  uploadMode: 1 | 2;
  /** The client asked for exclusive create: completing must not replace a file. */
  exclusive: boolean;
}

/** What is left of `chunks` once their first `count` bytes are written. */
export function dropWritten(chunks: readonly Buffer[], count: number): readonly Buffer[] {
  let skip = count;
  let index = 0;
  while (index < chunks.length && skip >= chunks[index]!.length) {
    skip -= chunks[index]!.length;
    index++;
  }
  const rest = chunks.slice(index);
  if (skip > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}

async function mapped<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw toKubesftpError(err);
  }
}

/** Bytes in a write's data. */
function byteLength(data: WriteData): number {
  if (Buffer.isBuffer(data)) return data.length;
  let total = 0;
  for (const chunk of data) total += chunk.length;
  return total;
}

/**
 * An open file as a plain descriptor rather than a FileHandle: a FileHandle can only be opened
 * and closed through the thread pool. The engine closes or aborts every file it opened.
 */
class LocalFile implements VfsFile {
  readonly #fd: number;
  readonly #setstatMode: SetstatMode;
  readonly #upload: PendingUpload | undefined;
  #finished = false;
  /** Where the last short read ended, -1 before one: the client's next read starts there. */
  #shortReadEnd = -1;

  constructor(fd: number, setstatMode: SetstatMode, upload?: PendingUpload) {
    this.#fd = fd;
    this.#setstatMode = setstatMode;
    this.#upload = upload;
  }

  read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    return mapped(async () => {
      // A client whose read came back short asks again from where it ended, and at the end
      // of the file the inode answers that at once, where the thread pool's round trip would
      // only learn that nothing is there. Reads that came back whole never pay the fstat.
      const afterShortRead = this.#shortReadEnd >= 0 && position >= this.#shortReadEnd;
      if (afterShortRead && position >= (await fstatFd(this.#fd)).size) return NOTHING_READ;
      const buffer = into ?? Buffer.allocUnsafe(length);
      const { bytesRead } = await inPool.read(this.#fd, buffer, 0, length, position);
      if (bytesRead < length) this.#shortReadEnd = position + bytesRead;
      return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    });
  }

  write(data: WriteData, position: number): Promise<void> {
    return mapped(async () => {
      let pending = (Buffer.isBuffer(data) ? [data] : data) as Buffer[];
      let at = position;
      const now = position === 0 && byteLength(data) <= AT_ONCE_WRITE_BYTES;
      // pwritev may write less than asked (signals, full disks); loop until all is written.
      while (pending.length > 0) {
        const bytesWritten = now
          ? writevSync(this.#fd, pending, at)
          : (await inPool.writev(this.#fd, pending, at)).bytesWritten;
        at += bytesWritten;
        pending = dropWritten(pending, bytesWritten) as Buffer[];
      }
    });
  }

  stat(): Promise<FileStat> {
    return mapped(async () => toFileStat(await fstatFd(this.#fd)));
  }

  setstat(attrs: SetAttrs): Promise<void> {
    return mapped(() => applyAttrsToFd(this.#fd, attrs, this.#setstatMode));
  }

  sync(): Promise<void> {
    return mapped(() => inPool.fsync(this.#fd));
  }

  close(): Promise<void> {
    return this.#finish(async (upload) => {
      try {
        await commitUpload(upload);
      } catch (err) {
        await unlink(upload.tempPath).catch(() => undefined);
        throw err;
      }
    });
  }

  /** Mode 2 keeps received data for a resume; an empty temp file would only clobber the target. */
  abort(): Promise<void> {
    return this.#finish(async (upload) => {
      const keep = upload.uploadMode === 2 && (await lstat(upload.tempPath)).size > 0;
      if (keep) await rename(upload.tempPath, upload.targetPath);
      else await unlink(upload.tempPath);
    });
  }

  /** Closes the handle once, then completes or discards an atomic upload. */
  async #finish(onUpload: (upload: PendingUpload) => Promise<void>): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await mapped(async () => {
      try {
        await atOnceClose(this.#fd);
        if (this.#upload !== undefined) await onUpload(this.#upload);
      } finally {
        this.#upload?.dir.release();
      }
    });
  }
}

async function commitUpload(upload: PendingUpload): Promise<void> {
  if (!upload.exclusive) {
    await rename(upload.tempPath, upload.targetPath);
    return;
  }
  // link() fails with EEXIST where rename() would replace a file created meanwhile.
  await link(upload.tempPath, upload.targetPath);
  await unlink(upload.tempPath);
}

function accessFlags(flags: OpenFlags): number {
  if (flags.read && flags.write) return constants.O_RDWR;
  return flags.write ? constants.O_WRONLY : constants.O_RDONLY;
}

/**
 * O_* flags without creation bits. O_NOFOLLOW: the resolver already followed links, so a link
 * found here now was swapped in since. O_NONBLOCK: opening a FIFO must not wait for a writer
 * (the open is refused right after as not a regular file).
 */
function baseFlags(flags: OpenFlags): number {
  let result = accessFlags(flags) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  if (flags.write && flags.truncate) result |= constants.O_TRUNC;
  if (flags.write && flags.append) result |= constants.O_APPEND;
  return result;
}

interface OpenedFd {
  fd: number;
  created: boolean;
}

/**
 * Opens, creating if asked. Creation is tried with O_EXCL first so that we know whether this call
 * created the file and must set its mode and owner. `existingSize` is what the resolver saw at
 * the path: truncating a file that holds data frees its blocks, which can take a while, so only
 * that open goes through the pool (decision 0026).
 */
async function openOrCreate(
  hostPath: string,
  flags: OpenFlags,
  mode: number,
  existingSize = 0,
): Promise<OpenedFd> {
  const base = baseFlags(flags);
  const openFile = (base & constants.O_TRUNC) !== 0 && existingSize > 0 ? inPool.open : atOnceOpen;
  if (!flags.create) return { fd: await openFile(hostPath, base), created: false };
  try {
    const fd = await atOnceOpen(hostPath, base | constants.O_CREAT | constants.O_EXCL, mode);
    return { fd, created: true };
  } catch (err) {
    if (flags.exclusive || (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { fd: await openFile(hostPath, base), created: false };
}

/**
 * Refuses anything but a regular file (a FIFO or device must never be read or written), and
 * gives a new file its mode (exactly, not via the process umask) and owner.
 */
async function settle(
  opened: OpenedFd,
  settings: LocalFileSettings,
  mode: number,
): Promise<number> {
  const { fd } = opened;
  try {
    if (!opened.created) await assertRegularFile(fd);
    if (opened.created) {
      if (!createdWithExactMode(mode)) await fchmod(fd, mode);
      if (settings.owner !== undefined) {
        await fchown(fd, settings.owner.uid, settings.owner.gid);
      }
    }
    return fd;
  } catch (err) {
    await atOnceClose(fd);
    throw err;
  }
}

/** A new file's mode and owner are inode updates, made at once like the lookups (fd.ts). */
const fchmod = atOnce(fchmodSync);
const fchown = atOnce(fchownSync);

async function assertRegularFile(fd: number): Promise<void> {
  const stat = toFileStat(await fstatFd(fd));
  if (isRegularFile(stat)) return;
  if (isDirectory(stat)) throw new KubesftpError(ErrorCode.IS_A_DIRECTORY, 'is a directory');
  throw new KubesftpError(ErrorCode.FAILURE, 'not a regular file');
}

async function existingStat(at: LocalLocation): Promise<FileStat | null> {
  const seen = at.takeSeenStat();
  if (seen !== undefined) return seen === null ? null : toFileStat(seen);
  const stat = await lstatOrNull(at.hostPath);
  return stat === null ? null : toFileStat(stat);
}

function isAtomicUpload(flags: OpenFlags, settings: LocalFileSettings, exists: boolean): boolean {
  return settings.uploadMode !== 0 && flags.write && (flags.truncate || !exists);
}

async function openAtomic(
  request: LocalOpenRequest,
  settings: LocalFileSettings,
  mode: number,
): Promise<VfsFile> {
  const { at, flags } = request;
  const tempPath = at.sibling(`${ATOMIC_UPLOAD_PREFIX}${randomBytes(8).toString('hex')}`);
  const tempFlags = { ...flags, create: true, exclusive: true, truncate: false, append: false };
  const fd = await settle(await openOrCreate(tempPath, tempFlags, mode), settings, mode);
  const upload: PendingUpload = {
    dir: at.dir.retain(),
    tempPath,
    targetPath: at.hostPath,
    uploadMode: settings.uploadMode as 1 | 2,
    exclusive: flags.exclusive,
  };
  return new LocalFile(fd, settings.setstatMode, upload);
}

/** Opens a resolved host path with SFTP open semantics and the configured upload mode. */
export async function openLocalFile(
  request: LocalOpenRequest,
  settings: LocalFileSettings,
): Promise<VfsFile> {
  return mapped(async () => {
    const { flags } = request;
    const hostPath = request.at.hostPath;
    const mode = creationMode(request.attrs?.mode, 0o666, settings.umask);
    const existing = await existingStat(request.at);
    if (existing !== null && flags.create && flags.exclusive) {
      throw new KubesftpError(ErrorCode.FILE_EXISTS, 'file already exists');
    }
    if (existing === null && !flags.create) {
      throw new KubesftpError(ErrorCode.NO_SUCH_FILE, 'no such file');
    }
    if (existing !== null && flags.write && isDirectory(existing)) {
      throw new KubesftpError(ErrorCode.IS_A_DIRECTORY, 'is a directory');
    }
    if (isAtomicUpload(flags, settings, existing !== null)) {
      return openAtomic(request, settings, mode);
    }
    const opened = await openOrCreate(hostPath, flags, mode, existing?.size);
    return new LocalFile(await settle(opened, settings, mode), settings.setstatMode);
  });
}
