import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../../errors.js';
import { DirectVfs } from '../../vfs/direct.js';
import { MemoryBackend } from '../../vfs/memory.js';
import { CREATE } from '../../vfs/test-support.js';
import { parseShellWords } from '../shell-words.js';
import { checkRepository, gitArgs, gitRepository } from './git.js';

const repository = (line: string): string => gitRepository(parseShellWords(line));

test('the one repository argument becomes relative to the home', () => {
  assert.equal(repository("'/repo.git'"), 'repo.git');
  assert.equal(repository("'~/team/repo.git'"), 'team/repo.git');
  assert.equal(repository('repo'), 'repo');
  for (const line of [
    "'/etc' '/repo.git'",
    "'--upload-pack=sh' repo",
    "'../repo'",
    "'~root/x'",
    '',
  ]) {
    assert.throws(
      () => repository(line),
      (e) => isKubesftpError(e, 'PERMISSION_DENIED'),
      line,
    );
  }
});

test('git runs with hooks, fsmonitor and signing programs overridden on its command line', () => {
  const args = gitArgs('git-receive-pack', 'repo.git');
  assert.deepEqual(args.slice(-2), ['receive-pack', 'repo.git']);
  const settings = args.filter((_, i) => args[i - 1] === '-c');
  assert.ok(settings.includes('core.hooksPath=/dev/null'));
  assert.ok(settings.includes('core.fsmonitor=false'));
  assert.ok(settings.includes('receive.denyCurrentBranch=refuse'));
  assert.ok(settings.includes('gpg.program=false'));
});

test('a repository that points git elsewhere is refused', async () => {
  const cases = [
    '/r/objects/info/alternates',
    '/r/commondir',
    '/r.git/objects/info/alternates',
    '/r/.git/commondir',
  ];
  for (const pointer of cases) {
    const vfs = new DirectVfs(new MemoryBackend());
    for (const dir of [
      '/r',
      '/r/.git',
      '/r.git',
      '/r/objects',
      '/r/objects/info',
      '/r.git/objects',
      '/r.git/objects/info',
      '/r/.git/objects',
    ]) {
      await vfs.mkdir(dir).catch(() => undefined);
    }
    await (await vfs.open(pointer, CREATE)).close();
    await assert.rejects(
      checkRepository(vfs, 'r'),
      (e) => isKubesftpError(e, 'PERMISSION_DENIED'),
      pointer,
    );
  }
  const gitfile = new DirectVfs(new MemoryBackend());
  await gitfile.mkdir('/w');
  await (await gitfile.open('/w/.git', CREATE)).close();
  await assert.rejects(checkRepository(gitfile, 'w'), /link to another repository/);
  const plain = new DirectVfs(new MemoryBackend());
  await plain.mkdir('/ok.git');
  await plain.mkdir('/ok.git/objects');
  await checkRepository(plain, 'ok.git');
  await checkRepository(plain, '.');
});
