import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../errors.js';
import { READ, setup, upload, WRITE } from './test-support.js';

function code(err: unknown): string | undefined {
  return isKubesftpError(err) ? err.code : undefined;
}

test('permissions of the parent directory decide, deepest directory first', async () => {
  const { fs, inner } = setup({
    permissions: {
      '/': ['list', 'download'],
      '/in': ['upload', 'list', 'create_dirs', 'download'],
    },
  });
  await inner.mkdir('/in');
  await assert.rejects(
    upload(fs, '/top.txt', Buffer.from('x')),
    (e) => code(e) === 'PERMISSION_DENIED',
  );
  await upload(fs, '/in/a.txt', Buffer.from('abc'));
  // Overwriting needs "overwrite", deleting needs "delete".
  await assert.rejects(
    upload(fs, '/in/a.txt', Buffer.from('x')),
    (e) => code(e) === 'PERMISSION_DENIED',
  );
  await assert.rejects(fs.remove('/in/a.txt'), (e) => code(e) === 'PERMISSION_DENIED');
  await assert.rejects(fs.mkdir('/newdir'), (e) => code(e) === 'PERMISSION_DENIED');
  await fs.mkdir('/in/sub');
  const file = await fs.open('/in/a.txt', READ);
  assert.equal((await file.read(10, 0)).toString(), 'abc');
  await file.close();
});

test('uploads, removes and renames keep the quota usage exact', async () => {
  const { fs, usage, transfers } = setup();
  await upload(fs, '/a.bin', Buffer.alloc(1000));
  await upload(fs, '/b.bin', Buffer.alloc(300));
  assert.deepEqual(usage, { size: 1300, files: 2 });
  await upload(fs, '/a.bin', Buffer.alloc(100)); // overwrite shrinks, same file count
  assert.deepEqual(usage, { size: 400, files: 2 });
  await fs.rename('/b.bin', '/a.bin', { overwrite: true });
  assert.deepEqual(usage, { size: 300, files: 1 });
  await fs.remove('/a.bin');
  assert.deepEqual(usage, { size: 0, files: 0 });
  assert.deepEqual(
    transfers.map((t) => [t.sender, t.size_bytes, t.file_path]),
    [
      ['Upload', 1000, '/a.bin'],
      ['Upload', 300, '/b.bin'],
      ['Upload', 100, '/a.bin'],
    ],
  );
});

test('size and file quotas refuse what would pass them', async () => {
  const { fs, usage } = setup({ quota_size: 1000, quota_files: 2 });
  await upload(fs, '/a.bin', Buffer.alloc(600));
  await assert.rejects(
    upload(fs, '/b.bin', Buffer.alloc(500)),
    (e) => code(e) === 'QUOTA_EXCEEDED',
  );
  await upload(fs, '/b.bin', Buffer.alloc(10)); // the refused upload left 0 bytes counted
  assert.equal(usage.files, 2);
  assert.ok(usage.size <= 1000);
  await assert.rejects(upload(fs, '/c.bin', Buffer.alloc(1)), (e) => code(e) === 'QUOTA_EXCEEDED');
});

test('an upload refused for quota ends aborted at close, never completed short', async () => {
  const { fs, backend } = setup({ quota_size: 1000 });
  const ended: string[] = [];
  const open = backend.open.bind(backend);
  backend.open = async (...args) => {
    const file = await open(...args);
    const [close, abort] = [file.close.bind(file), file.abort.bind(file)];
    file.close = () => (ended.push('close'), close());
    file.abort = () => (ended.push('abort'), abort());
    return file;
  };
  const file = await fs.open('/big.bin', WRITE);
  await file.write(Buffer.alloc(600), 0);
  await assert.rejects(file.write(Buffer.alloc(600), 600), (e) => code(e) === 'QUOTA_EXCEEDED');
  await file.close();
  await upload(fs, '/small.bin', Buffer.alloc(10));
  assert.deepEqual(ended, ['abort', 'close']);
});

test('setstat checks each attribute; ignore mode drops mode, owner and times silently', async () => {
  const strict = setup({ permissions: { '/': ['list', 'upload', 'chmod'] } });
  await upload(strict.fs, '/f', Buffer.from('x'));
  await strict.fs.setstat('/f', { mode: 0o600 });
  assert.equal((await strict.inner.stat('/f')).mode & 0o777, 0o600);
  await assert.rejects(strict.fs.setstat('/f', { uid: 5 }), (e) => code(e) === 'PERMISSION_DENIED');
  await assert.rejects(
    strict.fs.setstat('/f', { mtime: 5 }),
    (e) => code(e) === 'PERMISSION_DENIED',
  );
  assert.ok(strict.commands.some((c) => c.sender === 'Chmod' && c.filemode === 0o600));

  const ignoring = setup({ permissions: { '/': ['list', 'upload'] } }, { setstatMode: 1 });
  await upload(ignoring.fs, '/f', Buffer.from('x'));
  const before = await ignoring.inner.stat('/f');
  await ignoring.fs.setstat('/f', { mode: 0o777, uid: 5, mtime: 5 });
  assert.deepEqual(await ignoring.inner.stat('/f'), before);
});

test('track_quota 2 leaves users without limits untracked; 0 tracks nobody', async () => {
  const unlimited = setup({}, { trackQuota: 2 });
  await upload(unlimited.fs, '/a', Buffer.alloc(10));
  await unlimited.fs.remove('/a');
  assert.deepEqual(unlimited.usage, { size: 0, files: 0 });
  const off = setup({ quota_files: 5 }, { trackQuota: 0 });
  await upload(off.fs, '/a', Buffer.alloc(10));
  assert.deepEqual(off.usage, { size: 0, files: 0 });
});

test('an announced upload size that would pass the quota is refused before any byte', async () => {
  const { fs, inner, usage } = setup({ quota_size: 1000 });
  await upload(fs, '/old.bin', Buffer.alloc(600));
  const write = {
    read: false,
    write: true,
    append: false,
    create: true,
    truncate: true,
    exclusive: false,
  };
  await assert.rejects(
    fs.open('/new.bin', write, undefined, { expectedSize: 401 }),
    (e) => code(e) === 'QUOTA_EXCEEDED',
  );
  await assert.rejects(inner.stat('/new.bin'), (e) => code(e) === 'NO_SUCH_FILE');
  // Replacing a file counts only what it grows by; what fits is accepted.
  await (await fs.open('/old.bin', write, undefined, { expectedSize: 1000 })).abort();
  await (await fs.open('/new.bin', write, undefined, { expectedSize: 400 })).close();
  assert.deepEqual(usage, { size: 0, files: 2 }, 'both were left empty');
});

test('SSH commands read files without transfer records; SCP transfers say SCP', async () => {
  const ssh = setup({}, { protocol: 'SSH' });
  await upload(ssh.inner, '/a', Buffer.from('x'));
  await (await ssh.fs.open('/a', READ)).close();
  assert.equal(ssh.transfers.length, 0);
  const scp = setup({}, { protocol: 'SCP' });
  await upload(scp.fs, '/a', Buffer.from('x'));
  assert.deepEqual(
    scp.transfers.map((t) => [t.sender, t.protocol]),
    [['Upload', 'SCP']],
  );
});
