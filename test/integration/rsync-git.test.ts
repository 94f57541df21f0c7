/**
 * rsync and git over exec against the system binaries kubesftp runs for them: uploads,
 * incremental re-runs, --delete and downloads with rsync; clone, push and archive with git;
 * quota checked before and rescanned after. Then the escapes: absolute paths, "..", symlinks
 * planted through SFTP or on disk, options that follow links or run programs, repositories
 * that point git elsewhere and hooks. A sentinel tree outside the home, beside it, must come
 * out of all of it unchanged, and nothing of it may reach the client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sftpBatch, sha256File } from './harness.js';
import {
  loggedLine,
  startCommandsFixture,
  treeDigest,
  type CommandsFixture,
} from './commands-fixture.js';

const SECRET = 'sentinel-secret-do-not-leak';
const SYSTEM = 'rsync,git-upload-pack,git-receive-pack,git-upload-archive';

async function sentinelTree(root: string): Promise<void> {
  await mkdir(join(root, 'repo.git', 'objects'), { recursive: true });
  await writeFile(join(root, 'secret.txt'), SECRET);
  await writeFile(join(root, 'repo.git', 'config'), `[core]\n\tbare = true\n# ${SECRET}\n`);
  await chmod(join(root, 'secret.txt'), 0o644);
}

async function localTree(root: string): Promise<void> {
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(root, 'a.bin'), randomBytes(300_000));
  await writeFile(join(root, 'b c.txt'), 'bee');
  await writeFile(join(root, 'sub', 'x.txt'), 'x');
  await writeFile(join(root, 'sub', 'deeper', 'y.bin'), randomBytes(50_000));
}

async function sameTree(a: string, b: string): Promise<void> {
  const list = async (root: string) => (await readdir(root, { recursive: true })).sort();
  const names = await list(a);
  assert.deepEqual(await list(b), names);
  for (const name of names) {
    if ((await stat(join(a, name))).isFile()) {
      assert.equal(await sha256File(join(b, name)), await sha256File(join(a, name)), name);
    }
  }
}

describe('rsync and git confined to the home', { timeout: 240_000 }, () => {
  let fx: CommandsFixture;
  let sentinel: string;
  let sentinelDigest: string;
  const rsync = (...args: string[]) => fx.run('rsync', ['-e', fx.sshCommand, ...args]);
  const remote = (path: string) => `${fx.username}@127.0.0.1:${path}`;
  const git = (args: string[], cwd?: string) =>
    fx.run('git', args, {
      cwd,
      env: {
        ...process.env,
        GIT_SSH_COMMAND: fx.sshCommand,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.org',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.org',
      },
    });
  const url = (path: string) => `ssh://${fx.username}@127.0.0.1:${fx.server.sftpPort}${path}`;
  /** What must never show up on the client side. */
  const assertNoLeak = (...outputs: string[]) => {
    for (const output of outputs) assert.ok(!output.includes(SECRET), 'sentinel content leaked');
  };

  before(async () => {
    fx = await startCommandsFixture({
      enabled: `${SYSTEM},md5sum`,
      user: { quota_size: 50_000_000 },
    });
    sentinel = join(fx.work, 'sentinel');
    await sentinelTree(sentinel);
    sentinelDigest = await treeDigest(sentinel);
    await localTree(join(fx.work, 'local'));
  });

  after(async () => {
    await fx?.stop();
  });

  test('rsync -av uploads a tree; usage is rescanned to match the disk', async () => {
    const up = await rsync('-av', 'local/', remote('dst/'));
    assert.equal(up.code, 0, up.stderr);
    await sameTree(join(fx.work, 'local'), join(fx.home, 'dst'));
    assert.deepEqual(await fx.usage(), { size: 300_000 + 3 + 1 + 50_000, files: 4 });
    const logged = await loggedLine(
      fx.server,
      (l) => l.sender === 'SSHCommand' && String(l.ssh_command).startsWith('rsync --server'),
    );
    assert.equal(logged?.file_path, '/dst');
  });

  test('a re-run sends only what changed; --delete removes what went away', async () => {
    await writeFile(join(fx.work, 'local', 'sub', 'x.txt'), 'changed');
    const again = await rsync('-a', '--out-format=%n', 'local/', remote('dst/'));
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.trim().split('\n'), ['sub/x.txt']);
    await rm(join(fx.work, 'local', 'b c.txt'));
    const deleted = await rsync('-a', '--delete', '--out-format=%n', 'local/', remote('dst/'));
    assert.equal(deleted.code, 0, deleted.stderr);
    await assert.rejects(stat(join(fx.home, 'dst', 'b c.txt')));
    await sameTree(join(fx.work, 'local'), join(fx.home, 'dst'));
    assert.equal((await fx.usage()).files, 3);
  });

  test('rsync -av downloads the tree back', async () => {
    const down = await rsync('-av', remote('dst/'), 'back/');
    assert.equal(down.code, 0, down.stderr);
    await sameTree(join(fx.home, 'dst'), join(fx.work, 'back'));
  });

  test('git clone, commit, push, clone again and archive --remote', async () => {
    await fx.run('git', ['init', '-q', '--bare', '-b', 'main', join(fx.home, 'project.git')]);
    await fx.own(join(fx.home, 'project.git'));
    const cloned = await git(['clone', '-q', url('/project.git'), 'work1']);
    assert.equal(cloned.code, 0, cloned.stderr);
    const work1 = join(fx.work, 'work1');
    await writeFile(join(work1, 'README'), 'hello\n');
    assert.equal((await git(['add', 'README'], work1)).code, 0);
    assert.equal((await git(['commit', '-q', '-m', 'first'], work1)).code, 0);
    const pushed = await git(['push', '-q', 'origin', 'HEAD:main'], work1);
    assert.equal(pushed.code, 0, pushed.stderr);
    const again = await git(['clone', '-q', '-b', 'main', url('/~/project.git'), 'work2']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(join(fx.work, 'work2', 'README'), 'utf8'), 'hello\n');
    const archive = await fx.run(
      'sh',
      ['-c', `git archive --remote=${url('/project.git')} main | tar -tf -`],
      { env: { ...process.env, GIT_SSH_COMMAND: fx.sshCommand } },
    );
    assert.equal(archive.code, 0, archive.stderr);
    assert.equal(archive.stdout, 'README\n');
  });

  test('a hook in a repository the user can write is never run', async () => {
    // The hook writes where the account may write, so it would leave its mark if it ran.
    const marker = join(fx.home, 'hook-ran');
    const hook = join(fx.home, 'project.git', 'hooks', 'post-receive');
    await mkdir(join(fx.home, 'project.git', 'hooks'), { recursive: true });
    await writeFile(hook, `#!/bin/sh\necho ran >> ${marker}\n`);
    await chmod(hook, 0o755);
    await writeFile(
      join(fx.home, 'project.git', 'config'),
      `[core]\n\tbare = true\n\thooksPath = hooks\n\tfsmonitor = ${hook}\n[receive]\n\tdenyCurrentBranch = updateInstead\n`,
    );
    await fx.own(join(fx.home, 'project.git'));
    const work1 = join(fx.work, 'work1');
    await writeFile(join(work1, 'more'), 'more\n');
    await git(['add', 'more'], work1);
    await git(['commit', '-q', '-m', 'second'], work1);
    const pushed = await git(['push', '-q', 'origin', 'HEAD:main'], work1);
    assert.equal(pushed.code, 0, pushed.stderr);
    const fetched = await git(['fetch', '-q', 'origin'], work1);
    assert.equal(fetched.code, 0, fetched.stderr);
    await assert.rejects(stat(marker), 'the hook did not run');
  });

  test('absolute paths mean the home, ".." is refused, for rsync and git', async () => {
    const absolute = await rsync('-av', remote(`${sentinel}/`), 'abs/');
    assert.notEqual(absolute.code, 0);
    assertNoLeak(absolute.stdout, absolute.stderr);
    await assert.rejects(readFile(join(fx.work, 'abs', 'secret.txt')));
    for (const path of ['../sentinel/', 'dst/../../sentinel/', '/../sentinel']) {
      const climbed = await rsync('-av', remote(path), 'climb/');
      assert.notEqual(climbed.code, 0, path);
      assert.match(climbed.stderr, /"\.\." is not allowed/, path);
    }
    const upward = await rsync('-av', 'local/', remote('../sentinel/'));
    assert.notEqual(upward.code, 0);
    const cloned = await git(['clone', '-q', url('/../sentinel/repo.git'), 'gitclimb']);
    assert.notEqual(cloned.code, 0);
    assert.match(cloned.stderr, /"\.\." is not allowed/);
    const abs = await git(['clone', '-q', url(join(sentinel, 'repo.git')), 'gitabs']);
    assert.notEqual(abs.code, 0);
    assertNoLeak(absolute.stderr, cloned.stderr, abs.stderr);
  });

  test('options that follow links or run programs are refused', async () => {
    // Downloads: the server is the sender, the side that would follow links.
    for (const option of ['--copy-unsafe-links', '--copy-links', '--copy-dirlinks']) {
      const result = await rsync('-av', option, remote('dst/'), 'followed/');
      assert.notEqual(result.code, 0, option);
      assert.match(result.stderr, /is not allowed/, option);
    }
    // Uploads: the server is the receiver, the side that would write through links.
    for (const option of ['--copy-unsafe-links', '--keep-dirlinks']) {
      const result = await rsync('-av', option, 'local/', remote('dst/'));
      assert.notEqual(result.code, 0, option);
      assert.match(result.stderr, /is not allowed/, option);
    }
    const rsyncPath = await rsync(
      '-av',
      `--rsync-path=sh -c 'cat ${sentinel}/secret.txt' #`,
      remote('dst/'),
      'x/',
    );
    assert.notEqual(rsyncPath.code, 0);
    assertNoLeak(rsyncPath.stdout, rsyncPath.stderr);
    for (const uploadPack of [
      `git-upload-pack ${sentinel}/repo.git`,
      `sh -c 'cat ${sentinel}/secret.txt'`,
      'git-upload-pack --strict',
    ]) {
      const result = await git([
        'clone',
        '-q',
        `--upload-pack=${uploadPack}`,
        url('/project.git'),
        'trick',
      ]);
      assert.notEqual(result.code, 0, uploadPack);
      assertNoLeak(result.stdout, result.stderr);
    }
    const exec = await fx.run(
      'sh',
      [
        '-c',
        `git archive --remote=${url('/project.git')} --exec='git-upload-archive ${sentinel}/repo.git' main | tar -tf -`,
      ],
      {
        env: { ...process.env, GIT_SSH_COMMAND: fx.sshCommand },
      },
    );
    assert.notEqual(exec.code, 0);
    assertNoLeak(exec.stdout, exec.stderr);
  });

  test('a repository pointing git at another one (alternates, .git file) is refused', async () => {
    await mkdir(join(fx.home, 'borrow.git', 'objects', 'info'), { recursive: true });
    await writeFile(
      join(fx.home, 'borrow.git', 'objects', 'info', 'alternates'),
      `${sentinel}/repo.git/objects\n`,
    );
    await mkdir(join(fx.home, 'pointer'));
    await writeFile(join(fx.home, 'pointer', '.git'), `gitdir: ${sentinel}/repo.git\n`);
    await fx.own(fx.home);
    for (const path of ['/borrow.git', '/pointer']) {
      const result = await git(['clone', '-q', url(path), `c${path.length}`]);
      assert.notEqual(result.code, 0, path);
      assert.match(
        result.stderr,
        /points git at other repositories|link to another repository/,
        path,
      );
      assertNoLeak(result.stderr);
    }
    await rm(join(fx.home, 'borrow.git'), { recursive: true });
    await rm(join(fx.home, 'pointer'), { recursive: true });
  });

  test('an unsafe link rsync receives is dropped (--safe-links), so later runs still work', async () => {
    await mkdir(join(fx.work, 'links'));
    await writeFile(join(fx.work, 'links', 'real.txt'), 'real');
    await symlink(join(sentinel, 'secret.txt'), join(fx.work, 'links', 'out'));
    await symlink('real.txt', join(fx.work, 'links', 'in'));
    const up = await rsync('-a', 'links/', remote('links/'));
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual((await readdir(join(fx.home, 'links'))).sort(), ['in', 'real.txt']);
    assert.equal((await rsync('-a', remote('links/'), 'links-back/')).code, 0);
  });

  test('a symlink out of the home, made through SFTP or on disk, stops every system command', async () => {
    const made = await sftpBatch(
      fx.server.sftpPort,
      { username: fx.username, keyPath: fx.keyPath },
      [`symlink ${sentinel} planted`],
      { cwd: fx.work },
    );
    assert.equal(made.code, 0, made.stderr);
    const viaLink = await rsync('-av', remote('planted/'), 'planted-back/');
    assert.notEqual(viaLink.code, 0);
    assert.match(viaLink.stderr, /the symlink \/planted leads out of the home/);
    assertNoLeak(viaLink.stdout, viaLink.stderr);
    const intoLink = await rsync('-av', 'local/', remote('planted/'));
    assert.notEqual(intoLink.code, 0);
    const gitViaLink = await git(['clone', '-q', url('/planted/repo.git'), 'planted-clone']);
    assert.notEqual(gitViaLink.code, 0);
    assertNoLeak(gitViaLink.stderr);
    // Our own md5sum reads links as in a chroot: /planted is <home>/<sentinel path>, absent.
    const hashed = await fx.ssh('md5sum planted/secret.txt');
    assert.equal(hashed.code, 1);
    await rm(join(fx.home, 'planted'));
    await symlink('../sentinel', join(fx.home, 'dst', 'sub', 'up'));
    const relative = await rsync('-av', remote('dst/'), 'relative-back/');
    assert.notEqual(relative.code, 0);
    assert.match(relative.stderr, /the symlink \/dst\/sub\/up leads out of the home/);
    await rm(join(fx.home, 'dst', 'sub', 'up'));
    assert.equal(
      (await rsync('-a', remote('dst/'), 'after/')).code,
      0,
      'usable again once removed',
    );
  });

  test('the sentinel tree outside the home is unchanged', async () => {
    assert.equal(await treeDigest(sentinel), sentinelDigest);
  });
});

