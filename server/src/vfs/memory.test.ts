import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { MemoryVfs } from './memory.js';
import { isDirectory, isSymlink } from './types.js';
import { CREATE, flags, READ, sha256 } from './test-support.js';

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (err) => isKubesftpError(err, code));
}

async function writeFile(vfs: MemoryVfs, path: string, data: Buffer): Promise<void> {
  const file = await vfs.open(path, CREATE);
  await file.write(data, 0);
  await file.close();
}

async function readFile(vfs: MemoryVfs, path: string): Promise<Buffer> {
  const file = await vfs.open(path, READ);
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const chunk = await file.read(7000, at);
    if (chunk.length === 0) break;
    parts.push(chunk);
    at += chunk.length;
  }
  await file.close();
  return Buffer.concat(parts);
}

describe('MemoryVfs', () => {
  it('stores and returns file contents, with sparse writes zero-filled', async () => {
    const vfs = new MemoryVfs();
    const data = randomBytes(100_000);
    await writeFile(vfs, '/a', data);
    assert.equal(sha256(await readFile(vfs, '/a')), sha256(data));
    const file = await vfs.open('/sparse', CREATE);
    await file.write(Buffer.from('x'), 10);
    await file.close();
    assert.deepEqual(
      await readFile(vfs, '/sparse'),
      Buffer.concat([Buffer.alloc(10), Buffer.from('x')]),
    );
  });

  it('writes a list of buffers as one range and reads into a given buffer', async () => {
    const vfs = new MemoryVfs();
    const data = randomBytes(50_000);
    const file = await vfs.open('/gather', CREATE);
    await file.write([data.subarray(0, 7), data.subarray(7, 20_000), data.subarray(20_000)], 5);
    await file.close();
    const stored = await readFile(vfs, '/gather');
    assert.deepEqual(stored.subarray(0, 5), Buffer.alloc(5));
    assert.equal(sha256(stored.subarray(5)), sha256(data));
    const reader = await vfs.open('/gather', READ);
    const into = Buffer.alloc(60_000);
    const tail = await reader.read(60_000, 10_005, into);
    await reader.close();
    assert.equal(tail.buffer, into.buffer, 'the result is a view of the given buffer');
    assert.equal(sha256(tail), sha256(data.subarray(10_000)));
  });

  it('truncates, appends and refuses access the file was not opened for', async () => {
    const vfs = new MemoryVfs();
    await writeFile(vfs, '/f', Buffer.from('hello'));
    const append = await vfs.open('/f', flags({ write: true, append: true }));
    await append.write(Buffer.from(' world'), 0);
    await rejectsWith(append.read(5, 0), ErrorCode.PERMISSION_DENIED);
    await append.close();
    assert.equal((await readFile(vfs, '/f')).toString(), 'hello world');
    const reader = await vfs.open('/f', READ);
    await rejectsWith(reader.write(Buffer.from('x'), 0), ErrorCode.PERMISSION_DENIED);
    await writeFile(vfs, '/f', Buffer.from('new'));
    assert.equal((await readFile(vfs, '/f')).toString(), 'new');
  });

  it('reports ENOENT, EEXIST and ENOTEMPTY as core error codes', async () => {
    const vfs = new MemoryVfs();
    await rejectsWith(vfs.stat('/nope'), ErrorCode.NO_SUCH_FILE);
    await rejectsWith(vfs.open('/nope', READ), ErrorCode.NO_SUCH_FILE);
    await vfs.mkdir('/d');
    await rejectsWith(vfs.mkdir('/d'), ErrorCode.FILE_EXISTS);
    await writeFile(vfs, '/d/f', Buffer.from('1'));
    await rejectsWith(
      vfs.open('/d/f', flags({ write: true, create: true, exclusive: true })),
      ErrorCode.FILE_EXISTS,
    );
    await rejectsWith(vfs.rmdir('/d'), ErrorCode.DIR_NOT_EMPTY);
    await rejectsWith(vfs.remove('/d'), ErrorCode.IS_A_DIRECTORY);
    await rejectsWith(vfs.rmdir('/d/f'), ErrorCode.NOT_A_DIRECTORY);
    await rejectsWith(vfs.stat('/d/f/x'), ErrorCode.NOT_A_DIRECTORY);
    await rejectsWith(vfs.mkdir(`/${'n'.repeat(256)}`), ErrorCode.INVALID_ARGUMENT);
    await vfs.remove('/d/f');
    await vfs.rmdir('/d');
    await rejectsWith(vfs.stat('/d'), ErrorCode.NO_SUCH_FILE);
  });

  it('applies the umask to new files and directories but not to chmod', async () => {
    const vfs = new MemoryVfs();
    await vfs.mkdir('/d', { mode: 0o777 });
    assert.equal((await vfs.stat('/d')).mode & 0o7777, 0o755);
    const file = await vfs.open('/f', CREATE, { mode: 0o666 });
    await file.close();
    assert.equal((await vfs.stat('/f')).mode & 0o7777, 0o644);
    await vfs.setstat('/f', { mode: 0o777 });
    assert.equal((await vfs.stat('/f')).mode & 0o7777, 0o777);
  });

  it('follows relative and absolute symlinks, stops at loops, and keeps lstat on the link', async () => {
    const vfs = new MemoryVfs();
    await vfs.mkdir('/d');
    await writeFile(vfs, '/d/target', Buffer.from('t'));
    await vfs.symlink('/d/rel', 'target');
    await vfs.symlink('/abs', '/d/target');
    await vfs.symlink('/dirlink', 'd');
    await vfs.symlink('/up', '../../../d');
    assert.equal((await readFile(vfs, '/d/rel')).toString(), 't');
    assert.equal((await readFile(vfs, '/abs')).toString(), 't');
    assert.equal((await readFile(vfs, '/dirlink/target')).toString(), 't');
    assert.equal(await vfs.realpath('/dirlink/rel'), '/d/target');
    assert.equal(await vfs.realpath('/up'), '/d', '.. in a link stops at the root');
    assert.ok(isSymlink(await vfs.lstat('/abs')));
    assert.equal(await vfs.readlink('/d/rel'), 'target');
    await rejectsWith(vfs.readlink('/d/target'), ErrorCode.INVALID_ARGUMENT);
    await vfs.symlink('/loop1', 'loop2');
    await vfs.symlink('/loop2', 'loop1');
    await rejectsWith(vfs.stat('/loop1'), ErrorCode.NO_SUCH_FILE);
    // As open(2) with O_CREAT: writing through a dangling link creates its target.
    await vfs.symlink('/dangling', 'missing');
    await (await vfs.open('/dangling', CREATE)).close();
    assert.equal(await vfs.realpath('/dangling'), '/missing');
    await vfs.lsetstat('/abs', { mtime: 77, atime: 77 });
    assert.equal((await vfs.lstat('/abs')).mtime, 77);
    assert.notEqual((await vfs.stat('/abs')).mtime, 77);
  });

  it('shares content between hard links and counts links', async () => {
    const vfs = new MemoryVfs();
    await writeFile(vfs, '/a', Buffer.from('one'));
    await vfs.link('/a', '/b');
    assert.equal((await vfs.stat('/a')).nlink, 2);
    await writeFile(vfs, '/b', Buffer.from('two'));
    assert.equal((await readFile(vfs, '/a')).toString(), 'two');
    await vfs.remove('/a');
    assert.equal((await vfs.stat('/b')).nlink, 1);
    await vfs.mkdir('/d');
    await rejectsWith(vfs.link('/d', '/d2'), ErrorCode.PERMISSION_DENIED);
    await rejectsWith(vfs.link('/b', '/d'), ErrorCode.FILE_EXISTS);
  });

  it('renames with and without overwrite, with POSIX rules for directories', async () => {
    const vfs = new MemoryVfs();
    await writeFile(vfs, '/a', Buffer.from('a'));
    await writeFile(vfs, '/b', Buffer.from('b'));
    await rejectsWith(vfs.rename('/a', '/b', { overwrite: false }), ErrorCode.FILE_EXISTS);
    await vfs.rename('/a', '/b', { overwrite: true });
    assert.equal((await readFile(vfs, '/b')).toString(), 'a');
    await rejectsWith(vfs.stat('/a'), ErrorCode.NO_SUCH_FILE);
    await vfs.mkdir('/d');
    await vfs.mkdir('/d/inner');
    await vfs.mkdir('/full');
    await writeFile(vfs, '/full/x', Buffer.from('x'));
    await rejectsWith(
      vfs.rename('/d', '/d/inner/moved', { overwrite: false }),
      ErrorCode.INVALID_ARGUMENT,
    );
    await rejectsWith(vfs.rename('/d', '/full', { overwrite: true }), ErrorCode.DIR_NOT_EMPTY);
    await rejectsWith(vfs.rename('/b', '/d', { overwrite: true }), ErrorCode.IS_A_DIRECTORY);
    await rejectsWith(vfs.rename('/d', '/b', { overwrite: true }), ErrorCode.NOT_A_DIRECTORY);
    await vfs.rename('/d', '/full/d', { overwrite: false });
    assert.ok(isDirectory(await vfs.stat('/full/d/inner')));
    await vfs.rename('/full/d/inner', '/inner', { overwrite: false });
    assert.equal(await vfs.realpath('/inner'), '/inner');
  });

  it('lists a directory in pages without repeating or losing entries', async () => {
    const vfs = new MemoryVfs();
    const names = Array.from({ length: 1234 }, (_, i) => `e${i}`);
    for (const name of names) await vfs.mkdir(`/${name}`);
    const dir = await vfs.opendir('/');
    const seen: string[] = [];
    for (let batch = await dir.next(100); batch !== null; batch = await dir.next(100)) {
      assert.ok(batch.length <= 100);
      seen.push(...batch.map((entry) => entry.name));
    }
    await dir.close();
    assert.deepEqual(seen.sort(), names.sort());
  });

  it('truncates with setstat and bounds file size', async () => {
    const vfs = new MemoryVfs({ maxFileSize: 1000 });
    await writeFile(vfs, '/f', Buffer.alloc(500, 1));
    await vfs.setstat('/f', { size: 10 });
    assert.equal((await vfs.stat('/f')).size, 10);
    const file = await vfs.open('/f', flags({ write: true }));
    await rejectsWith(file.write(Buffer.alloc(10), 995), ErrorCode.QUOTA_EXCEEDED);
    await rejectsWith(vfs.setstat('/f', { size: 2000 }), ErrorCode.QUOTA_EXCEEDED);
    await vfs.mkdir('/d');
    await rejectsWith(vfs.setstat('/d', { size: 1 }), ErrorCode.IS_A_DIRECTORY);
  });

  it('reports synthetic statvfs numbers from what it stores', async () => {
    const vfs = new MemoryVfs({ capacity: 4096 * 100 });
    const empty = await vfs.statvfs('/');
    await writeFile(vfs, '/f', Buffer.alloc(4096 * 10));
    const used = await vfs.statvfs('/');
    assert.equal(empty.blocks, 100);
    assert.equal(empty.bfree - used.bfree, 10);
    assert.equal(empty.ffree - used.ffree, 1);
    await rejectsWith(vfs.statvfs('/missing'), ErrorCode.NO_SUCH_FILE);
  });
});
