/**
 * The real OpenSSH `sftp` and `scp` and rclone against `kubesftp serve` with an S3 home on the
 * test bed's MinIO: every command a user runs, sha256 checked locally, on the object the SDK
 * reads back and on the downloaded copy; what S3 cannot do answered per setstat_mode; and the
 * extensions an S3 session is offered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRawSession, statusName } from '../attack/raw-session.js';
import { OpenFlag, StatusCode } from '../../server/src/sftp/constants.js';
import { runProgram } from './commands-fixture.js';
import { scp, sftpBatch, sha256File, startServer, type ClientAuth } from './harness.js';
import { MiB, s3configFor, startS3Fixture, type S3Fixture } from './s3-fixture.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('OpenSSH sftp, scp and rclone on an S3 home', { timeout: 300_000 }, () => {
  let fx: S3Fixture;
  let alice: ClientAuth;

  before(async () => {
    fx = await startS3Fixture();
    alice = await fx.addS3User('alice');
  });
  after(() => fx?.stop());

  const batch = (commands: string[], auth = alice) =>
    sftpBatch(fx.server.sftpPort, auth, commands, { cwd: fx.work });

  test('put and get of 0 B, small and multipart files: sha256 local, in S3, downloaded', async () => {
    // Parts are 5 MiB: 17 MiB + 3 is four parts, the last one short.
    const sizes = { 'empty.bin': 0, 'small.bin': 1234, 'multi.bin': 17 * MiB + 3 };
    const hashes: Record<string, string> = {};
    for (const [name, size] of Object.entries(sizes)) {
      const data = randomBytes(size);
      hashes[name] = sha256(data);
      await writeFile(join(fx.work, name), data);
    }
    const names = Object.keys(sizes);
    const result = await batch([
      ...names.map((name) => `put ${name}`),
      ...names.map((name) => `get ${name} back-${name}`),
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (const name of names) {
      assert.equal(await fx.objectSha256(`alice/${name}`), hashes[name], `${name} in S3`);
      assert.equal(await sha256File(join(fx.work, `back-${name}`)), hashes[name], name);
      assert.equal((await fx.head(`alice/${name}`)).size, sizes[name as keyof typeof sizes]);
    }
    assert.deepEqual(await fx.openUploads('alice/'), [], 'no multipart upload left open');
  });

  test('scp uploads and downloads a multipart file', async () => {
    const data = randomBytes(11 * MiB + 77);
    await writeFile(join(fx.work, 'scp.bin'), data);
    let result = await scp(fx.server.sftpPort, alice, ['scp.bin', 'alice@127.0.0.1:scp.bin'], {
      cwd: fx.work,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await fx.objectSha256('alice/scp.bin'), sha256(data));
    result = await scp(fx.server.sftpPort, alice, ['alice@127.0.0.1:scp.bin', 'scp-back.bin'], {
      cwd: fx.work,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sha256File(join(fx.work, 'scp-back.bin')), sha256(data));
  });

  test('ls -l shows the sizes and times of the objects; stat and lstat agree with S3', async () => {
    await writeFile(join(fx.work, 'listed.bin'), randomBytes(4321));
    const result = await batch([
      'mkdir listing',
      'put listed.bin listing/listed.bin',
      'ls -l listing',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /-rw-r--r--\s+\S+\s+\S+\s+\S+\s+4321 .* listing\/listed\.bin/);
    const object = await fx.head('alice/listing/listed.bin');
    const raw = await openRawSession({
      port: fx.server.sftpPort,
      username: 'alice',
      password: 'pw-alice',
    });
    try {
      for (const attrs of [
        await raw.sftp.stat('/listing/listed.bin'),
        await raw.sftp.lstat('/listing/listed.bin'),
      ]) {
        assert.ok(typeof attrs === 'object', `stat answered status ${JSON.stringify(attrs)}`);
        assert.equal(attrs.size, 4321);
        assert.equal(attrs.mtime, Math.floor(object.mtime.getTime() / 1000));
      }
      const dir = await raw.sftp.stat('/listing');
      assert.ok(typeof dir === 'object');
      assert.equal((dir.permissions ?? 0) & 0o170000, 0o040000, 'a directory');
    } finally {
      await raw.close();
    }
  });

  test('mkdir, cd, rmdir of empty directories only, rm, and renames of files and directories', async () => {
    await writeFile(join(fx.work, 'a.txt'), 'first');
    await writeFile(join(fx.work, 'b.txt'), 'second');
    const result = await batch([
      'mkdir tree',
      'cd tree',
      'put a.txt',
      'put b.txt',
      'mkdir sub',
      'put a.txt sub/deep.txt',
      '-rmdir sub',
      '-rename -l a.txt b.txt',
      'rename a.txt c.txt',
      'mkdir empty',
      'rmdir empty',
      'put a.txt gone.txt',
      'rm gone.txt',
      'cd /',
      'rename tree moved',
      'ls -1 moved',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /rmdir.*Failure|Couldn't remove directory/i, 'sub is not empty');
    assert.match(result.stderr, /rename.*Failure|Couldn't rename/i, 'no replace without posix');
    assert.deepEqual(await fx.keys('alice/tree'), []);
    assert.deepEqual(await fx.keys('alice/moved/'), [
      'alice/moved/',
      'alice/moved/b.txt',
      'alice/moved/c.txt',
      'alice/moved/sub/',
      'alice/moved/sub/deep.txt',
    ]);
    assert.equal(await fx.objectSha256('alice/moved/c.txt'), sha256(Buffer.from('first')));
    assert.equal(await fx.objectSha256('alice/moved/b.txt'), sha256(Buffer.from('second')));
    assert.match(result.stdout, /moved\/b\.txt\s+moved\/c\.txt\s+moved\/sub/);
  });

  test('df answers from statvfs', async () => {
    const result = await batch(['df -h', 'df -i']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Size\s+Used\s+Avail/);
    assert.match(result.stdout, /Inodes\s+Used\s+Avail/);
  });

  test('chmod, chown and ln -s answer "unsupported"; hard links are not offered', async () => {
    await writeFile(join(fx.work, 'mode.txt'), 'mode');
    const result = await batch([
      'put mode.txt',
      '-chmod 600 mode.txt',
      '-chgrp 0 mode.txt',
      '-ln -s mode.txt soft.txt',
      '-ln mode.txt hard.txt',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stderr.split('\n');
    assert.ok(
      lines.some((l) => /setstat.*Operation unsupported/.test(l)),
      result.stderr,
    );
    assert.ok(
      lines.some((l) => /symlink.*Operation unsupported/i.test(l)),
      result.stderr,
    );
    assert.match(result.stderr, /Server does not support hardlink@openssh\.com/);
    assert.deepEqual(await fx.keys('alice/mode'), ['alice/mode.txt']);
    assert.deepEqual(await fx.keys('alice/soft'), []);
    assert.deepEqual(await fx.keys('alice/hard'), []);
  });

  test('an S3 session is offered only the extensions its backend serves', async () => {
    await fx.addLocalUser('lena');
    const offered = async (username: string) => {
      const raw = await openRawSession({
        port: fx.server.sftpPort,
        username,
        password: `pw-${username}`,
      });
      await raw.close();
      return [...raw.extensions.keys()].sort();
    };
    const local = await offered('lena');
    const s3 = await offered('alice');
    assert.ok(local.includes('hardlink@openssh.com') && local.includes('fsync@openssh.com'));
    assert.deepEqual(
      local.filter((name) => !s3.includes(name)),
      ['fsync@openssh.com', 'hardlink@openssh.com', 'lsetstat@openssh.com'],
      'no hard links, fsync, or lsetstat (setstat under another name without symlinks)',
    );
    assert.ok(s3.includes('posix-rename@openssh.com') && s3.includes('statvfs@openssh.com'));
  });

  test('writes out of order: a short gap is waited for, a write behind or far ahead is OP_UNSUPPORTED and stores nothing', async () => {
    const raw = await openRawSession({
      port: fx.server.sftpPort,
      username: 'alice',
      password: 'pw-alice',
    });
    const flags = OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC;
    try {
      // Within one part of what was received: held until the gap before it fills.
      const ordered = await raw.sftp.open('/gap.bin', flags);
      assert.equal(ordered.status, StatusCode.OK);
      const a = randomBytes(40_000);
      const b = randomBytes(30_000);
      assert.equal(await raw.sftp.write(ordered.handle!, 40_000, b), StatusCode.OK);
      assert.equal(await raw.sftp.write(ordered.handle!, 0, a), StatusCode.OK);
      assert.equal(await raw.sftp.close(ordered.handle!), StatusCode.OK);
      assert.equal(await fx.objectSha256('alice/gap.bin'), sha256(Buffer.concat([a, b])));

      const far = await raw.sftp.open('/far.bin', flags);
      assert.equal(await raw.sftp.write(far.handle!, 0, randomBytes(1000)), StatusCode.OK);
      const ahead = await raw.sftp.write(far.handle!, 6 * MiB, randomBytes(1000));
      assert.equal(ahead, StatusCode.OP_UNSUPPORTED, statusName(ahead));
      assert.notEqual(await raw.sftp.close(far.handle!), StatusCode.OK, 'the spoiled upload fails');

      const back = await raw.sftp.open('/back.bin', flags);
      assert.equal(await raw.sftp.write(back.handle!, 0, randomBytes(5000)), StatusCode.OK);
      const behind = await raw.sftp.write(back.handle!, 100, randomBytes(10));
      assert.equal(behind, StatusCode.OP_UNSUPPORTED, statusName(behind));
      assert.notEqual(await raw.sftp.close(back.handle!), StatusCode.OK);
    } finally {
      await raw.close();
    }
    assert.deepEqual(await fx.keys('alice/far'), []);
    assert.deepEqual(await fx.keys('alice/back'), []);
    assert.deepEqual(await fx.openUploads('alice/'), []);
  });

  test('random reads (seek and read) get exactly the bytes asked for', async () => {
    const data = randomBytes(13 * MiB + 17);
    await writeFile(join(fx.work, 'random.bin'), data);
    assert.equal((await batch(['put random.bin'])).code, 0);
    const raw = await openRawSession({
      port: fx.server.sftpPort,
      username: 'alice',
      password: 'pw-alice',
    });
    try {
      const file = await raw.sftp.open('/random.bin', OpenFlag.READ);
      for (const offset of [9 * MiB + 5, 17, 13 * MiB, 5 * MiB - 3, 0, 13 * MiB + 10]) {
        const got = await raw.sftp.read(file.handle!, offset, 32_768);
        assert.ok(Buffer.isBuffer(got), `read at ${offset}: ${statusName(got as number)}`);
        assert.ok(got.equals(data.subarray(offset, offset + 32_768)), `bytes at ${offset}`);
      }
      assert.equal(await raw.sftp.read(file.handle!, data.length, 10), StatusCode.EOF);
      assert.equal(await raw.sftp.close(file.handle!), StatusCode.OK);
    } finally {
      await raw.close();
    }
  });

  test('rclone copies a tree in and out and finds no difference', async () => {
    const local = join(fx.work, 'rclone-src');
    await mkdir(join(local, 'sub'), { recursive: true });
    await writeFile(join(local, 'one.bin'), randomBytes(300_000));
    await writeFile(join(local, 'sub', 'two.bin'), randomBytes(6 * MiB + 5));
    await writeFile(join(local, 'sub', 'zero.bin'), '');
    // S3 keeps no times of ours: rclone must not set them on a server that refuses setstat.
    const env = {
      ...process.env,
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_KS_TYPE: 'sftp',
      RCLONE_CONFIG_KS_HOST: '127.0.0.1',
      RCLONE_CONFIG_KS_PORT: String(fx.server.sftpPort),
      RCLONE_CONFIG_KS_USER: 'alice',
      RCLONE_CONFIG_KS_KEY_FILE: fx.keyPath,
      RCLONE_CONFIG_KS_SHELL_TYPE: 'none',
      RCLONE_CONFIG_KS_SET_MODTIME: 'false',
    };
    const run = (args: string[]) => runProgram('rclone', args, { cwd: fx.work, env });
    let result = await run(['copy', 'rclone-src', 'ks:rclone']);
    assert.equal(result.code, 0, result.stderr);
    result = await run(['copy', 'ks:rclone', 'rclone-back']);
    assert.equal(result.code, 0, result.stderr);
    for (const name of ['one.bin', 'sub/two.bin', 'sub/zero.bin']) {
      const want = await sha256File(join(local, name));
      assert.equal(await fx.objectSha256(`alice/rclone/${name}`), want, name);
      assert.equal(await sha256File(join(fx.work, 'rclone-back', name)), want, name);
    }
    result = await run(['check', '--download', 'rclone-src', 'ks:rclone']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /0 differences found/);
  });
});

describe('setstat_mode 1 on an S3 home', { timeout: 120_000 }, () => {
  let fx: S3Fixture;
  let bob: ClientAuth;

  before(async () => {
    fx = await startS3Fixture({ env: { KUBESFTP_SFTPD__SETSTAT_MODE: '1' } });
    bob = await fx.addS3User('bob');
  });
  after(() => fx?.stop());

  test('chmod, chown and times are ignored; symlinks are still refused', async () => {
    await writeFile(join(fx.work, 'mode.txt'), 'mode');
    const result = await sftpBatch(
      fx.server.sftpPort,
      bob,
      ['put -p mode.txt', 'chmod 600 mode.txt', 'chgrp 0 mode.txt', '-ln -s mode.txt soft.txt'],
      { cwd: fx.work },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /setstat/);
    assert.match(result.stderr, /symlink.*Operation unsupported/i);
    assert.equal(await fx.objectSha256('bob/mode.txt'), sha256(Buffer.from('mode')));
    assert.deepEqual(await fx.keys('bob/'), ['bob/mode.txt']);
  });
});

describe('an S3 home that cannot be reached', { timeout: 60_000 }, () => {
  test('fails the login with a clear log line and no secret in it', async () => {
    const server = await startServer();
    try {
      const secret = 'definitely-not-the-secret';
      const created = await server.api('POST', '/api/v1/user', {
        username: 'nobucket',
        home_dir: '/nonexistent/nobucket',
        password: 'pw-nobucket',
        permissions: { '/': ['*'] },
        status: 1,
        filesystem: {
          provider: 1,
          s3config: {
            ...s3configFor(
              {
                bucket: 'missing',
                region: 'us-east-1',
                accessKey: 'AK',
                secretKey: secret,
                endpoint: 'http://127.0.0.1:9',
                stop: () => Promise.resolve(),
              },
              'p/',
            ),
          },
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const result = await sftpBatch(
        server.sftpPort,
        { username: 'nobucket', password: 'pw-nobucket' },
        ['pwd'],
        { cwd: server.configDir, timeoutMs: 60_000 },
      );
      assert.notEqual(result.code, 0);
      assert.ok(!JSON.stringify(server.logLines).includes(secret), 'no secret in the logs');
    } finally {
      await server.stop();
    }
  });
});