describe('rsync and the quota', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;

  before(async () => {
    fx = await startCommandsFixture({ enabled: 'rsync', user: { quota_size: 1_000_000 } });
    await mkdir(join(fx.work, 'big'));
    await writeFile(join(fx.work, 'big', 'one.bin'), randomBytes(3_000_000));
  });

  after(() => fx?.stop());

  test('an upload passing the quota is stopped, and the usage matches what is on disk', async () => {
    const result = await fx.run('rsync', [
      '-a',
      '-e',
      fx.sshCommand,
      'big/',
      `${fx.username}@127.0.0.1:big/`,
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /stopped: the upload passed the quota/);
    let size = 0;
    let files = 0;
    for (const name of await readdir(fx.home, { recursive: true })) {
      const info = await stat(join(fx.home, name));
      if (info.isFile()) {
        size += info.size;
        files += 1;
      }
    }
    assert.deepEqual(await fx.usage(), { size, files });
  });

  test('with the size quota used up, rsync uploads are refused before they start', async () => {
    const { size } = await fx.usage();
    await writeFile(join(fx.work, 'rest.bin'), randomBytes(1_000_000 - size));
    const filled = await sftpBatch(
      fx.server.sftpPort,
      { username: fx.username, keyPath: fx.keyPath },
      ['put rest.bin rest.bin'],
      { cwd: fx.work },
    );
    assert.equal(filled.code, 0, filled.stderr);
    assert.equal((await fx.usage()).size, 1_000_000);
    const result = await fx.run('rsync', [
      '-a',
      '-e',
      fx.sshCommand,
      'big/',
      `${fx.username}@127.0.0.1:again/`,
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /rsync: size quota exceeded/);
    await assert.rejects(stat(join(fx.home, 'again')));
  });
});
