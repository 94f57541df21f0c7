import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { upload } from '../session/test-support.js';
import { commandSetup } from './test-support.js';

const hex = (algorithm: string, data: string | Buffer): string =>
  createHash(algorithm).update(data).digest('hex');

const ALL = ['md5sum', 'sha1sum', 'sha256sum', 'sha384sum', 'sha512sum'] as const;

test('each algorithm prints "<hex>  <name>" per file, names as given', async () => {
  const { exec, inner } = commandSetup({ enabled: [...ALL] });
  await inner.mkdir('/d');
  await upload(inner, '/d/a b.txt', Buffer.from('alpha'));
  await upload(inner, '/d/b', Buffer.from('beta'));
  for (const [command, algorithm] of [
    ['md5sum', 'md5'],
    ['sha1sum', 'sha1'],
    ['sha256sum', 'sha256'],
    ['sha384sum', 'sha384'],
    ['sha512sum', 'sha512'],
  ] as const) {
    const result = await exec(`${command} '/d/a b.txt' d/b`);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      result.stdout.toString(),
      `${hex(algorithm, 'alpha')}  /d/a b.txt\n${hex(algorithm, 'beta')}  d/b\n`,
    );
  }
});

test('no file, or -, hashes standard input and prints "-"', async () => {
  const { exec } = commandSetup({ enabled: ['md5sum'] });
  const empty = await exec('md5sum');
  assert.equal(empty.stdout.toString(), 'd41d8cd98f00b204e9800998ecf8427e  -\n');
  const piped = await exec('md5sum -', [Buffer.from('ab'), Buffer.from('c')]);
  assert.equal(piped.stdout.toString(), `${hex('md5', 'abc')}  -\n`);
});

test('errors go to stderr as coreutils words them, the other files still print', async () => {
  const { exec, inner } = commandSetup({
    enabled: ['sha1sum'],
    user: { permissions: { '/': ['*'], '/secret': ['list'] } },
  });
  await inner.mkdir('/dir');
  await inner.mkdir('/secret');
  await upload(inner, '/ok', Buffer.from('fine'));
  await upload(inner, '/secret/s', Buffer.from('no'));
  const result = await exec("sha1sum 'no such' dir ok secret/s");
  assert.equal(result.status, 1);
  assert.equal(result.stdout.toString(), `${hex('sha1', 'fine')}  ok\n`);
  assert.equal(
    result.stderr,
    [
      "sha1sum: 'no such': No such file or directory",
      'sha1sum: dir: Is a directory',
      'sha1sum: secret/s: Permission denied',
      '',
    ].join('\n'),
  );
});

test('names with a backslash, newline or CR are escaped behind a leading backslash', async () => {
  const { exec, inner } = commandSetup({ enabled: ['md5sum'] });
  await upload(inner, '/a\\b', Buffer.from('1'));
  await upload(inner, '/new\nline', Buffer.from('2'));
  const result = await exec("md5sum 'a\\b' 'new\nline'");
  assert.equal(
    result.stdout.toString(),
    `\\${hex('md5', '1')}  a\\\\b\n\\${hex('md5', '2')}  new\\nline\n`,
  );
});

test('options: --tag, -b, -z, --, unknown options', async () => {
  const { exec, inner } = commandSetup({ enabled: ['sha256sum'] });
  await upload(inner, '/-x', Buffer.from('dash'));
  const h = hex('sha256', 'dash');
  assert.equal((await exec('sha256sum --tag -- -x')).stdout.toString(), `SHA256 (-x) = ${h}\n`);
  assert.equal((await exec('sha256sum -b -- -x')).stdout.toString(), `${h} *-x\n`);
  assert.equal((await exec('sha256sum -z -- -x')).stdout.toString(), `${h}  -x\0`);
  const bad = await exec('sha256sum -q x');
  assert.equal(bad.status, 1);
  assert.equal(
    bad.stderr,
    "sha256sum: invalid option -- 'q'\nTry 'sha256sum --help' for more information.\n",
  );
  assert.match((await exec('sha256sum --frobnicate')).stderr, /unrecognized option '--frobnicate'/);
});

test('wildcards expand against the listing; reading for a hash logs no transfer', async () => {
  const { exec, inner, transfers } = commandSetup({ enabled: ['md5sum'] });
  await upload(inner, '/b.txt', Buffer.from('b'));
  await upload(inner, '/a.txt', Buffer.from('a'));
  await upload(inner, '/c.log', Buffer.from('c'));
  const before = transfers.length;
  const result = await exec('md5sum *.txt');
  assert.equal(result.stdout.toString(), `${hex('md5', 'a')}  a.txt\n${hex('md5', 'b')}  b.txt\n`);
  assert.equal(transfers.length, before);
});
