import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../../errors.js';
import { READ, upload } from '../../session/test-support.js';
import type { Vfs } from '../../vfs/types.js';
import { commandSetup } from '../test-support.js';

/** What an scp client sends for one file: its record, the bytes, then its own "0". */
const fileRecord = (name: string, data: string, mode = '0644'): string =>
  `C${mode} ${Buffer.byteLength(data)} ${name}\n${data}\0`;

async function read(fs: Vfs, path: string): Promise<string> {
  const file = await fs.open(path, READ);
  const data = await file.read(1 << 20, 0);
  await file.close();
  return data.toString();
}

test('an upload tree: directories, files, times and modes with -p, one SCP transfer per file', async () => {
  const { exec, inner, transfers, commands } = commandSetup({ enabled: ['scp'] });
  const script =
    'T1600000000 0 1600000001 0\nD0750 0 top dir\n' +
    'T1500000000 0 1500000001 0\n' +
    fileRecord('a \u00e9.txt', 'alpha', '0600') +
    fileRecord("it's", 'quote') +
    'E\n';
  const result = await exec('scp -r -p -t /', Buffer.from(script));
  assert.equal(result.status, 0, result.stderr);
  // One "0" per record, plus the first one and one after each file's data.
  assert.equal(result.stdout.toString(), '\0'.repeat(9));
  assert.equal(await read(inner, '/top dir/a \u00e9.txt'), 'alpha');
  assert.equal(await read(inner, "/top dir/it's"), 'quote');
  const file = await inner.stat('/top dir/a \u00e9.txt');
  assert.equal(file.mode & 0o777, 0o600);
  assert.equal(file.mtime, 1500000000);
  const dir = await inner.stat('/top dir');
  assert.equal(dir.mode & 0o777, 0o750);
  assert.equal(dir.mtime, 1600000000, 'directory times are set after its files');
  assert.deepEqual(
    transfers.map((t) => [t.sender, t.protocol, t.file_path, t.size_bytes]),
    [
      ['Upload', 'SCP', '/top dir/a \u00e9.txt', 5],
      ['Upload', 'SCP', "/top dir/it's", 5],
    ],
  );
  assert.ok(commands.some((c) => c.sender === 'SSHCommand' && c.protocol === 'SCP'));
});

test('a refused file gets a warning and the rest of the upload goes on', async () => {
  const { exec, inner } = commandSetup({
    enabled: ['scp'],
    user: { permissions: { '/': ['*'], '/in/ro': ['list', 'create_dirs'] } },
  });
  await inner.mkdir('/in');
  const script = 'D0755 0 ro\n' + 'C0644 1 denied\n' + 'E\n' + fileRecord('ok', 'fine');
  // The client sends no data for the refused file: it saw the warning first.
  const result = await exec('scp -r -t /in', Buffer.from(script));
  assert.equal(result.status, 1);
  assert.equal(result.stdout.toString(), '\0\0\x01scp: /in/ro/denied: Permission denied\n\0\0\0');
  assert.equal(await read(inner, '/in/ok'), 'fine');
  await assert.rejects(inner.stat('/in/ro/denied'), (e) => isKubesftpError(e, 'NO_SUCH_FILE'));
});

test('a file the quota cannot hold is refused before its data, the usage stays right', async () => {
  const { exec, usage } = commandSetup({ enabled: ['scp'], user: { quota_size: 10 } });
  const result = await exec(
    'scp -t /',
    Buffer.from(fileRecord('small', '12345') + 'C0644 6 big\n'),
  );
  assert.equal(result.status, 1);
  assert.equal(result.stdout.toString(), '\0\0\0\x01scp: /big: Disk quota exceeded\n');
  assert.deepEqual(usage, { size: 5, files: 1 });
});

test('names that would leave the target directory end the upload', async () => {
  for (const name of ['..', '../x', 'a/b', '']) {
    const { exec } = commandSetup({ enabled: ['scp'] });
    const result = await exec('scp -t /', Buffer.from(`C0644 1 ${name}\nx\0`));
    assert.equal(result.status, 1, name);
    assert.ok(result.stdout.toString().includes('\x02scp: unexpected filename'), name);
  }
});

test('a download sends records and data, warns about what is missing and goes on', async () => {
  const { exec, inner, transfers } = commandSetup({ enabled: ['scp'] });
  await inner.mkdir('/d');
  await upload(inner, '/d/b.txt', Buffer.from('bee'));
  await upload(inner, '/d/a.txt', Buffer.from('ay'));
  await upload(inner, '/d/c.log', Buffer.from('sea'));
  // The client's answers: one "0" to start, then one per record and per file's data.
  const result = await exec('scp -f /d/*.txt missing', Buffer.alloc(5));
  assert.equal(result.status, 1);
  assert.equal(
    result.stdout.toString(),
    'C0644 2 a.txt\nay\0C0644 3 b.txt\nbee\0\x01scp: missing: No such file or directory\n',
  );
  assert.deepEqual(
    transfers.filter((t) => t.sender === 'Download').map((t) => [t.file_path, t.protocol]),
    [
      ['/d/a.txt', 'SCP'],
      ['/d/b.txt', 'SCP'],
    ],
  );
});

test('scp only as the remote end: -t or -f is required', async () => {
  const { exec } = commandSetup({ enabled: ['scp'] });
  const result = await exec('scp a other:b');
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^scp: scp runs here only as the remote end/);
});

test('a symlink back up the tree is sent once, then reported as a loop', async () => {
  const { exec, inner } = commandSetup({ enabled: ['scp'] });
  await inner.mkdir('/t');
  await upload(inner, '/t/f', Buffer.from('f'));
  await inner.symlink('/t/up', '/t');
  await inner.symlink('/t/up2', '..');
  const result = await exec('scp -r -f t', Buffer.alloc(64));
  assert.equal(result.status, 1);
  const sent = result.stdout.toString();
  assert.equal(sent.match(/C0644 1 f\n/g)?.length, 1);
  assert.ok(sent.includes('\x01scp: t/up: directory loop\n'), sent);
  // up2 is the home: sent once, and the t inside it is the loop.
  assert.ok(sent.includes('D0755 0 up2\n\x01scp: t/up2/t: directory loop\nE\n'), sent);
});

test('a download whose read fails midway sends the size promised, zeros after the failure, and a warning', async () => {
  const { exec, inner, backend } = commandSetup({ enabled: ['scp'] });
  const size = 600 * 1024 + 5;
  const data = Buffer.alloc(size, 0x61);
  await upload(inner, '/big.bin', data);
  const failAt = 512 * 1024;
  const open = backend.open.bind(backend);
  backend.open = async (at, flags, attrs) => {
    const file = await open(at, flags, attrs);
    const read = file.read.bind(file);
    file.read = (length, position, into) =>
      position >= failAt ? Promise.reject(new Error('disk gone')) : read(length, position, into);
    return file;
  };
  const result = await exec('scp -f /big.bin', Buffer.alloc(3));
  assert.equal(result.status, 1);
  const header = Buffer.from(`C0644 ${size} big.bin\n`);
  const expected = Buffer.concat([
    header,
    data.subarray(0, failAt),
    Buffer.alloc(size - failAt),
    Buffer.from('\x01scp: /big.bin: '),
  ]);
  assert.ok(
    result.stdout.subarray(0, expected.length).equals(expected),
    'the data up to the failure, then zeros, then the warning',
  );
});
