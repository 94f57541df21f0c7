/**
 * The real OpenSSH `sftp` and `scp` clients against `kubesftp serve`: every command a user
 * runs, checked by sha256 on both sides and on the server's disk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
  readdir,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeKeyPair,
  scp,
  sftpBatch,
  sha256File,
  startServer,
  type ClientAuth,
  type RunningServer,
} from './harness.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('OpenSSH sftp and scp against kubesftp serve', { timeout: 300_000 }, () => {
  let server: RunningServer;
  let work: string;
  let home: string;
  let keyAuth: ClientAuth;
  let rsaAuth: ClientAuth;
  let passwordAuth: ClientAuth;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-client-'));
    home = join(work, 'home', 'alice');
    server = await startServer();
    const ed = await makeKeyPair(work, 'ed25519');
    const rsa = await makeKeyPair(work, 'rsa');
    const created = await server.api('POST', '/api/v1/user', {
      username: 'alice',
      password: 'correct horse battery staple',
      public_keys: [ed.publicKey, rsa.publicKey],
      home_dir: home,
      permissions: { '/': ['*'] },
      status: 1,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body?.password, undefined, 'the API never returns the password hash');
    keyAuth = { username: 'alice', keyPath: ed.privatePath };
    rsaAuth = { username: 'alice', keyPath: rsa.privatePath };
    passwordAuth = { username: 'alice', password: 'correct horse battery staple' };
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const batch = (auth: ClientAuth, commands: string[]) =>
    sftpBatch(server.sftpPort, auth, commands, { cwd: work });

  test('logs in with the password and with each of the two public keys', async () => {
    for (const auth of [passwordAuth, keyAuth, rsaAuth]) {
      const result = await batch(auth, ['pwd']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Remote working directory: \//);
    }
    const wrong = await batch({ username: 'alice', password: 'wrong' }, ['pwd']);
    assert.notEqual(wrong.code, 0);
    const failed = server.logLines.filter((l) => l.sender === 'connection_failed');
    assert.ok(failed.some((l) => l.username === 'alice' && l.login_type === 'password'));
    assert.ok(!JSON.stringify(server.logLines).includes('correct horse'), 'no password in logs');
  });

  test('put and get keep contents intact (sha256 local, on disk, downloaded)', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(join(work, 'big.bin'), data);
    const result = await batch(keyAuth, ['put big.bin', 'get big.bin big-back.bin']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(home, 'big.bin')), sha256(data));
    assert.equal(await sha256File(join(work, 'big-back.bin')), sha256(data));
    const transfers = server.logLines.filter(
      (l) => l.sender === 'Upload' || l.sender === 'Download',
    );
    assert.ok(transfers.some((l) => l.sender === 'Upload' && l.size_bytes === data.length));
  });

  test('concurrent sessions, both ciphers, keep every file intact through the shared buffers', async () => {
    // Uploads and downloads at once: WRITE packets, READ data and SSH packets of every session
    // live in blocks the sessions share, so a block lent twice would corrupt some file.
    const files = Array.from({ length: 3 }, (_, i) => ({
      up: randomBytes(12 * 1024 * 1024 + i * 4099),
      down: randomBytes(12 * 1024 * 1024 + i * 7919),
    }));
    await Promise.all(
      files.map(async ({ up, down }, i) => {
        await writeFile(join(work, `up${i}.bin`), up);
        await writeFile(join(home, `down${i}.bin`), down);
      }),
    );
    const ciphers = ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'];
    const sessions = files.flatMap((_, i) => {
      const extraArgs = ['-c', ciphers[i % 2]!];
      return [
        sftpBatch(server.sftpPort, keyAuth, [`put up${i}.bin`], { cwd: work, extraArgs }),
        sftpBatch(server.sftpPort, keyAuth, [`get down${i}.bin`], { cwd: work, extraArgs }),
      ];
    });
    for (const result of await Promise.all(sessions)) assert.equal(result.code, 0, result.stderr);
    for (const [i, { up, down }] of files.entries()) {
      assert.equal(await sha256File(join(home, `up${i}.bin`)), sha256(up), `up${i}.bin`);
      assert.equal(await sha256File(join(work, `down${i}.bin`)), sha256(down), `down${i}.bin`);
    }
  });

  test('reput and reget resume partial files', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    await writeFile(join(work, 'resume.bin'), data);
    await writeFile(join(home, 'resume.bin'), data.subarray(0, 1024 * 1024 + 7));
    let result = await batch(keyAuth, ['reput resume.bin resume.bin']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(home, 'resume.bin')), sha256(data));

    await writeFile(join(work, 'partial.bin'), data.subarray(0, 777_777));
    result = await batch(keyAuth, ['reget resume.bin partial.bin']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(work, 'partial.bin')), sha256(data));
  });

  test('mkdir, cd, ls, ls -l, rename (legacy and posix), rm and rmdir', async () => {
    await writeFile(join(work, 'a.txt'), 'first');
    await writeFile(join(work, 'b.txt'), 'second');
    const result = await batch(keyAuth, [
      'mkdir docs',
      'cd docs',
      'put a.txt',
      'put b.txt',
      'ls',
      'ls -l',
      '-rename -l a.txt b.txt',
      'rename a.txt b.txt',
      'mkdir empty',
      'rmdir empty',
      'put a.txt gone.txt',
      'rm gone.txt',
      'ls -l',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /a\.txt\s+b\.txt|a\.txt\n.*b\.txt/s);
    // OpenSSH 9 formats `ls -l` itself from the attributes and users-groups-by-id names.
    assert.match(result.stdout, /-rw-r--r--\s+\S+\s+\S+\s+\S+\s+5 .* a\.txt/);
    // The legacy rename must refuse to replace b.txt; the posix rename then replaces it.
    assert.deepEqual((await readdir(join(home, 'docs'))).sort(), ['b.txt']);
    assert.equal(await readFile(join(home, 'docs', 'b.txt'), 'utf8'), 'first');
  });

  test('chmod changes the mode on disk without setuid bits; chown keeps to the account ids', async () => {
    await writeFile(join(work, 'mode.txt'), 'mode');
    const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    let result = await batch(keyAuth, [
      'put mode.txt',
      'chmod 640 mode.txt',
      `chgrp ${own.gid} mode.txt`,
      `chown ${own.uid} mode.txt`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    let st = await stat(join(home, 'mode.txt'));
    assert.equal(st.mode & 0o7777, 0o640);
    // The account has no uid of its own: only the server's ids may be set (chown_any_id is off).
    result = await batch(keyAuth, [
      'chmod 4755 mode.txt',
      '-chgrp 4321 mode.txt',
      '-chown 1234 mode.txt',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /setstat.*Permission denied/);
    st = await stat(join(home, 'mode.txt'));
    assert.equal(st.mode & 0o7777, 0o755);
    assert.deepEqual({ uid: st.uid, gid: st.gid }, own);
  });

  test('ln -s, ln (hard link), df -h and cp (copy-data)', async () => {
    const data = randomBytes(300_000);
    await writeFile(join(work, 'orig.bin'), data);
    const result = await batch(keyAuth, [
      'put orig.bin',
      'ln -s orig.bin soft.bin',
      'ln orig.bin hard.bin',
      'cp orig.bin copy.bin',
      'df -h',
      'get soft.bin soft-back.bin',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await lstat(join(home, 'soft.bin'))).isSymbolicLink());
    assert.equal((await stat(join(home, 'hard.bin'))).nlink, 2);
    assert.equal(await sha256File(join(home, 'copy.bin')), sha256(data));
    assert.equal(await sha256File(join(work, 'soft-back.bin')), sha256(data));
    assert.match(result.stdout, /Size\s+Used\s+Avail/);
  });

  test('scp in its default (SFTP) mode uploads and downloads', async () => {
    const data = randomBytes(1024 * 1024 + 3);
    await writeFile(join(work, 'scp.bin'), data);
    let result = await scp(
      server.sftpPort,
      keyAuth,
      ['scp.bin', 'alice@127.0.0.1:scp-remote.bin'],
      { cwd: work },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(home, 'scp-remote.bin')), sha256(data));
    result = await scp(
      server.sftpPort,
      keyAuth,
      ['alice@127.0.0.1:scp-remote.bin', 'scp-back.bin'],
      { cwd: work },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(work, 'scp-back.bin')), sha256(data));
  });

  test('a directory of 100,000 entries lists completely', async () => {
    const dir = join(home, 'many');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 100_000; i += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) =>
          writeFile(join(dir, `f${String(i + j).padStart(6, '0')}`), ''),
        ),
      );
    }
    const result = await batch(keyAuth, ['ls -1 many']);
    assert.equal(result.code, 0, result.stderr);
    const names = result.stdout.split('\n').filter((l) => /f\d{6}$/.test(l.trim()));
    assert.equal(names.length, 100_000);
    assert.equal(new Set(names).size, 100_000);
  });

  test('hostile paths never reach outside the home directory', async () => {
    const secret = await readFile('/etc/passwd');
    await symlink('/etc', join(home, 'planted'));
    const result = await batch(keyAuth, [
      '-get ../../etc/passwd escape1',
      '-get /etc/passwd escape2',
      '-ln -s / rootlink',
      '-get rootlink/etc/passwd escape3',
      '-ln -s ../../../../../../etc uplink',
      '-get uplink/passwd escape4',
      '-get planted/passwd escape5',
      '-ls planted/',
      '-put /etc/hostname ../../outside.txt',
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (const name of ['escape1', 'escape2', 'escape3', 'escape4', 'escape5']) {
      const fetched = await readFile(join(work, name)).catch(() => undefined);
      if (fetched !== undefined)
        assert.notEqual(sha256(fetched), sha256(secret), `${name} leaked /etc/passwd`);
    }
    // Only what the server answered counts, not the echoed commands.
    const answers = result.stdout.split('\n').filter((line) => !line.startsWith('sftp>'));
    assert.ok(!answers.some((line) => /shadow|passwd|hostname/.test(line)), answers.join('\n'));
    await assert.rejects(stat(join(work, 'home', 'outside.txt')));
    await assert.rejects(stat(join(work, 'outside.txt')));
  });
});
