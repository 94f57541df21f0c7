/**
 * Directory listing for the local backend: names come from fs.Dir a few at a time and each is
 * lstat'ed, so a huge directory is never held in memory whole. The listing holds a descriptor
 * of the directory and looks every name up relative to it, so a directory renamed or swapped
 * for a symlink while it is listed never reports another place's entries.
 */
import { constants, type Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import { closeFd, fstatFd, inDirectory, lstatPath, ofDescriptor, openFd } from './fd.js';
import type { DirEntry, FileStat, VfsDir } from './types.js';
import { toFileStat } from './local-attrs.js';

const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY } = constants;
const LIST_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** lstat calls in flight at once while filling one batch. */
const LSTAT_CONCURRENCY = 64;

async function lstatEntry(dirFd: number, name: string): Promise<DirEntry | null> {
  try {
    return { name, stat: toFileStat(await lstatPath(inDirectory(dirFd, name))) };
  } catch (err) {
    // Removed between readdir and lstat: it is simply no longer in the directory.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

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

  async next(max: number): Promise<DirEntry[] | null> {
    if (!Number.isInteger(max) || max < 1) {
      throw new KubesftpError(ErrorCode.INVALID_ARGUMENT, 'batch size must be a positive integer');
    }
    try {
      // Entries may vanish before lstat; keep reading so a batch is empty only at the end.
      while (!this.#exhausted) {
        const entries = await this.#readBatch(max);
        if (entries.length > 0) return entries;
      }
      return null;
    } catch (err) {
      throw toKubesftpError(err);
    }
  }

  async #readBatch(max: number): Promise<DirEntry[]> {
    const names = await this.#readNames(max);
    const entries: DirEntry[] = [];
    for (let start = 0; start < names.length; start += LSTAT_CONCURRENCY) {
      const chunk = names.slice(start, start + LSTAT_CONCURRENCY);
      const stats = await Promise.all(chunk.map((name) => lstatEntry(this.#fd, name)));
      for (const entry of stats) if (entry !== null) entries.push(entry);
    }
    return entries;
  }

  async #readNames(max: number): Promise<string[]> {
    const names: string[] = [];
    while (names.length < max) {
      const dirent = await this.#dir.read();
      if (dirent === null) {
        this.#exhausted = true;
        break;
      }
      names.push(dirent.name);
    }
    return names;
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
