import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { LocalVfs } from './local.js';
import { isDirectory, isRegularFile, isSymlink, S_IFMT } from './types.js';
import { CREATE, flags, READ, sha256 } from './test-support.js';

function rejectsWith(code: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isKubesftpError(err), `expected a KubesftpError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

async function upload(vfs: LocalVfs, virtualPath: string, data: Buffer): Promise<void> {
  const file = await vfs.open(virtualPath, CREATE);
  // Out-of-order chunks, as pipelined SFTP writes arrive.
  const chunk = 10000;
  const offsets = [];
  for (let offset = 0; offset < data.length; offset += chunk) offsets.push(offset);
  offsets.reverse();
  for (const offset of offsets) await file.write(data.subarray(offset, offset + chunk), offset);
  await file.close();
}

describe('LocalVfs', () => {
  let base: string;
  let root: string;
  let vfs: LocalVfs;

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-local-')));
    root = path.join(base, 'home');
    await mkdir(root);
    vfs = new LocalVfs({ root });
  });

  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('writes and reads files byte for byte', async () => {
    const data = randomBytes(123457);
    await upload(vfs, '/data.bin', data);
    assert.equal(sha256(await readFile(path.join(root, 'data.bin'))), sha256(data));
    const file = await vfs.open('/data.bin', READ);
    const parts: Buffer[] = [];
    for (let position = 0; ;) {
      const chunk = await file.read(32768, position);
      if (chunk.length === 0) break;
      parts.push(chunk);
      position += chunk.length;
    }
    assert.equal((await file.stat()).size, data.length);
    await file.close();
    assert.equal(sha256(Buffer.concat(parts)), sha256(data));
  });

  it('writes a list of buffers as one range and reads into a given buffer', async () => {
    const data = randomBytes(300_001);
    const file = await vfs.open('/gather.bin', CREATE);
    await file.write([data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000)], 0);
    await file.close();
    assert.equal(sha256(await readFile(path.join(root, 'gather.bin'))), sha256(data));
    const reader = await vfs.open('/gather.bin', READ);
    const into = Buffer.alloc(400_000);
    const tail = await reader.read(200_000, 100_001, into);
    await reader.close();
    assert.equal(tail.buffer, into.buffer, 'the result is a view of the given buffer');
    assert.equal(sha256(tail), sha256(data.subarray(100_001)));
  });

  it('appends and resumes in standard mode (reput)', async () => {
    const data = randomBytes(50000);
    const first = await vfs.open('/resume.bin', CREATE);
    await first.write(data.subarray(0, 20000), 0);
    await first.abort();
    const size = (await vfs.stat('/resume.bin')).size;
    assert.equal(size, 20000);
    const second = await vfs.open('/resume.bin', flags({ write: true }));
    await second.write(data.subarray(size), size);
    await second.close();
    assert.equal(sha256(await readFile(path.join(root, 'resume.bin'))), sha256(data));

    const appender = await vfs.open('/resume.bin', flags({ write: true, append: true }));
    await appender.write(Buffer.from('tail'), 0);
    await appender.close();
    const expected = Buffer.concat([data, Buffer.from('tail')]);
    assert.equal(sha256(await readFile(path.join(root, 'resume.bin'))), sha256(expected));
  });

  it('applies open flags: missing, exclusive, truncate, directory', async () => {
    await assert.rejects(vfs.open('/missing', READ), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await upload(vfs, '/existing', Buffer.from('0123456789'));
    await assert.rejects(
      vfs.open('/existing', flags({ write: true, create: true, exclusive: true })),
      rejectsWith(ErrorCode.FILE_EXISTS),
    );
    const truncating = await vfs.open('/existing', flags({ write: true, truncate: true }));
    await truncating.close();
    assert.equal((await vfs.stat('/existing')).size, 0);
    await vfs.mkdir('/a-dir');
    await assert.rejects(vfs.open('/a-dir', CREATE), rejectsWith(ErrorCode.IS_A_DIRECTORY));
    await assert.rejects(vfs.open('/no-dir/file', CREATE), rejectsWith(ErrorCode.NO_SUCH_FILE));
  });

  it('creates files and directories with the configured umask, not the process one', async () => {
    const strict = new LocalVfs({ root, umask: 0o077 });
    const loose = new LocalVfs({ root, umask: 0o002 });
    await (await strict.open('/strict.txt', CREATE)).close();
    await (await loose.open('/loose.txt', CREATE)).close();
    await (await loose.open('/asked.txt', CREATE, { mode: 0o751 })).close();
    await strict.mkdir('/strict-dir');
    await loose.mkdir('/loose-dir', { mode: 0o775 });
    const mode = async (name: string): Promise<number> =>
      (await stat(path.join(root, name))).mode & 0o7777;
    assert.equal(await mode('strict.txt'), 0o600);
    assert.equal(await mode('loose.txt'), 0o664);
    assert.equal(await mode('asked.txt'), 0o751);
    assert.equal(await mode('strict-dir'), 0o700);
    assert.equal(await mode('loose-dir'), 0o775);
    // Opening an existing file does not change its mode.
    await (await strict.open('/loose.txt', CREATE)).close();
    assert.equal(await mode('loose.txt'), 0o664);
  });

  it('stats, lstats and realpaths through symlinks', async () => {
    await upload(vfs, '/target.txt', Buffer.from('target'));
    await vfs.symlink('/link.txt', 'target.txt');
    const followed = await vfs.stat('/link.txt');
    const own = await vfs.lstat('/link.txt');
    assert.ok(isRegularFile(followed));
    assert.equal(followed.size, 6);
    assert.ok(isSymlink(own));
    assert.equal(await vfs.realpath('/link.txt'), '/target.txt');
    assert.equal(await vfs.realpath('/./a-dir/../link.txt'), '/target.txt');
    assert.equal(await vfs.realpath('/not-yet'), '/not-yet');
    assert.ok(isDirectory(await vfs.stat('/')));
    assert.equal(
      (await vfs.stat('/target.txt')).mtime,
      Math.floor((await stat(path.join(root, 'target.txt'))).mtimeMs / 1000),
    );
  });

  it('stores symlink targets as the client gave them and reads them back unchanged', async () => {
    await vfs.mkdir('/links');
    await vfs.mkdir('/links/inner');
    await vfs.symlink('/links/inner/abs', '/target.txt');
    await vfs.symlink('/links/inner/rel', '../../target.txt');
    await vfs.symlink('/links/inner/dir', '/links');
    assert.equal(await readlink(path.join(root, 'links/inner/abs')), '/target.txt');
    assert.equal(await vfs.readlink('/links/inner/abs'), '/target.txt');
    assert.equal(await vfs.readlink('/links/inner/rel'), '../../target.txt');
    assert.equal(await vfs.readlink('/links/inner/dir'), '/links');
    assert.equal(await vfs.realpath('/links/inner/abs'), '/target.txt');
    assert.equal(await vfs.realpath('/links/inner/rel'), '/target.txt');
    assert.equal(await vfs.realpath('/links/inner/dir'), '/links');
    await assert.rejects(vfs.symlink('/links/inner/abs', '/x'), rejectsWith(ErrorCode.FILE_EXISTS));
    await assert.rejects(vfs.readlink('/target.txt'), rejectsWith(ErrorCode.INVALID_ARGUMENT));
  });

  it('hard-links files inside the root', async () => {
    await upload(vfs, '/original', Buffer.from('shared'));
    await vfs.link('/original', '/hard');
    assert.equal((await vfs.stat('/original')).nlink, 2);
    const [a, b] = await Promise.all([
      lstat(path.join(root, 'original')),
      lstat(path.join(root, 'hard')),
    ]);
    assert.equal(a.ino, b.ino);
    await assert.rejects(vfs.link('/original', '/hard'), rejectsWith(ErrorCode.FILE_EXISTS));
    await assert.rejects(vfs.link('/nothing', '/hard2'), rejectsWith(ErrorCode.NO_SUCH_FILE));
  });

  it('removes files and directories with the right errors', async () => {
    await vfs.mkdir('/rm-dir');
    await upload(vfs, '/rm-dir/file', Buffer.from('x'));
    await assert.rejects(vfs.rmdir('/rm-dir'), rejectsWith(ErrorCode.DIR_NOT_EMPTY));
    await assert.rejects(vfs.remove('/rm-dir'), rejectsWith(ErrorCode.IS_A_DIRECTORY));
    await assert.rejects(vfs.rmdir('/rm-dir/file'), rejectsWith(ErrorCode.NOT_A_DIRECTORY));
    await vfs.remove('/rm-dir/file');
    await vfs.rmdir('/rm-dir');
    await assert.rejects(vfs.stat('/rm-dir'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await assert.rejects(vfs.mkdir('/a-dir'), rejectsWith(ErrorCode.FILE_EXISTS));
    for (const home of ['/', '/..', '']) {
      await assert.rejects(vfs.rmdir(home), rejectsWith(ErrorCode.PERMISSION_DENIED));
      await assert.rejects(
        vfs.rename(home, '/moved', { overwrite: true }),
        rejectsWith(ErrorCode.PERMISSION_DENIED),
      );
    }
    // Removing a link removes the link, not its target.
    await vfs.symlink('/rm-link', '/target.txt');
    await vfs.remove('/rm-link');
    assert.equal((await vfs.stat('/target.txt')).size, 6);
  });

  it('renames with SFTP v3 rules unless overwrite is asked', async () => {
    const one = randomBytes(1000);
    const two = randomBytes(2000);
    await upload(vfs, '/one', one);
    await upload(vfs, '/two', two);
    await assert.rejects(
      vfs.rename('/one', '/two', { overwrite: false }),
      rejectsWith(ErrorCode.FILE_EXISTS),
    );
    assert.equal(sha256(await readFile(path.join(root, 'one'))), sha256(one));
    assert.equal(sha256(await readFile(path.join(root, 'two'))), sha256(two));
    await vfs.rename('/one', '/two', { overwrite: true });
    assert.equal(sha256(await readFile(path.join(root, 'two'))), sha256(one));
    await assert.rejects(vfs.stat('/one'), rejectsWith(ErrorCode.NO_SUCH_FILE));

    await vfs.rename('/two', '/three', { overwrite: false });
    assert.equal(sha256(await readFile(path.join(root, 'three'))), sha256(one));
    assert.equal((await vfs.stat('/three')).nlink, 1);

    await vfs.mkdir('/dir-a');
    await vfs.mkdir('/dir-b');
    await assert.rejects(
      vfs.rename('/dir-a', '/dir-b', { overwrite: false }),
      rejectsWith(ErrorCode.FILE_EXISTS),
    );
    await vfs.rename('/dir-a', '/dir-c', { overwrite: false });
    await vfs.rename('/dir-c', '/dir-b', { overwrite: true });
    assert.ok(isDirectory(await vfs.stat('/dir-b')));
    await assert.rejects(
      vfs.rename('/nothing', '/x', { overwrite: false }),
      rejectsWith(ErrorCode.NO_SUCH_FILE),
    );
  });

  it('sets attributes by path, on links and by handle', async () => {
    await upload(vfs, '/attrs', randomBytes(5000));
    await vfs.setstat('/attrs', { mode: 0o600, size: 100, atime: 1_000_000, mtime: 2_000_000 });
    const result = await vfs.stat('/attrs');
    assert.equal(result.mode & 0o7777, 0o600);
    assert.equal(result.size, 100);
    assert.equal(result.atime, 1_000_000);
    assert.equal(result.mtime, 2_000_000);

    await vfs.symlink('/attrs-link', 'attrs');
    await vfs.lsetstat('/attrs-link', { atime: 3_000_000, mtime: 4_000_000 });
    assert.equal((await vfs.lstat('/attrs-link')).mtime, 4_000_000);
    assert.equal((await vfs.stat('/attrs-link')).mtime, 2_000_000);
    await assert.rejects(
      vfs.lsetstat('/attrs-link', { mode: 0o644 }),
      rejectsWith(ErrorCode.UNSUPPORTED),
    );
    await vfs.setstat('/attrs-link', { mode: 0o640 });
    assert.equal((await vfs.stat('/attrs')).mode & 0o7777, 0o640);

    const file = await vfs.open('/attrs', flags({ read: true, write: true }));
    await file.setstat({ size: 10, mode: 0o604, mtime: 5_000_000 });
    await file.sync();
    const viaHandle = await file.stat();
    await file.close();
    // Only mtime was given: the handle keeps the atime it had (read from the open file).
    assert.deepEqual(
      [viaHandle.size, viaHandle.mode & 0o7777, viaHandle.mtime, viaHandle.atime],
      [10, 0o604, 5_000_000, 1_000_000],
    );
    assert.equal(viaHandle.mode & S_IFMT, (await vfs.stat('/attrs')).mode & S_IFMT);
  });

  it('ignores mode, owner and times but still truncates in setstat ignore mode', async () => {
    const ignoring = new LocalVfs({ root, setstatMode: 1 });
    await upload(vfs, '/ignored', randomBytes(300));
    const before = await vfs.stat('/ignored');
    await ignoring.setstat('/ignored', {
      mode: 0o600,
      uid: 4242,
      gid: 4242,
      mtime: 1000,
      size: 30,
    });
    const file = await ignoring.open('/ignored', flags({ write: true }));
    await file.setstat({ mode: 0o600, atime: 7, mtime: 7, size: 20 });
    await file.close();
    const result = await vfs.stat('/ignored');
    assert.equal(result.size, 20);
    assert.equal(result.mode, before.mode);
    assert.equal(result.uid, before.uid);
    assert.notEqual(result.mtime, 7);
  });

  it('reports file-system statistics', async () => {
    const result = await vfs.statvfs('/');
    assert.ok(result.bsize > 0 && result.blocks > 0);
    assert.ok(result.bavail <= result.bfree && result.bfree <= result.blocks);
    await assert.rejects(vfs.statvfs('/nope/nope'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    assert.ok(Object.values(vfs.capabilities).every((enabled) => enabled));
  });

  it('gives new entries the configured owner when running as root', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('not running as root: ownership of new files cannot change');
      return;
    }
    const owned = new LocalVfs({ root, uid: 12345, gid: 23456 });
    await (await owned.open('/owned.txt', CREATE)).close();
    await owned.mkdir('/owned-dir');
    await owned.symlink('/owned-link', 'owned.txt');
    for (const name of ['owned.txt', 'owned-dir', 'owned-link']) {
      const entry = await lstat(path.join(root, name));
      assert.deepEqual([entry.uid, entry.gid], [12345, 23456], name);
    }
    await vfs.setstat('/owned.txt', { uid: 777, gid: 888 });
    const changed = await vfs.stat('/owned.txt');
    assert.deepEqual([changed.uid, changed.gid], [777, 888]);
  });

  it('maps a missing root to NO_SUCH_FILE', async () => {
    const missing = new LocalVfs({ root: path.join(base, 'does-not-exist') });
    await assert.rejects(missing.stat('/'), rejectsWith(ErrorCode.NO_SUCH_FILE));
    await writeFile(path.join(base, 'plain-file'), 'x');
    const fileRoot = new LocalVfs({ root: path.join(base, 'plain-file') });
    await assert.rejects(fileRoot.opendir('/'), rejectsWith(ErrorCode.NOT_A_DIRECTORY));
  });
});
