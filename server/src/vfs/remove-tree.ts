/**
 * Empties a directory through a Vfs, depth first: what a backend's own resolver and
 * operations do (never following a symlink, never leaving the root), for any backend.
 */
import { isDirectory, type DirEntry, type Vfs } from './types.js';
import { childPath } from './virtual-path.js';

const BATCH = 256;

async function entriesOf(vfs: Vfs, path: string): Promise<DirEntry[]> {
  const dir = await vfs.opendir(path);
  const entries: DirEntry[] = [];
  try {
    for (let batch = await dir.next(BATCH); batch !== null; batch = await dir.next(BATCH)) {
      entries.push(...batch.filter((e) => e.name !== '.' && e.name !== '..'));
    }
  } finally {
    await dir.close();
  }
  return entries;
}

/** Removes everything inside `path` (not `path` itself); resolves with the entries removed. */
export async function emptyDirectory(vfs: Vfs, path: string): Promise<number> {
  let removed = 0;
  for (const entry of await entriesOf(vfs, path)) {
    const child = childPath(path, entry.name);
    // The entry's own type (lstat): a symlink to a directory is removed as a link.
    if (isDirectory(entry.stat)) {
      removed += await emptyDirectory(vfs, child);
      await vfs.rmdir(child);
    } else {
      await vfs.remove(child);
    }
    removed += 1;
  }
  return removed;
}
