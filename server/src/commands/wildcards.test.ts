import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectVfs } from '../vfs/direct.js';
import { MemoryBackend } from '../vfs/memory.js';
import { CREATE } from '../vfs/test-support.js';
import { parseShellWords } from './shell-words.js';
import { expandWord, segmentToRegExp } from './wildcards.js';

async function tree(paths: string[]): Promise<DirectVfs> {
  const vfs = new DirectVfs(new MemoryBackend());
  for (const path of paths) {
    if (path.endsWith('/')) await vfs.mkdir(path.slice(0, -1));
    else await (await vfs.open(path, CREATE)).close();
  }
  return vfs;
}

const expand = async (vfs: DirectVfs, line: string, cwd = '/'): Promise<string[]> =>
  expandWord(parseShellWords(line)[0]!, { vfs, cwd });

test('segments match like sh: *, ?, bracket sets and ranges, negation, escapes', () => {
  assert.ok(segmentToRegExp('*.txt').test('a.txt'));
  assert.ok(!segmentToRegExp('*.txt').test('a.txt.bak'));
  assert.ok(segmentToRegExp('?.bin').test('x.bin'));
  assert.ok(segmentToRegExp('[a-c]1').test('b1'));
  assert.ok(!segmentToRegExp('[!a-c]1').test('b1'));
  assert.ok(segmentToRegExp('[]x]').test(']'));
  assert.ok(segmentToRegExp('a\\*').test('a*'));
  assert.ok(!segmentToRegExp('a\\*').test('ab'));
  assert.ok(segmentToRegExp('[unterminated').test('[unterminated'));
  assert.ok(segmentToRegExp('(x)+.{2}$').test('(x)+.{2}$'), 'regexp characters are literal');
});

test('a word expands against directory listings, sorted, relative names kept relative', async () => {
  const vfs = await tree([
    '/in/',
    '/in/b.txt',
    '/in/a.txt',
    '/in/c.log',
    '/in/.hidden.txt',
    '/top.txt',
  ]);
  assert.deepEqual(await expand(vfs, '/in/*.txt'), ['/in/a.txt', '/in/b.txt']);
  assert.deepEqual(await expand(vfs, 'in/?.*'), ['in/a.txt', 'in/b.txt', 'in/c.log']);
  assert.deepEqual(await expand(vfs, '*.txt', '/in'), ['a.txt', 'b.txt']);
  assert.deepEqual(await expand(vfs, '/in/.*.txt'), ['/in/.hidden.txt']);
  assert.deepEqual(await expand(vfs, '~/*.txt'), ['/top.txt']);
  assert.deepEqual(await expand(vfs, '*/a.txt'), ['in/a.txt'], 'literal tails must exist');
});

test('no match, or a quoted wildcard, leaves the word as typed', async () => {
  const vfs = await tree(['/a.txt', '/*.txt']);
  assert.deepEqual(await expand(vfs, '*.none'), ['*.none']);
  assert.deepEqual(await expand(vfs, '/missing/*.txt'), ['/missing/*.txt']);
  assert.deepEqual(await expand(vfs, "'*.txt'"), ['*.txt']);
  assert.deepEqual(await expand(vfs, '\\*.txt'), ['*.txt']);
});
