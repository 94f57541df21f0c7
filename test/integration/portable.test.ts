/**
 * `kubesftp portable` as a user runs it: the real OpenSSH sftp client against a local directory
 * and an S3 prefix on the test bed's MinIO, with what the command printed to connect; and the
 * service found over mDNS (in a network namespace of its own, whose loopback carries multicast).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { s3ClientFor, startS3, type S3Env } from '../env/testbed.js';
import { runProgram } from './commands-fixture.js';
import { askpassEnv, makeKeyPair, repoRoot, sftpBatch, sha256File, sshOptions } from './harness.js';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

const cliPath = join(repoRoot, 'dist/server/src/cli/main.js');
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface Portable {
  child: ChildProcess;
  port: number;
  username: string;
  password: string | undefined;
  printed: string;
  stop(): Promise<number | null>;
}

/** Starts `kubesftp portable` (optionally through a wrapper) and reads how to connect. */
function startPortable(
  args: string[],
  options: { wrapper?: string[]; env?: Record<string, string> } = {},
): Promise<Portable> {
  const wrapper = options.wrapper ?? [];
  const [command, ...rest] = [...wrapper, process.execPath, cliPath, 'portable', ...args];
  const child = spawn(command!, rest, {
    env: { ...process.env, KUBESFTP_SFTPD__BIND_ADDRESS: '127.0.0.1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    child.kill('SIGTERM');
    return exited;
  };
  return new Promise((done, fail) => {
    let printed = '';
    const timer = setTimeout(
      () => fail(new Error(`portable printed nothing:\n${stderr.join('\n')}`)),
      30_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`portable exited ${code}:\n${printed}${stderr.join('\n')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      printed += `${line}\n`;
      const connect = /^Connect with: sftp -P (\d+) (\S+)@/.exec(line);
      if (connect === null) return;
      // The password line, when there is one, comes right after.
      setTimeout(() => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        done({
          child,
          port: Number(connect[1]),
          username: connect[2]!,
          password: /^Password: (\S+)$/m.exec(printed)?.[1],
          printed,
          stop,
        });
      }, 100);
    });
  });
}

describe('kubesftp portable', { timeout: 180_000 }, () => {
  let work: string;
  let s3: S3Env;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-portable-it-'));
    s3 = await startS3();
  });
  after(async () => {
    await s3?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('serves a local directory read-only by default to a generated account', async () => {
    const served = join(work, 'served');
    await mkdir(served);
    const data = randomBytes(3 * 1024 * 1024 + 11);
    await writeFile(join(served, 'shared.bin'), data);
    const portable = await startPortable(['--directory', served]);
    try {
      assert.match(
        portable.printed,
        /Serving .*served to "user-[0-9a-f]+" with permissions: list, download/,
      );
      assert.ok(portable.password, 'a generated password is printed');
      const auth = { username: portable.username, password: portable.password };
      await writeFile(join(work, 'up.txt'), 'up');
      const result = await sftpBatch(
        portable.port,
        auth,
        ['get shared.bin got.bin', '-put up.txt', 'ls -l'],
        {
          cwd: work,
        },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256File(join(work, 'got.bin')), sha256(data));
      assert.match(result.stderr, /Permission denied/);
      await assert.rejects(readFile(join(served, 'up.txt')), 'the upload was refused');
    } finally {
      assert.equal(await portable.stop(), 0);
    }
  });

  test('serves a local directory with the given user, key and permissions', async () => {
    const served = join(work, 'writable');
    const key = await makeKeyPair(work, 'ed25519');
    const portable = await startPortable([
      '-d',
      served,
      '-u',
      'pat',
      '-k',
      key.publicKey,
      '-g',
      'list,download,upload,create_dirs',
    ]);
    try {
      assert.equal(portable.username, 'pat');
      assert.equal(portable.password, undefined, 'no password made up when a key is given');
      const data = randomBytes(700_000);
      await writeFile(join(work, 'in.bin'), data);
      const auth = { username: 'pat', keyPath: key.privatePath };
      const result = await sftpBatch(portable.port, auth, ['mkdir sub', 'put in.bin sub/in.bin'], {
        cwd: work,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256File(join(served, 'sub', 'in.bin')), sha256(data));
    } finally {
      assert.equal(await portable.stop(), 0);
    }
  });

  test('serves an S3 prefix: uploads land as objects under it, downloads match', async () => {
    const portable = await startPortable(
      [
        '-f',
        '1',
        '--s3-bucket',
        s3.bucket,
        '--s3-endpoint',
        s3.endpoint,
        '--s3-region',
        s3.region,
        '--s3-access-key',
        s3.accessKey,
        '--s3-key-prefix',
        'shared/',
        '--s3-force-path-style',
        '-p',
        'portable-pw',
        '-g',
        '*',
      ],
      // The secret from the environment, out of `ps`.
      { env: { KUBESFTP_PORTABLE_S3_ACCESS_SECRET: s3.secretKey } },
    );
    const client = s3ClientFor(s3);
    try {
      assert.match(portable.printed, new RegExp(`Serving s3://${s3.bucket}/shared/ to`));
      const data = randomBytes(6 * 1024 * 1024 + 5);
      await writeFile(join(work, 's3.bin'), data);
      const auth = { username: portable.username, password: 'portable-pw' };
      const result = await sftpBatch(
        portable.port,
        auth,
        ['put s3.bin', 'get s3.bin s3-back.bin'],
        {
          cwd: work,
        },
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await sha256File(join(work, 's3-back.bin')), sha256(data));
      const got = await client.send(
        new GetObjectCommand({ Bucket: s3.bucket, Key: 'shared/s3.bin' }),
      );
      assert.equal(sha256(Buffer.from(await got.Body!.transformToByteArray())), sha256(data));
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      assert.deepEqual(
        (listed.Contents ?? []).map((o) => o.Key),
        ['shared/s3.bin'],
      );
    } finally {
      client.destroy();
      assert.equal(await portable.stop(), 0);
    }
  });

  test('bad flags are a usage error that names them', async () => {
    const missing = await runProgram(process.execPath, [cliPath, 'portable', '-f', '1'], {
      cwd: work,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--fs-provider 1 needs --s3-bucket/);
    const perm = await runProgram(process.execPath, [cliPath, 'portable', '-g', 'list,fly'], {
      cwd: work,
    });
    assert.equal(perm.code, 2);
    assert.match(perm.stderr, /--permissions: unknown fly/);
  });

  test('--advertise-service publishes _sftp-ssh._tcp over mDNS; its TXT record logs in', async () => {
    // A network namespace of its own, as root: multicast on its loopback touches no real network.
    const netns = [
      'unshare',
      '--net',
      'sh',
      '-c',
      'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"',
    ];
    const served = join(work, 'advertised');
    await mkdir(served);
    await writeFile(join(served, 'hello.txt'), 'hello');
    const portable = await startPortable(
      ['-d', served, '-S', '-C', '--advertise-interface', '127.0.0.1'],
      { wrapper: netns },
    );
    try {
      const inside = ['nsenter', `--target=${portable.child.pid}`, '--net'];
      const browsed = await runProgram(
        inside[0]!,
        [
          ...inside.slice(1),
          process.execPath,
          join(repoRoot, 'dist/test/integration/mdns-browse.js'),
          '15000',
        ],
        { cwd: work },
      );
      assert.equal(browsed.code, 0, browsed.stderr);
      const found = JSON.parse(browsed.stdout) as {
        name: string;
        port: number;
        txt: Record<string, string>;
      };
      assert.equal(found.port, portable.port);
      assert.equal(found.txt.user, portable.username);
      assert.equal(found.txt.password, portable.password);
      assert.match(found.txt.version ?? '', /\d+\.\d+/);
      // The advertised credentials log in, from inside the namespace.
      const auth = { username: found.txt.user, password: found.txt.password };
      await writeFile(join(work, 'mdns.batch'), 'get hello.txt hello-back.txt\n');
      const login = await runProgram(
        inside[0]!,
        [
          ...inside.slice(1),
          'sftp',
          ...sshOptions(found.port, auth, '-P'),
          '-b',
          'mdns.batch',
          `${auth.username}@127.0.0.1`,
        ],
        { cwd: work, env: await askpassEnv(work, auth.password) },
      );
      assert.equal(login.code, 0, login.stderr);
      assert.equal(await readFile(join(work, 'hello-back.txt'), 'utf8'), 'hello');
    } finally {
      assert.equal(await portable.stop(), 0);
    }
  });
});
