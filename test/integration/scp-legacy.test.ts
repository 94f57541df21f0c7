/**
 * OpenSSH's scp in its legacy mode (`scp -O`, the rcp protocol over exec) against our own scp:
 * uploads and downloads of files and trees checked by sha256 on both sides and on disk, modes
 * and times with -p, awkward names, remote wildcards, remote to remote with -3, a refused file
 * inside a recursive upload, the quota, and an interrupted upload in atomic mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { scp, sha256File, type ClientResult } from './harness.js';
import { loggedLine, startCommandsFixture, type CommandsFixture } from './commands-fixture.js';

/** Local names that a remote shell would split or expand, and unicode. */
const AWKWARD = [
  'a b.txt',
  "it's.txt",
  'say "hi".txt',
  'caf\u00e9 \u65e5\u672c.txt',
  'dollar$sign.txt',
];

async function fileTree(root: string): Promise<void> {
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(root, 'big.bin'), randomBytes(9 * 1024 * 1024 + 17));
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'sub', 'x.txt'), 'x');
  await writeFile(join(root, 'sub', 'deeper', 'y.bin'), randomBytes(70_000));
  await chmod(join(root, 'sub', 'x.txt'), 0o640);
  await chmod(join(root, 'sub', 'deeper'), 0o750);
  await utimes(join(root, 'sub', 'x.txt'), 1_500_000_000, 1_600_000_000);
  await utimes(join(root, 'big.bin'), 1_400_000_000, 1_450_000_000);
  await utimes(join(root, 'sub', 'deeper'), 1_300_000_000, 1_350_000_000);
}

