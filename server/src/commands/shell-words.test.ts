import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../errors.js';
import { parseShellWords } from './shell-words.js';

const values = (line: string): string[] => parseShellWords(line).map((w) => w.value);

test('words split on blanks; quotes and backslashes are removed as a shell removes them', () => {
  assert.deepEqual(values('scp -t -- /in'), ['scp', '-t', '--', '/in']);
  assert.deepEqual(values('md5sum \'a b\'  "c d"\te\\ f'), ['md5sum', 'a b', 'c d', 'e f']);
  assert.deepEqual(values(`md5sum 'it'\\''s' "say \\"hi\\"" "a\\b"`), [
    'md5sum',
    "it's",
    'say "hi"',
    'a\\b',
  ]);
  // rclone escapes a newline in a name as '<newline>'; a quoted empty string is a word.
  assert.deepEqual(values("md5sum /dir/new'\n'line ''"), ['md5sum', '/dir/new\nline', '']);
  assert.deepEqual(values("git-upload-pack '/repo.git'"), ['git-upload-pack', '/repo.git']);
  assert.deepEqual(values('md5sum caf\u00e9 \u65e5\u672c'), [
    'md5sum',
    'caf\u00e9',
    '\u65e5\u672c',
  ]);
  assert.deepEqual(values('  pwd  '), ['pwd']);
  assert.deepEqual(values('md5sum a # a comment'), ['md5sum', 'a']);
  assert.deepEqual(values('md5sum a#b'), ['md5sum', 'a#b']);
});

test('shell operators, substitutions and unterminated quotes are refused, never interpreted', () => {
  for (const line of [
    'md5sum a; rm -rf /',
    'md5sum a && id',
    'md5sum a | nc host 1',
    'md5sum < /etc/passwd',
    'md5sum a > out',
    'md5sum $(id)',
    'md5sum `id`',
    'md5sum "$HOME"',
    'md5sum ${HOME}',
    'md5sum (a)',
    'md5sum a\nid',
    "md5sum 'open",
    'md5sum "open',
    'md5sum trailing\\',
  ]) {
    assert.throws(
      () => parseShellWords(line),
      (err: unknown) => isKubesftpError(err, 'INVALID_ARGUMENT'),
      line,
    );
  }
  // Quoted, the same characters are plain text.
  assert.deepEqual(values("md5sum 'a; b' \"c | d\" 'e$f'"), ['md5sum', 'a; b', 'c | d', 'e$f']);
});

test('unquoted wildcards give a pattern in which quoted characters are escaped', () => {
  const [, , plain, mixed, quoted] = parseShellWords("scp -f *.txt 'my *'[ab]? '*.log'");
  assert.equal(plain?.pattern, '*.txt');
  assert.equal(mixed?.value, 'my *[ab]?');
  assert.equal(mixed?.pattern, 'my \\*[ab]?');
  assert.equal(quoted?.pattern, undefined, 'a fully quoted word is a name');
  assert.equal(quoted?.value, '*.log');
});

test('an unquoted leading ~ alone or before / names the home', () => {
  const [, home, below, named, quoted] = parseShellWords("scp ~ ~/in ~bob '~/x'");
  assert.equal(home?.home, true);
  assert.equal(below?.home, true);
  assert.equal(below?.value, '~/in');
  assert.equal(named?.home, false, '~user is a plain name, never another home');
  assert.equal(quoted?.home, false);
});
