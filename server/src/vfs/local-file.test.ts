import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { LocalVfs } from './local.js';
import {
  AT_ONCE_WRITE_BYTES,
  ATOMIC_UPLOAD_PREFIX,
  dropWritten,
  type UploadMode,
} from './local-file.js';
import type { VfsFile } from './types.js';
import { CREATE, flags, READ, sha256 } from './test-support.js';
import { execFileSync } from 'node:child_process';

function mkfifo(at: string): Promise<void> {
  execFileSync('mkfifo', [at]);
  return Promise.resolve();
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith(ATOMIC_UPLOAD_PREFIX));
}

async function hashOrNull(hostPath: string): Promise<string | null> {
  try {
    return sha256(await readFile(hostPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function writePart(file: VfsFile, data: Buffer): Promise<void> {
  await file.write(data.subarray(0, 30000), 0);
  await file.write(data.subarray(30000, 60000), 30000);
}

describe('LocalVfs upload modes', () => {
  let base: string;
  const previous = randomBytes(777);
  const data = randomBytes(100000);
  const partial = data.subarray(0, 60000);

  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-upload-')));
  });

  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function home(mode: UploadMode, name: string): Promise<{ vfs: LocalVfs; root: string }> {
    const root = path.join(base, `${name}-mode${mode}`);
    await mkdir(root);
    return { vfs: new LocalVfs({ root, uploadMode: mode }), root };
  }

  const abortCases: Array<{
    mode: UploadMode;
    expectNew: Buffer | null;
    expectOld: Buffer | null;
  }> = [
    { mode: 0, expectNew: partial, expectOld: partial },
    { mode: 1, expectNew: null, expectOld: previous },
    { mode: 2, expectNew: partial, expectOld: partial },
  ];
  for (const { mode, expectNew, expectOld } of abortCases) {
    it(`mode ${mode}: an aborted upload leaves ${mode === 1 ? 'no partial data' : 'the partial data'}`, async () => {
      const { vfs, root } = await home(mode, 'abort');
      await writeFile(path.join(root, 'old.bin'), previous);
      for (const name of ['new.bin', 'old.bin']) {
        const file = await vfs.open(`/${name}`, CREATE);
        await writePart(file, data);
        if (mode !== 0) {
          assert.equal((await tempFiles(root)).length, 1, 'writes go to one temp file');
          assert.equal(
            await hashOrNull(path.join(root, 'old.bin')),
            sha256(previous),
            'the target is untouched while uploading',
          );
        }
        await file.abort();
        await file.abort();
      }
      const expectedNew = expectNew === null ? null : sha256(expectNew);
      assert.equal(await hashOrNull(path.join(root, 'new.bin')), expectedNew);
      assert.equal(
        await hashOrNull(path.join(root, 'old.bin')),
        sha256(expectOld ?? Buffer.alloc(0)),
      );
      assert.deepEqual(await tempFiles(root), []);
    });

    it(`mode ${mode}: a completed upload holds exactly the data and no temp file`, async () => {
      const { vfs, root } = await home(mode, 'close');
      await writeFile(path.join(root, 'old.bin'), previous);
      for (const name of ['new.bin', 'old.bin']) {
        const file = await vfs.open(`/${name}`, CREATE);
        await file.write(data.subarray(50000), 50000);
        await file.write(data.subarray(0, 50000), 0);
        assert.equal((await file.stat()).size, data.length);
        await file.close();
        await file.close();
        assert.equal(await hashOrNull(path.join(root, name)), sha256(data));
      }
      assert.deepEqual(await tempFiles(root), []);
      assert.equal((await stat(path.join(root, 'new.bin'))).mode & 0o777, 0o644);
    });
  }

  it('mode 2: an abort before any data leaves an existing target untouched', async () => {
    const { vfs, root } = await home(2, 'empty-abort');
    await writeFile(path.join(root, 'old.bin'), previous);
    const file = await vfs.open('/old.bin', CREATE);
    await file.abort();
    assert.equal(await hashOrNull(path.join(root, 'old.bin')), sha256(previous));
    assert.deepEqual(await tempFiles(root), []);
  });

  it('mode 2: a client resumes an aborted upload in place', async () => {
    const { vfs, root } = await home(2, 'resume');
    const first = await vfs.open('/big.bin', CREATE);
    await writePart(first, data);
    await first.abort();
    const offset = (await vfs.stat('/big.bin')).size;
    assert.equal(offset, partial.length);
    // Non-truncating open of an existing file: written in place, no temp file.
    const rest = await vfs.open('/big.bin', flags({ write: true }));
    assert.deepEqual(await tempFiles(root), []);
    await rest.write(data.subarray(offset), offset);
    await rest.close();
    assert.equal(await hashOrNull(path.join(root, 'big.bin')), sha256(data));
  });

  it('mode 1: an exclusive upload fails when the target appears before it completes', async () => {
    const { vfs, root } = await home(1, 'exclusive');
    const exclusive = flags({ write: true, create: true, exclusive: true });
    const file = await vfs.open('/race.bin', exclusive);
    await file.write(data, 0);
    await writeFile(path.join(root, 'race.bin'), previous);
    await assert.rejects(file.close(), (err) => isKubesftpError(err, ErrorCode.FILE_EXISTS));
    assert.equal(await hashOrNull(path.join(root, 'race.bin')), sha256(previous));
    assert.deepEqual(await tempFiles(root), []);
    await assert.rejects(vfs.open('/race.bin', exclusive), (err) =>
      isKubesftpError(err, ErrorCode.FILE_EXISTS),
    );
  });

  it('mode 1: an upload through a link lands on the link target, beside it', async () => {
    const { vfs, root } = await home(1, 'through-link');
    await vfs.mkdir('/real');
    await vfs.symlink('/alias', '/real');
    const file = await vfs.open('/alias/f.bin', CREATE);
    assert.equal((await tempFiles(path.join(root, 'real'))).length, 1);
    await file.write(data, 0);
    await file.close();
    assert.equal(await hashOrNull(path.join(root, 'real', 'f.bin')), sha256(data));
  });
});

describe('dropWritten (what a short pwritev leaves to write)', () => {
  const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')];
  const rest = (count: number): string => Buffer.concat(dropWritten(chunks, count)).toString();

  it('keeps every byte after the written ones, in order', () => {
    assert.equal(rest(0), 'abcdefgh');
    assert.equal(rest(2), 'cdefgh');
    assert.equal(rest(3), 'defgh');
    assert.equal(rest(5), 'fgh');
    assert.equal(rest(7), 'h');
    assert.equal(rest(8), '');
  });

  it('never changes the list it was given', () => {
    dropWritten(chunks, 5);
    assert.deepEqual(
      chunks.map((chunk) => chunk.toString()),
      ['abc', 'defg', 'h'],
    );
  });
});

describe('LocalVfs files on plain descriptors (decision 0026)', () => {
  let root: string;

  before(async () => {
    root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kubesftp-descriptors-')));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** Descriptors of the process once `vfs` holds its home (which it keeps until closed). */
  const openDescriptors = async (vfs: LocalVfs): Promise<number> => {
    await vfs.stat('/');
    return (await readdir('/proc/self/fd')).length;
  };

  it('writes small files at once, larger and later writes through the pool, alike', async () => {
    const vfs = new LocalVfs({ root, uploadMode: 0 });
    const small = randomBytes(AT_ONCE_WRITE_BYTES);
    const large = randomBytes(AT_ONCE_WRITE_BYTES + 1);
    const before = await openDescriptors(vfs);
    for (const [name, data] of [
      ['small.bin', small],
      ['large.bin', large],
    ] as const) {
      const file = await vfs.open(`/${name}`, CREATE);
      await file.write([data.subarray(0, 10), data.subarray(10, 4096)], 0);
      await file.write(data.subarray(4096), 4096);
      await file.close();
      assert.equal(await hashOrNull(path.join(root, name)), sha256(data));
    }
    // Truncating a file that holds data, then reading it back: the same bytes, nothing left open.
    const file = await vfs.open('/large.bin', CREATE);
    await file.write(small, 0);
    await file.close();
    const reread = await vfs.open('/large.bin', READ);
    assert.equal(sha256(await reread.read(large.length, 0)), sha256(small));
    await reread.close();
    assert.equal(await openDescriptors(vfs), before);
  });

  it('answers a read from the end of a file with nothing, and reads what is appended later', async () => {
    const vfs = new LocalVfs({ root, uploadMode: 0 });
    const first = randomBytes(4096);
    const more = randomBytes(1000);
    await writeFile(path.join(root, 'growing.bin'), first);
    const reader = await vfs.open('/growing.bin', READ);
    assert.equal(sha256(await reader.read(8192, 0)), sha256(first));
    assert.equal((await reader.read(8192, 4096)).length, 0, 'at the end');
    assert.equal((await reader.read(8192, 9000)).length, 0, 'past the end');
    await appendFile(path.join(root, 'growing.bin'), more);
    assert.equal(sha256(await reader.read(8192, 4096)), sha256(more), 'the appended bytes');
    await reader.close();
    const empty = await vfs.open('/empty.bin', CREATE);
    await empty.close();
    const emptyReader = await vfs.open('/empty.bin', READ);
    assert.equal((await emptyReader.read(100, 0)).length, 0, 'an empty file');
    await emptyReader.close();
  });

  it('closes the descriptor of an open it refuses, and of a session ending mid-upload', async () => {
    const vfs = new LocalVfs({ root, uploadMode: 1 });
    await mkfifo(path.join(root, 'pipe'));
    const before = await openDescriptors(vfs);
    await assert.rejects(vfs.open('/pipe', READ), (err) => isKubesftpError(err));
    const upload = await vfs.open('/partial.bin', CREATE);
    await upload.write(randomBytes(100), 0);
    await upload.abort();
    assert.equal(await openDescriptors(vfs), before);
    assert.equal(await hashOrNull(path.join(root, 'partial.bin')), null);
    assert.deepEqual(await tempFiles(root), []);
  });
});
