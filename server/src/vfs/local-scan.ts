/**
 * A walk of a local home as the host sees it, for what acts on it without our resolver (the
 * rsync and git binaries): what it holds for quota (regular files and their bytes), and the
 * first symlink that the kernel would follow out of the home. Symlinks are never followed by
 * the walk itself.
 */
import type { Dirent } from 'node:fs';
import { lstat, opendir, readlink, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

export interface HomeScan {
  size: number;
  files: number;
  /** The virtual path of the first symlink that leads out of the home on the host, if any. */
  escapingLink?: string;
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/** Where `rsync --munge-links` points the links it stores, so that they resolve nowhere. */
const RSYNC_MUNGED = '/rsyncd-munged/';

/**
 * Whether the kernel, following `linkPath`, stays in `realHome`. A link that resolves is judged
 * on where it really leads, through every link on the way. One that does not (dangling, a
 * loop) is safe only if its target can only lead down: relative and without "..", or one that
 * rsync munged, as long as its munge directory does not exist on the host.
 */
async function linkStaysInside(linkPath: string, realHome: string): Promise<boolean> {
  try {
    return isInside(await realpath(linkPath), realHome);
  } catch {
    const target = await readlink(linkPath);
    if (target.startsWith(RSYNC_MUNGED)) return true;
    return !isAbsolute(target) && !target.split('/').includes('..');
  }
}

/** Other sessions may remove entries while the walk runs: a vanished one is skipped. */
async function orMissing<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

interface WalkState {
  home: string;
  realHome: string;
  checkLinks: boolean;
  scan: HomeScan;
}

async function visit(state: WalkState, path: string, entry: Dirent): Promise<string | undefined> {
  if (entry.isDirectory()) return path;
  if (entry.isFile()) {
    const size = await orMissing(lstat(path).then((stats) => stats.size));
    if (size === undefined) return undefined;
    state.scan.files += 1;
    state.scan.size += size;
  } else if (entry.isSymbolicLink() && state.checkLinks && state.scan.escapingLink === undefined) {
    if (!(await linkStaysInside(path, state.realHome))) {
      state.scan.escapingLink = `/${relative(state.home, path).split(sep).join('/')}`;
    }
  }
  return undefined;
}

/**
 * Walks `home` (a host path). With `checkLinks`, also finds a symlink leading out of it; the
 * walk stops early then, so `size` and `files` are only complete without one.
 */
export async function scanLocalHome(
  home: string,
  options: { checkLinks: boolean },
): Promise<HomeScan> {
  const state: WalkState = {
    home,
    realHome: await realpath(home),
    checkLinks: options.checkLinks,
    scan: { size: 0, files: 0 },
  };
  const pending = [home];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const handle = await orMissing(opendir(dir));
    if (handle === undefined) continue;
    for await (const entry of handle) {
      const subdir = await visit(state, join(dir, entry.name), entry);
      if (subdir !== undefined) pending.push(subdir);
      if (state.scan.escapingLink !== undefined) return state.scan;
    }
  }
  return state.scan;
}
