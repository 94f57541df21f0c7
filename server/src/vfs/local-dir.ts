/**
 * Directory listing for the local backend: names come from fs.Dir a few at a time and each is
 * lstat'ed, so a huge directory is never held in memory whole.
 *
 * Residual race: entries are lstat'ed by name under the resolved directory path, so a directory
 * swapped for a symlink while it is listed could report another place's metadata (never data).
 */
import type { Dir } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, KubesftpError, toKubesftpError } from '../errors.js';
import type { DirEntry, VfsDir } from './types.js';
import { toFileStat } from './local-attrs.js';

/** lstat calls in flight at once while filling one batch. */
const LSTAT_CONCURRENCY = 64;

async function lstatEntry(dirPath: string, name: string): Promise<DirEntry | null> {
  try {
    return { name, stat: toFileStat(await lstat(path.join(dirPath, name))) };
  } catch (err) {
    // Removed between readdir and lstat: it is simply no longer in the directory.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class LocalDir implements VfsDir {
  readonly #dir: Dir;
  readonly #hostPath: string;
  #exhausted = false;
  #closed = false;

  constructor(dir: Dir, hostPath: string) {
    this.#dir = dir;
    this.#hostPath = hostPath;
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
      const stats = await Promise.all(chunk.map((name) => lstatEntry(this.#hostPath, name)));
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
    }
  }
}
