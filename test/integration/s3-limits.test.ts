/**
 * Quota and permissions on S3 homes, side by side with local homes on the same server: the same
 * OpenSSH batch gets the same answers from both, and the stored usage is what each home holds.
 * Where the two differ by nature (a refused local upload keeps what was written, an S3 upload
 * is stored whole or not at all) the test says so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { sftpBatch, type ClientAuth, type ClientResult } from './harness.js';
import { startS3Fixture, type S3Fixture } from './s3-fixture.js';

const KiB = 1024;

/** The client's answers without paths that name the home's kind. */
function answers(result: ClientResult): { code: number; stderr: string } {
  return { code: result.code, stderr: result.stderr.trim() };
}

describe('quota and permissions on S3 homes as on local ones', { timeout: 180_000 }, () => {
  let fx: S3Fixture;

  before(async () => {
    fx = await startS3Fixture();
    await writeFile(join(fx.work, 'small.bin'), randomBytes(100 * KiB));
    await writeFile(join(fx.work, 'big.bin'), randomBytes(700 * KiB));
  });
  after(() => fx?.stop());

  /** One local and one S3 account with the same properties. */
  async function pair(name: string, extra: Record<string, unknown>): Promise<ClientAuth[]> {
    return [await fx.addLocalUser(`${name}-local`, extra), await fx.addS3User(`${name}-s3`, extra)];
  }

  /** Bytes and files each home holds, read from the disk and from S3 directly. */
  async function stored(username: string): Promise<{ size: number; files: number }> {
    if (username.endsWith('-s3')) {
      const keys = (await fx.keys(`${username}/`)).filter((key) => !key.endsWith('/'));
      let size = 0;
      for (const key of keys) size += (await fx.head(key)).size;
      return { size, files: keys.length };
    }
    const home = join(fx.work, 'local', username);
    const names = await readdir(home, { recursive: true });
    let size = 0;
    let files = 0;
    for (const name of names) {
      const st = await stat(join(home, name));
      if (!st.isFile()) continue;
      size += st.size;
      files += 1;
    }
    return { size, files };
  }

  async function runBoth(auths: ClientAuth[], commands: string[]) {
    const results = [];
    for (const auth of auths) {
      results.push(await sftpBatch(fx.server.sftpPort, auth, commands, { cwd: fx.work }));
    }
    return results;
  }

  test('quota_files refuses the upload past the count on both', async () => {
    const auths = await pair('files', { quota_files: 2 });
    const [local, s3] = await runBoth(auths, [
      'put small.bin one.bin',
      'put small.bin two.bin',
      '-put small.bin three.bin',
      'put small.bin two.bin',
    ]);
    assert.deepEqual(answers(s3!), answers(local!));
    assert.match(local!.stderr, /three\.bin.*(Failure|quota)/i);
    for (const auth of auths) {
      const want = { size: 200 * KiB, files: 2 };
      assert.deepEqual(await stored(auth.username), want, `${auth.username} holds two files`);
      assert.deepEqual(await fx.usage(auth.username), want, `${auth.username} usage`);
    }
  });

  test('quota_size stops the upload that would pass it; usage is what each home holds', async () => {
    const auths = await pair('size', { quota_size: 512 * KiB });
    const [local, s3] = await runBoth(auths, [
      'put small.bin a.bin',
      '-put big.bin b.bin',
      'put small.bin c.bin',
      'rm a.bin',
    ]);
    assert.deepEqual(answers(s3!), answers(local!));
    assert.match(local!.stderr, /b\.bin/);
    for (const auth of auths) {
      const held = await stored(auth.username);
      assert.deepEqual(await fx.usage(auth.username), held, `${auth.username} usage`);
      assert.ok(held.size <= 512 * KiB, `${auth.username} holds ${held.size} bytes`);
    }
    // A local upload keeps the bytes written before the refusal; S3 stores nothing of it.
    assert.deepEqual(await fx.keys('size-s3/b'), []);
    assert.deepEqual(await stored('size-s3'), { size: 100 * KiB, files: 1 });
  });

  test('per-directory permissions answer the same on both', async () => {
    const permissions = { '/': ['list', 'download'], '/drop': ['list', 'upload'] };
    const auths = await pair('perms', { permissions });
    // What each home holds before the batch: a readable file and the drop directory.
    const local = join(fx.work, 'local', 'perms-local');
    await mkdir(join(local, 'drop'), { recursive: true });
    await writeFile(join(local, 'readme.txt'), 'read me');
    for (const [key, body] of [
      ['perms-s3/drop/', Buffer.alloc(0)],
      ['perms-s3/readme.txt', Buffer.from('read me')],
    ] as const) {
      await fx.client.send(new PutObjectCommand({ Bucket: fx.s3.bucket, Key: key, Body: body }));
    }
    const results = await runBoth(auths, [
      'get readme.txt readme-back.txt',
      '-put small.bin top.bin',
      '-mkdir newdir',
      '-rm readme.txt',
      '-rename readme.txt renamed.txt',
      'put small.bin drop/in.bin',
      '-get drop/in.bin in-back.bin',
      '-rm drop/in.bin',
    ]);
    assert.deepEqual(answers(results[1]!), answers(results[0]!));
    const refused = results[0]!.stderr.match(/Permission denied/g) ?? [];
    assert.equal(refused.length, 6, results[0]!.stderr);
    assert.deepEqual(await fx.keys('perms-s3/'), [
      'perms-s3/drop/',
      'perms-s3/drop/in.bin',
      'perms-s3/readme.txt',
    ]);
  });
});
