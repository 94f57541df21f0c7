import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, open, realpath, rm, symlink, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { LocalVfs } from './local.js';
import { isDirectory, isRegularFile, isSymlink } from './types.js';

const ENTRY_COUNT = 20000;
const BATCH = 500;

/** Hard links to one empty file: a directory of many entries, made much faster than by creating files. */
async function createEmptyFiles(dir: string, count: number): Promise<void> {
  const seed = path.join(dir, 'f0');
  await (await open(seed, 'w')).close();
  const width = 64;
  for (let start = 1; start < count; start += width) {
    const names = Array.from({ length: Math.min(width, count - start) }, (_, i) => `f${start + i}`);
    await Promise.all(names.map((name) => link(seed, path.join(dir, name))));
  }
}

describe('LocalVfs directory listing', () => {
  let base: string;
  let root: string;
  let vfs: LocalVfs;

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-dir-')));
    root = path.join(base, 'home');
    await mkdir(path.join(root, 'big'), { recursive: true });
    await createEmptyFiles(path.join(root, 'big'), ENTRY_COUNT);
    vfs = new LocalVfs({ root });
  });

  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it(`lists ${ENTRY_COUNT} entries in bounded batches, each name once`, async () => {
    const dir = await vfs.opendir('/big');
    const seen = new Set<string>();
    const sizes: number[] = [];
    for (let batch = await dir.next(BATCH); batch !== null; batch = await dir.next(BATCH)) {
      sizes.push(batch.length);
      for (const entry of batch) {
        assert.ok(!seen.has(entry.name), `${entry.name} came back twice`);
        assert.ok(isRegularFile(entry.stat));
        seen.add(entry.name);
      }
    }
    assert.equal(await dir.next(BATCH), null);
    await dir.close();
    await dir.close();
    assert.equal(seen.size, ENTRY_COUNT);
    for (let i = 0; i < ENTRY_COUNT; i += 1) assert.ok(seen.has(`f${i}`));
    assert.ok(sizes.every((size) => size > 0 && size <= BATCH));
    assert.equal(sizes.length, Math.ceil(ENTRY_COUNT / BATCH));
  });

  it('reports links as links (lstat) and skips "." and ".."', async () => {
    await mkdir(path.join(root, 'mixed'));
    await mkdir(path.join(root, 'mixed', 'child'));
    await (await open(path.join(root, 'mixed', 'file'), 'w')).close();
    await symlink('/etc', path.join(root, 'mixed', 'link'));
    const dir = await vfs.opendir('/mixed');
    const entries = (await dir.next(100)) ?? [];
    await dir.close();
    const byName = new Map(entries.map((entry) => [entry.name, entry.stat]));
    assert.deepEqual([...byName.keys()].sort(), ['child', 'file', 'link']);
    assert.ok(isDirectory(byName.get('child')!));
    assert.ok(isRegularFile(byName.get('file')!));
    assert.ok(isSymlink(byName.get('link')!));
  });

  it('skips entries removed while listing', async () => {
    await mkdir(path.join(root, 'shrinking'));
    await createEmptyFiles(path.join(root, 'shrinking'), 300);
    const dir = await vfs.opendir('/shrinking');
    const first = (await dir.next(10)) ?? [];
    const firstNames = new Set(first.map((entry) => entry.name));
    const toRemove = Array.from({ length: 300 }, (_, i) => `f${i}`).filter(
      (n) => !firstNames.has(n),
    );
    await Promise.all(
      toRemove.slice(0, 200).map((name) => unlink(path.join(root, 'shrinking', name))),
    );
    const rest: string[] = [];
    for (let batch = await dir.next(50); batch !== null; batch = await dir.next(50)) {
      for (const entry of batch) rest.push(entry.name);
    }
    await dir.close();
    assert.equal(first.length, 10);
    assert.equal(rest.length, 300 - 10 - 200);
    for (const name of rest)
      assert.ok(!toRemove.slice(0, 200).includes(name), `${name} was removed`);
    assert.equal(new Set([...firstNames, ...rest]).size, first.length + rest.length);
  });

  it('refuses bad batch sizes and non-directories', async () => {
    const dir = await vfs.opendir('/');
    await assert.rejects(dir.next(0), (err) => isKubesftpError(err, ErrorCode.INVALID_ARGUMENT));
    await dir.close();
    await assert.rejects(vfs.opendir('/big/f1'), (err) =>
      isKubesftpError(err, ErrorCode.NOT_A_DIRECTORY),
    );
    await assert.rejects(vfs.opendir('/none'), (err) =>
      isKubesftpError(err, ErrorCode.NO_SUCH_FILE),
    );
  });
});
