import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, KubesftpError } from '../errors.js';
import { errorText, quoteName } from './messages.js';

const run = promisify(execFile);

const NAMES = [
  'plain',
  'a b',
  "a'b",
  'a"b',
  `a'b c"d`,
  'a$b',
  'caf\u00e9 \u65e5\u672c',
  'new\nline',
  'back\\slash',
  'tab\tx',
  'a*b',
  'x~',
  '~x',
  'a=b',
  'a,b',
  'a:b',
  "a'b:c",
  '#a',
  'a#b',
  'a{b',
  '{',
  'a?b',
  'bell\x07',
  "it's",
  "x'y\\z",
  '',
];

test('names are quoted exactly as coreutils md5sum quotes them in its errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubesftp-quote-'));
  try {
    for (const name of NAMES) {
      const result = await run('md5sum', ['--', name], {
        cwd: dir,
        env: { ...process.env, LC_ALL: 'C.UTF-8' },
      }).catch((err: { stderr: string }) => err);
      assert.equal(
        result.stderr,
        `md5sum: ${quoteName(name)}: No such file or directory\n`,
        JSON.stringify(name),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('error codes read as the C library words them', () => {
  assert.equal(
    errorText(new KubesftpError(ErrorCode.NO_SUCH_FILE, 'x')),
    'No such file or directory',
  );
  assert.equal(errorText(new KubesftpError(ErrorCode.QUOTA_EXCEEDED, 'x')), 'Disk quota exceeded');
  assert.equal(errorText(new Error('anything')), 'Input/output error');
});
