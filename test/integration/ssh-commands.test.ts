/**
 * The built-in SSH commands against real clients: every hash command compared byte for byte
 * with the local coreutils on the same files, cd and pwd, a command that is not enabled, and
 * rclone's hash checks against a kubesftp sftp remote.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loggedLine, startCommandsFixture, type CommandsFixture } from './commands-fixture.js';

const HASHES = ['md5sum', 'sha1sum', 'sha256sum', 'sha384sum', 'sha512sum'];
/** Names to hash: spaces, quotes, unicode, a backslash and a newline (escaped by coreutils). */
const NAMES = [
  'plain.bin',
  'with space.txt',
  'it\'s "quoted"',
  'caf\u00e9 \u65e5\u672c',
  'back\\slash',
  'new\nline',
];

/** A name as a POSIX shell word. */
const quoted = (name: string): string => `'${name.replace(/'/g, `'\\''`)}'`;

describe('hash commands, cd and pwd with the OpenSSH client', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;

  before(async () => {
    fx = await startCommandsFixture({
      enabled: 'md5sum,sha1sum,sha256sum,sha384sum,sha512sum,cd,pwd',
    });
    await mkdir(join(fx.home, 'data'));
    for (const [i, name] of NAMES.entries()) {
      await writeFile(join(fx.home, 'data', name), randomBytes(1000 + i * 300_000));
    }
    await writeFile(join(fx.home, 'empty'), '');
  });

  after(() => fx?.stop());

  test('each hash prints what coreutils prints for the same files (relative names)', async () => {
    const args = NAMES.map((n) => quoted(`data/${n}`)).join(' ');
    for (const command of HASHES) {
      const remote = await fx.ssh(`${command} ${args} empty`);
      const local = await fx.run('sh', ['-c', `${command} ${args} empty`], { cwd: fx.home });
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(local.code, 0, local.stderr);
      assert.equal(remote.stdout, local.stdout, command);
      assert.equal(remote.stdout.split('\n').length, NAMES.length + 2);
    }
  });

  test('errors match coreutils too: missing file, a directory, exit status 1, others still hashed', async () => {
    const line = `sha256sum data/plain.bin 'no such' data --tag data/plain.bin`;
    const remote = await fx.ssh(line);
    const local = await fx.run('sh', ['-c', line], { cwd: fx.home });
    assert.equal(remote.code, 1);
    assert.equal(local.code, 1);
    assert.equal(remote.stdout, local.stdout);
    assert.equal(remote.stderr, local.stderr);
  });

  test('with no file, or -, standard input is hashed and named "-"', async () => {
    const input = randomBytes(3 * 1024 * 1024);
    for (const command of ['md5sum', 'sha1sum -', 'sha512sum -']) {
      const remote = await fx.ssh(command, input);
      const local = await fx.run('sh', ['-c', command], { input });
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout, local.stdout, command);
    }
    assert.equal((await fx.ssh('md5sum')).stdout, 'd41d8cd98f00b204e9800998ecf8427e  -\n');
  });

  test('wildcards are expanded by the server against the listing', async () => {
    const remote = await fx.ssh('md5sum data/*.txt data/p*');
    const local = await fx.run('sh', ['-c', 'md5sum data/*.txt data/p*'], { cwd: fx.home });
    assert.equal(remote.stdout, local.stdout);
  });

  test('variables a client sends are refused and change nothing; the command still runs', async () => {
    const result = await fx.run('ssh', [
      ...fx.sshCommand.split(' ').slice(1),
      '-o',
      'SetEnv=LD_PRELOAD=/tmp/evil.so PATH=/tmp',
      `${fx.username}@127.0.0.1`,
      'md5sum data/plain.bin',
    ]);
    const local = await fx.run('md5sum', ['data/plain.bin'], { cwd: fx.home });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, local.stdout);
  });

  test('cd succeeds, pwd prints the home as "/", both are logged', async () => {
    assert.deepEqual(await fx.ssh('cd /data'), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await fx.ssh('pwd'), { code: 0, stdout: '/\n', stderr: '' });
    const logged = await loggedLine(
      fx.server,
      (l) => l.sender === 'SSHCommand' && l.ssh_command === 'pwd',
    );
    assert.equal(logged?.protocol, 'SSH');
    assert.equal(logged?.username, fx.username);
  });

  test('a command that is not enabled, or a shell, is refused at once with a message', async () => {
    for (const command of [
      'scp -t /',
      'rsync --server . x',
      'ls -la',
      'md5sum data/plain.bin; id',
    ]) {
      const result = await fx.ssh(command);
      assert.equal(result.code, 1, command);
      assert.match(result.stderr, /^kubesftp: /, command);
      assert.equal(result.stdout, '');
    }
    const refused = await loggedLine(
      fx.server,
      (l) => l.sender === 'SSHCommand' && l.ssh_command === 'ls -la',
    );
    assert.ok(refused, 'refused commands are logged too');
  });
});

describe('rclone hash checks against a kubesftp sftp remote', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    fx = await startCommandsFixture({ enabled: 'md5sum,sha1sum' });
    await mkdir(join(fx.work, 'local', 'sub'), { recursive: true });
    for (const name of ['a.bin', 'sub/b c.bin', "sub/it's.bin"]) {
      await writeFile(join(fx.work, 'local', name), randomBytes(200_000));
    }
    env = {
      ...process.env,
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_KS_TYPE: 'sftp',
      RCLONE_CONFIG_KS_HOST: '127.0.0.1',
      RCLONE_CONFIG_KS_PORT: String(fx.server.sftpPort),
      RCLONE_CONFIG_KS_USER: fx.username,
      RCLONE_CONFIG_KS_KEY_FILE: fx.keyPath,
    };
  });

  after(() => fx?.stop());

  test("rclone's probe finds our md5sum: md5sum with no file on empty input", async () => {
    const copy = await fx.run('rclone', ['copy', 'local', 'ks:remote'], { env });
    assert.equal(copy.code, 0, copy.stderr);
    // One file: rclone probes (md5sum reading empty stdin), then hashes it.
    const one = await fx.run('rclone', ['md5sum', 'ks:remote/a.bin'], { env });
    const local = await fx.run('md5sum', ['a.bin'], { cwd: join(fx.work, 'local') });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, local.stdout);
    assert.ok(
      await loggedLine(fx.server, (l) => l.sender === 'SSHCommand' && l.ssh_command === 'md5sum'),
    );
    assert.ok(
      await loggedLine(
        fx.server,
        (l) => l.sender === 'SSHCommand' && l.ssh_command === 'md5sum /remote/a.bin',
      ),
    );
  });

  test('rclone md5sum and check over a tree agree with the local files', async () => {
    // rclone 1.60 lets concurrent hash calls see an unfinished probe; with the commands named
    // (as the probe would have saved them) no probe runs and the tree is hashed in parallel.
    const named = {
      ...env,
      RCLONE_CONFIG_KS_SHELL_TYPE: 'unix',
      RCLONE_CONFIG_KS_MD5SUM_COMMAND: 'md5sum',
      RCLONE_CONFIG_KS_SHA1SUM_COMMAND: 'sha1sum',
    };
    const remote = await fx.run('rclone', ['md5sum', 'ks:remote'], { env: named });
    const local = await fx.run('rclone', ['md5sum', 'local'], { env: named });
    assert.equal(remote.code, 0, remote.stderr);
    const sorted = (text: string) => text.trim().split('\n').sort();
    assert.deepEqual(sorted(remote.stdout), sorted(local.stdout));
    const check = await fx.run('rclone', ['check', 'local', 'ks:remote'], { env: named });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /0 differences found/);
    assert.match(check.stderr, /3 matching files/);
    assert.ok(
      await loggedLine(
        fx.server,
        (l) =>
          l.sender === 'SSHCommand' &&
          String(l.ssh_command).startsWith("md5sum /remote/sub/it\\'s.bin"),
      ),
      'names reach our md5sum escaped the way rclone escapes them',
    );
    env = named;
  });

  test('a changed remote file is a difference for rclone check', async () => {
    // Same size, other bytes: only the hash tells them apart.
    await writeFile(join(fx.home, 'remote', 'a.bin'), randomBytes(200_000));
    const check = await fx.run('rclone', ['check', '--size-only=false', 'local', 'ks:remote'], {
      env,
    });
    assert.notEqual(check.code, 0);
    assert.match(check.stderr, /1 differences found/);
  });
});
