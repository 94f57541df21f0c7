/**
 * Test data for the benchmark: one large random file and a directory of small ones, each with
 * a sha256 digest, so that every server's copy can be checked byte for byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

const chunkBytes = 4 * 1024 * 1024;
const tmpfsMagic = 0x01021994;

/** Writes `bytes` random bytes to `path` and returns their sha256. */
export async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += chunkBytes) {
    const chunk = randomBytes(Math.min(chunkBytes, bytes - written));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: chunkBytes }), hash);
  return hash.digest('hex');
}

/** Writes `count` random files of `size` bytes named f00000.bin, ... and returns the tree digest. */
export async function writeSmallFiles(options: {
  dir: string;
  count: number;
  size: number;
}): Promise<string> {
  await mkdir(options.dir, { recursive: true });
  for (let index = 0; index < options.count; index++) {
    await writeFile(join(options.dir, smallFileName(index)), randomBytes(options.size));
  }
  return directoryDigest(options.dir);
}

export function smallFileName(index: number): string {
  return `f${String(index).padStart(5, '0')}.bin`;
}

/** One sha256 over the sorted names and the sha256 of each regular file in a directory. */
export async function directoryDigest(dir: string): Promise<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile());
  const names = entries.map((entry) => entry.name).sort();
  const digest = createHash('sha256');
  for (const name of names) {
    const fileHash = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    digest.update(`${name} ${fileHash}\n`);
  }
  return digest.digest('hex');
}

/** "tmpfs" when the directory lives in memory, "disk" otherwise. */
export async function storageKind(dir: string): Promise<'tmpfs' | 'disk'> {
  const info = await statfs(dir);
  return info.type === tmpfsMagic ? 'tmpfs' : 'disk';
}
