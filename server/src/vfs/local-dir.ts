/**
 * Directory listing for the local backend: names come from fs.Dir a batch at a time and each is
 * lstat'ed, so a huge directory is never held in memory whole. The listing holds a descriptor
 * of the directory and looks every name up relative to it, so a directory renamed or swapped
 * for a symlink while it is listed never reports another place's entries.
 */
import { constants, type Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import { closeFd, fstatFd, inDirectory, lstatOrNullSync, ofDescriptor, openFd } from './fd.js';
import type { DirEntry, FileStat, VfsDir } from './types.js';
import { toFileStat } from './local-attrs.js';

const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY } = constants;
const LIST_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** Opens the directory at `hostPath` (never through a final symlink) for listing. */
export async function openLocalDir(hostPath: string): Promise<LocalDir> {
  const fd = await openFd(hostPath, LIST_FLAGS);
  try {
    // The magic link leads to the directory already opened, not to whatever the name is now.
    return new LocalDir(await opendir(ofDescriptor(fd), { bufferSize: 128 }), fd);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

export class LocalDir implements VfsDir {
  readonly #dir: Dir;
  readonly #fd: number;
  #exhausted = false;
  #closed = false;

  constructor(dir: Dir, fd: number) {
    this.#dir = dir;
    this.#fd = fd;
  }

  async stat(): Promise<FileStat> {
    try {
      return toFileStat(await fstatFd(this.#fd));
    } catch (err) {
      throw toKubesftpError(err);
    }
  }

  next(max: number): Promise<DirEntry[] | null> {
    if (!Number.isInteger(max) || max < 1) {
      return Promise.reject(
        new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'batch size must be a positive integer'),
      );
    }
    try {
      // Entries may vanish before lstat; keep reading so a batch is empty only at the end.
      while (!this.#exhausted) {
        const entries = this.#readBatch(max);
        if (entries.length > 0) return Promise.resolve(entries);
      }
      return Promise.resolve(null);
    } catch (err) {
      return Promise.reject(toKubesftpError(err));
    }
  }

  /**
   * Up to `max` entries, read and lstat'ed at once on the event loop (decision 0020: lookups
   * answered from the kernel's caches): a promise per name cost more than the lstat itself.
   * A name removed between readdir and lstat is simply no longer in the directory.
   */
  #readBatch(max: number): DirEntry[] {
    const entries: DirEntry[] = [];
    for (let read = 0; read < max; read++) {
      const dirent = this.#dir.readSync();
      if (dirent === null) {
        this.#exhausted = true;
        break;
      }
      const stat = lstatOrNullSync(inDirectory(this.#fd, dirent.name));
      if (stat !== null) entries.push({ name: dirent.name, stat: toFileStat(stat) });
    }
    return entries;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#dir.close();
    } catch (err) {
      throw toKubesftpError(err);
    } finally {
      closeFd(this.#fd);
    }
  }
}
