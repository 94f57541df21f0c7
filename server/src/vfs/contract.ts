/**
 * The Vfs contract every backend passes, whatever it stores on: byte-exact files, POSIX-like
 * errors as core codes, directories, listings in pages, renames of files and trees, and exactly
 * the refusals its capabilities announce. contract.test.ts runs it on the memory, local and S3
 * backends; each fixture says what its backend can do, and the suite checks that too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { CREATE, flags, READ, sha256 } from './test-support.js';
import { isDirectory, isRegularFile, type Vfs, type VfsFile } from './types.js';

export interface ContractFixture {
  name: string;
  /** A fresh, empty home. */
  open(): Promise<{ vfs: Vfs; cleanup(): Promise<void> }>;
  /** Uploads are atomic: an aborted new file leaves nothing behind. */
  atomicUploads: boolean;
  /** Per-test time bound, in ms. */
  timeoutMs?: number;
}

export function rejectsWith(code: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isKubesftpError(err), `expected a KubesftpError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** Writes `data` front to back in `chunk`-sized writes, as a streaming client does. */
export async function putFile(vfs: Vfs, path: string, data: Buffer, chunk = 65536): Promise<void> {
  const file = await vfs.open(path, CREATE);
  for (let offset = 0; offset < data.length; offset += chunk) {
    await file.write(data.subarray(offset, offset + chunk), offset);
  }
  await file.close();
}

export async function readAll(file: VfsFile, chunk = 32768): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let position = 0; ;) {
    const piece = await file.read(chunk, position);
    if (piece.length === 0) break;
    parts.push(Buffer.from(piece));
    position += piece.length;
  }
  return Buffer.concat(parts);
}

export async function getFile(vfs: Vfs, path: string): Promise<Buffer> {
  const file = await vfs.open(path, READ);
  try {
    return await readAll(file);
  } finally {
    await file.close();
  }
}

async function names(vfs: Vfs, path: string, page = 100): Promise<string[]> {
  const dir = await vfs.opendir(path);
  const found: string[] = [];
  for (let entries = await dir.next(page); entries !== null; entries = await dir.next(page)) {
    assert.ok(entries.length <= page, 'a page holds at most what was asked');
    found.push(...entries.map((entry) => entry.name));
  }
  await dir.close();
  return found.sort();
}

export function runVfsContract(fixture: ContractFixture): void {
  describe(`Vfs contract: ${fixture.name}`, { timeout: fixture.timeoutMs ?? 60_000 }, () => {
    let vfs: Vfs;
    let home: Awaited<ReturnType<ContractFixture['open']>> | undefined;

    before(async () => {
      home = await fixture.open();
      vfs = home.vfs;
    });
    after(async () => {
      await vfs?.close();
      await home?.cleanup();
    });

    filesContract(() => vfs, fixture);
    directoriesContract(() => vfs);
    renameContract(() => vfs);
    capabilitiesContract(() => vfs);
  });
}

function filesContract(getVfs: () => Vfs, fixture: ContractFixture): void {
  it('stores files byte for byte, empty ones too, and reads them whole or in any range', async () => {
    const vfs = getVfs();
    const data = randomBytes(6 * 1024 * 1024 + 17);
    await putFile(vfs, '/data.bin', data);
    await putFile(vfs, '/empty', Buffer.alloc(0));
    assert.equal(sha256(await getFile(vfs, '/data.bin')), sha256(data));
    assert.equal((await getFile(vfs, '/empty')).length, 0);
    assert.equal((await vfs.stat('/data.bin')).size, data.length);
    const file = await vfs.open('/data.bin', READ);
    for (const position of [2_000_000, 17, data.length - 5, 1_048_576, 0]) {
      const piece = await file.read(4096, position);
      assert.deepEqual(piece, data.subarray(position, position + 4096), `at ${position}`);
    }
    assert.equal((await file.read(10, data.length)).length, 0, 'end of file reads empty');
    const into = Buffer.alloc(1000);
    const view = await file.read(1000, 5000, into);
    assert.equal(view.buffer, into.buffer, 'the bytes land in the given buffer');
    assert.deepEqual(view, data.subarray(5000, 6000));
    assert.equal((await file.stat()).size, data.length);
    await file.close();
  });

  it('writes a list of buffers as one range', async () => {
    const vfs = getVfs();
    const data = randomBytes(300_001);
    const file = await vfs.open('/gather.bin', CREATE);
    await file.write([data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000)], 0);
    await file.close();
    assert.equal(sha256(await getFile(vfs, '/gather.bin')), sha256(data));
  });

  it('replaces a file opened with truncate, and refuses what open flags forbid', async () => {
    const vfs = getVfs();
    await putFile(vfs, '/replace.txt', Buffer.from('the first version, longer'));
    await putFile(vfs, '/replace.txt', Buffer.from('second'));
    assert.equal((await getFile(vfs, '/replace.txt')).toString(), 'second');
    await assert.rejects(vfs.open('/missing.txt', READ), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await assert.rejects(
      vfs.open('/missing.txt', flags({ write: true })),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
    await assert.rejects(
      vfs.open('/replace.txt', flags({ write: true, create: true, exclusive: true })),
      rejectsWith(ErrorCode.FILE_EXISTS),
    );
    await assert.rejects(
      vfs.open('/no/such/dir/file', CREATE),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
    await vfs.mkdir('/a-dir');
    await assert.rejects(vfs.open('/a-dir', READ), (err) => isKubesftpError(err));
  });

  it('reports sizes, types and recent times in stat and lstat', async () => {
    const vfs = getVfs();
    const before = Math.floor(Date.now() / 1000) - 5;
    await putFile(vfs, '/stat.bin', randomBytes(1234));
    for (const stat of [await vfs.stat('/stat.bin'), await vfs.lstat('/stat.bin')]) {
      assert.ok(isRegularFile(stat));
      assert.equal(stat.size, 1234);
      assert.ok(stat.mtime >= before, `mtime ${stat.mtime} is recent`);
    }
    assert.ok(isDirectory(await vfs.stat('/')));
    await assert.rejects(vfs.stat('/nothing-here'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.equal(await vfs.realpath('/stat.bin'), '/stat.bin');
  });

  it('truncates a file to zero through setstat', async () => {
    const vfs = getVfs();
    await putFile(vfs, '/trunc.bin', randomBytes(5000));
    await vfs.setstat('/trunc.bin', { size: 5000 });
    assert.equal((await vfs.stat('/trunc.bin')).size, 5000, 'the same size changes nothing');
    await vfs.setstat('/trunc.bin', { size: 0 });
    assert.equal((await vfs.stat('/trunc.bin')).size, 0);
  });

  it(`leaves ${fixture.atomicUploads ? 'nothing' : 'what was written'} when an upload is aborted`, async () => {
    const vfs = getVfs();
    const file = await vfs.open('/aborted.bin', CREATE);
    await file.write(randomBytes(100_000), 0);
    await file.abort();
    if (fixture.atomicUploads) {
      await assert.rejects(vfs.stat('/aborted.bin'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    } else {
      assert.equal((await vfs.stat('/aborted.bin')).size, 100_000);
    }
  });

  it('reports file-system statistics', async () => {
    const stats = await getVfs().statvfs('/');
    assert.ok(stats.bsize > 0 && stats.blocks > 0 && stats.namemax > 0);
  });
}

function directoriesContract(getVfs: () => Vfs): void {
  it('makes and removes directories with POSIX errors', async () => {
    const vfs = getVfs();
    await vfs.mkdir('/d');
    assert.ok(isDirectory(await vfs.stat('/d')));
    await assert.rejects(vfs.mkdir('/d'), rejectsWith(ErrorCode.FILE_EXISTS));
    await assert.rejects(vfs.mkdir('/nope/sub'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await vfs.mkdir('/d/sub');
    await putFile(vfs, '/d/sub/f.txt', Buffer.from('x'));
    await assert.rejects(vfs.rmdir('/d/sub'), rejectsWith(ErrorCode.DIR_NOT_EMPTY));
    await assert.rejects(vfs.remove('/d/sub'), rejectsWith(ErrorCode.IS_A_DIRECTORY));
    await assert.rejects(vfs.rmdir('/d/sub/f.txt'), rejectsWith(ErrorCode.NOT_A_DIRECTORY));
    await vfs.remove('/d/sub/f.txt');
    await assert.rejects(vfs.remove('/d/sub/f.txt'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.ok(isDirectory(await vfs.stat('/d/sub')), 'an emptied directory stays');
    await vfs.rmdir('/d/sub');
    await assert.rejects(vfs.stat('/d/sub'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await assert.rejects(vfs.rmdir('/d/sub'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.deepEqual(await names(vfs, '/d'), []);
    await vfs.rmdir('/d');
    await assert.rejects(vfs.rmdir('/'), (err) => isKubesftpError(err));
    assert.ok(isDirectory(await vfs.stat('/')), 'the home stays');
  });

  it('lists a directory in pages with names, sizes and types, none twice', async () => {
    const vfs = getVfs();
    await vfs.mkdir('/many');
    const count = 1050;
    const expected: string[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const name = `f-${String(i).padStart(4, '0')} é`;
      expected.push(name);
      writes.push(putFile(vfs, `/many/${name}`, Buffer.from(String(i))));
      if (writes.length >= 16) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await vfs.mkdir('/many/zz-sub');
    expected.push('zz-sub');
    assert.deepEqual(await names(vfs, '/many', 37), expected.sort());
    const dir = await vfs.opendir('/many');
    const entries = (await dir.next(2000)) ?? [];
    await dir.close();
    const sub = entries.find((entry) => entry.name === 'zz-sub');
    const last = entries.find((entry) => entry.name === 'f-1049 é');
    assert.ok(sub && isDirectory(sub.stat));
    assert.ok(last && isRegularFile(last.stat) && last.stat.size === 4);
    await assert.rejects(vfs.opendir('/many/f-0001 é'), rejectsWith(ErrorCode.NOT_A_DIRECTORY));
    await assert.rejects(vfs.opendir('/nowhere'), rejectsWith(ErrorCode.NO_SUCH_FILE));
  });
}

function renameContract(getVfs: () => Vfs): void {
  it('renames files with SFTP v3 rules unless overwrite is asked', async () => {
    const vfs = getVfs();
    const data = randomBytes(70_000);
    await putFile(vfs, '/r1.bin', data);
    await putFile(vfs, '/r2.bin', Buffer.from('other'));
    await assert.rejects(
      vfs.rename('/r1.bin', '/r2.bin', { overwrite: false }),
      rejectsWith(ErrorCode.FILE_EXISTS),
    );
    await vfs.rename('/r1.bin', '/r3.bin', { overwrite: false });
    await assert.rejects(vfs.stat('/r1.bin'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.equal(sha256(await getFile(vfs, '/r3.bin')), sha256(data));
    await vfs.rename('/r3.bin', '/r2.bin', { overwrite: true });
    assert.equal(sha256(await getFile(vfs, '/r2.bin')), sha256(data));
    await assert.rejects(
      vfs.rename('/missing', '/x', { overwrite: false }),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
    await assert.rejects(
      vfs.rename('/r2.bin', '/no/dir/r2.bin', { overwrite: false }),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
  });

  it('renames a directory with everything below it', async () => {
    const vfs = getVfs();
    await vfs.mkdir('/tree');
    await vfs.mkdir('/tree/a');
    await vfs.mkdir('/tree/a/empty');
    const files = new Map([
      ['/tree/top.txt', randomBytes(10)],
      ['/tree/a/deep.bin', randomBytes(200_000)],
    ]);
    for (const [path, data] of files) await putFile(vfs, path, data);
    await assert.rejects(vfs.rename('/tree', '/tree/a/inside', { overwrite: false }), (err) =>
      isKubesftpError(err),
    );
    await vfs.rename('/tree', '/moved', { overwrite: false });
    await assert.rejects(vfs.stat('/tree'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    for (const [path, data] of files) {
      assert.equal(sha256(await getFile(vfs, path.replace('/tree', '/moved'))), sha256(data));
    }
    assert.ok(isDirectory(await vfs.stat('/moved/a/empty')));
    assert.deepEqual(await names(vfs, '/moved'), ['a', 'top.txt']);
  });
}

function capabilitiesContract(getVfs: () => Vfs): void {
  it('refuses with UNSUPPORTED exactly what its capabilities leave out', async () => {
    const vfs = getVfs();
    const caps = vfs.capabilities;
    await putFile(vfs, '/caps.txt', Buffer.from('caps'));
    const checks: [boolean, () => Promise<unknown>][] = [
      [caps.symlinks, () => vfs.symlink('/caps-link', '/caps.txt')],
      [caps.hardlinks, () => vfs.link('/caps.txt', '/caps-hard')],
      [caps.chmod, () => vfs.setstat('/caps.txt', { mode: 0o600 })],
      [caps.chtimes, () => vfs.setstat('/caps.txt', { atime: 1, mtime: 2 })],
    ];
    for (const [supported, attempt] of checks) {
      if (supported) await attempt();
      else await assert.rejects(attempt(), rejectsWith(ErrorCode.UNSUPPORTED));
    }
  });
}