/** Contents, modes and modification times of a tree, by relative path. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(root, { recursive: true })).sort()) {
    const path = join(root, entry);
    const info = await stat(path);
    const content = info.isFile() ? await sha256File(path) : 'dir';
    out[entry] = `${(info.mode & 0o777).toString(8)} ${Math.floor(info.mtimeMs / 1000)} ${content}`;
  }
  return out;
}

describe('scp -O against our scp', { timeout: 180_000 }, () => {
  let fx: CommandsFixture;
  const copy = (...args: string[]): Promise<ClientResult> =>
    scp(fx.server.sftpPort, { username: fx.username, keyPath: fx.keyPath }, ['-O', ...args], {
      cwd: fx.work,
    });
  const remote = (path: string): string => `${fx.username}@127.0.0.1:${path}`;

  before(async () => {
    fx = await startCommandsFixture({
      enabled: 'scp',
      user: { permissions: { '/': ['*'], '/drop/locked': ['list', 'download'] } },
    });
    await fileTree(join(fx.work, 'tree'));
  });

  after(() => fx?.stop());

  test('one file up and down, byte for byte, logged as SCP transfers', async () => {
    const up = await copy('tree/big.bin', remote('one.bin'));
    assert.equal(up.code, 0, up.stderr);
    const down = await copy(remote('one.bin'), 'one-back.bin');
    assert.equal(down.code, 0, down.stderr);
    const sum = await sha256File(join(fx.work, 'tree', 'big.bin'));
    assert.equal(await sha256File(join(fx.home, 'one.bin')), sum);
    assert.equal(await sha256File(join(fx.work, 'one-back.bin')), sum);
    const logged = await loggedLine(
      fx.server,
      (l) => l.sender === 'Upload' && l.file_path === '/one.bin',
    );
    assert.equal(logged?.protocol, 'SCP');
    assert.equal(logged?.size_bytes, 9 * 1024 * 1024 + 17);
  });

  test('-r -p up and down keep contents, modes and modification times', async () => {
    const up = await copy('-r', '-p', 'tree', remote('/'));
    assert.equal(up.code, 0, up.stderr);
    const local = await describeTree(join(fx.work, 'tree'));
    assert.deepEqual(await describeTree(join(fx.home, 'tree')), local);
    const down = await copy('-r', '-p', remote('tree'), 'tree-back');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await describeTree(join(fx.work, 'tree-back')), local);
  });

  test('without -p new files get the mode asked for less the umask', async () => {
    const up = await copy('tree/sub/x.txt', remote('plain.txt'));
    assert.equal(up.code, 0, up.stderr);
    const info = await stat(join(fx.home, 'plain.txt'));
    assert.equal(info.mode & 0o777, 0o640 & ~0o022);
  });

  test('names with spaces, quotes, dollars and unicode both ways', async () => {
    await mkdir(join(fx.work, 'awkward'));
    for (const name of AWKWARD)
      await writeFile(join(fx.work, 'awkward', name), `content of ${name}`);
    const up = await copy('-r', 'awkward', remote(''));
    assert.equal(up.code, 0, up.stderr);
    for (const name of AWKWARD) {
      assert.equal(await readFile(join(fx.home, 'awkward', name), 'utf8'), `content of ${name}`);
      // The remote path is a shell word for the server to unquote, as with any sshd; the
      // client checks the name it gets against it, so backslashes, not quotes.
      const word = `awkward/${name.replace(/[^\p{L}\p{N}._/-]/gu, '\\$&')}`;
      const down = await copy(remote(word), 'got');
      assert.equal(down.code, 0, `${name}: ${down.stderr}`);
      assert.equal(await readFile(join(fx.work, 'got'), 'utf8'), `content of ${name}`);
    }
    // Quoted, the name works too once the client skips its name check (-T).
    const quoted = await copy('-T', remote(`'awkward/say "hi".txt'`), 'got2');
    assert.equal(quoted.code, 0, quoted.stderr);
    assert.equal(await readFile(join(fx.work, 'got2'), 'utf8'), 'content of say "hi".txt');
  });

  test('remote wildcards are expanded by the server, quoted ones are names', async () => {
    await mkdir(join(fx.work, 'wild'));
    const down = await copy(remote('awkward/*.txt'), 'wild/');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual((await readdir(join(fx.work, 'wild'))).sort(), [...AWKWARD].sort());
    const none = await copy(remote('awkward/*.none'), 'wild/');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /awkward\/\*\.none: No such file or directory/);
  });

  test('remote to remote through the client with -3', async () => {
    const result = await copy('-3', remote('one.bin'), remote('three.bin'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      await sha256File(join(fx.home, 'three.bin')),
      await sha256File(join(fx.home, 'one.bin')),
    );
  });

  test('a refused file in a -r upload is reported and the rest still arrives', async () => {
    await mkdir(join(fx.home, 'drop', 'locked'), { recursive: true });
    await mkdir(join(fx.work, 'drop', 'locked'), { recursive: true });
    await writeFile(join(fx.work, 'drop', 'a.txt'), 'a');
    await writeFile(join(fx.work, 'drop', 'locked', 'no.txt'), 'no');
    await writeFile(join(fx.work, 'drop', 'z.txt'), 'z');
    const result = await copy('-r', 'drop', remote('/'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /drop\/locked\/no\.txt: Permission denied/);
    assert.equal(await readFile(join(fx.home, 'drop', 'a.txt'), 'utf8'), 'a');
    assert.equal(await readFile(join(fx.home, 'drop', 'z.txt'), 'utf8'), 'z');
    await assert.rejects(stat(join(fx.home, 'drop', 'locked', 'no.txt')));
  });

  test('paths that climb out of the home stay in it', async () => {
    const outside = join(fx.work, 'outside.txt');
    await writeFile(outside, 'secret');
    const down = await copy(remote('../outside.txt'), 'stolen.txt');
    assert.notEqual(down.code, 0);
    await assert.rejects(stat(join(fx.work, 'stolen.txt')));
    const up = await copy('tree/sub/x.txt', remote('../../outside.txt'));
    assert.equal(up.code, 0, 'lands in the home, where "/../.." is "/"');
    assert.equal(await readFile(outside, 'utf8'), 'secret');
    assert.equal(await readFile(join(fx.home, 'outside.txt'), 'utf8'), 'x');
  });
});

describe('scp -O and the quota', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;

  before(async () => {
    fx = await startCommandsFixture({ enabled: 'scp', user: { quota_size: 1_000_000 } });
  });

  after(() => fx?.stop());

  test('a file that would pass the quota is refused, the others arrive, usage matches the disk', async () => {
    await mkdir(join(fx.work, 'q'));
    for (const name of ['1', '2', '3'])
      await writeFile(join(fx.work, 'q', name), randomBytes(400_000));
    const result = await scp(
      fx.server.sftpPort,
      { username: fx.username, keyPath: fx.keyPath },
      ['-O', '-r', 'q', `${fx.username}@127.0.0.1:`],
      { cwd: fx.work },
    );
    assert.equal(result.code, 1);
    // The client sends the files in directory order; whichever comes third does not fit.
    const refused = /\.\/q\/([123]): Disk quota exceeded/.exec(result.stderr)?.[1];
    assert.ok(refused, result.stderr);
    const names = (await readdir(join(fx.home, 'q'))).sort();
    assert.deepEqual(
      names,
      ['1', '2', '3'].filter((n) => n !== refused),
    );
    assert.deepEqual(await fx.usage(), { size: 800_000, files: 2 });
  });
});

/** Runs scp and kills it with the ssh it started (its process group) after `ms`. */
async function cutOffAfter(ms: number, args: string[], cwd: string): Promise<void> {
  const child = spawn('scp', args, { cwd, stdio: 'ignore', detached: true });
  const closed = new Promise((resolve) => child.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, ms));
  process.kill(-child.pid!, 'SIGKILL');
  await closed;
}

/** A bandwidth-limited `scp -O`, slow enough to be cut off midway. */
function slowScpArgs(fx: CommandsFixture, kbits: string): string[] {
  return [
    '-O',
    '-l',
    kbits,
    '-P',
    String(fx.server.sftpPort),
    '-i',
    fx.keyPath,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
  ];
}

/** The session rows of the account as the server stored them in its SQLite data provider. */
function storedSessions(fx: CommandsFixture): Array<{ id: string; protocol: string }> {
  const db = new Database(join(fx.server.configDir, 'kubesftp.db'), { readonly: true });
  try {
    return db
      .prepare('SELECT id, protocol FROM sessions WHERE username = ?')
      .all(fx.username) as Array<{ id: string; protocol: string }>;
  } finally {
    db.close();
  }
}

describe('scp -O cut off midway', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;

  before(async () => {
    fx = await startCommandsFixture({ enabled: 'scp', env: { KUBESFTP_SFTPD__UPLOAD_MODE: '1' } });
  });

  after(() => fx?.stop());

  test('the session row of a running scp download says SCP, as the connection list does', async () => {
    await writeFile(join(fx.home, 'row.bin'), randomBytes(16 * 1024 * 1024));
    const args = [...slowScpArgs(fx, '8000'), `${fx.username}@127.0.0.1:row.bin`, 'row-back.bin'];
    const child = spawn('scp', args, { cwd: fx.work, stdio: 'ignore', detached: true });
    const closed = new Promise((resolve) => child.once('close', resolve));
    try {
      let seen = '';
      for (let i = 0; i < 100; i += 1) {
        const listed = await fx.server.api('GET', '/api/v1/connection');
        const connections = listed.body as unknown as Array<{
          connection_id: string;
          protocol: string;
        }>;
        const rows = storedSessions(fx);
        seen = JSON.stringify({ connections, rows });
        const listedScp = connections.find((c) => c.protocol === 'SCP');
        const row = rows.find((r) => r.id === listedScp?.connection_id);
        if (row?.protocol === 'SCP') return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail(`no SCP session row while the download ran: ${seen}`);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
      await closed;
      await rm(join(fx.home, 'row.bin'));
    }
  });

  test('a download cut off midway ends on the server too', async () => {
    await writeFile(join(fx.home, 'large.bin'), randomBytes(64 * 1024 * 1024));
    // -l 8000 (kbit/s): the client reads slowly, so the server waits on a full window.
    const args = [
      ...slowScpArgs(fx, '8000'),
      `${fx.username}@127.0.0.1:large.bin`,
      'large-back.bin',
    ];
    await cutOffAfter(2000, args, fx.work);
    const logged = await loggedLine(
      fx.server,
      (l) => l.sender === 'Download' && l.file_path === '/large.bin',
      10_000,
    );
    assert.ok(logged, 'the download was closed and logged');
    assert.ok(Number(logged.size_bytes) < 64 * 1024 * 1024);
    await rm(join(fx.home, 'large.bin'));
    for (let i = 0; i < 50; i += 1) {
      const listed = await fx.server.api('GET', '/api/v1/connection');
      if ((listed.body as unknown as unknown[]).length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail('the connection is still registered');
  });

  test('an upload cut off midway leaves neither the file nor a temp file', async () => {
    await writeFile(join(fx.work, 'slow.bin'), randomBytes(20 * 1024 * 1024));
    await writeFile(join(fx.home, 'slow.bin'), 'previous content');
    // -l 8000 (kbit/s) makes the transfer last about 20 s; it is killed after 2.
    const args = [...slowScpArgs(fx, '8000'), 'slow.bin', `${fx.username}@127.0.0.1:slow.bin`];
    await cutOffAfter(2000, args, fx.work);
    await loggedLine(fx.server, (l) => l.sender === 'Upload' && l.file_path === '/slow.bin');
    assert.equal(await readFile(join(fx.home, 'slow.bin'), 'utf8'), 'previous content');
    assert.deepEqual(await readdir(fx.home), ['slow.bin']);
  });
});
