/**
 * What only the S3 backend does, against the test bed's real MinIO: multipart uploads and
 * their bounds, the write order S3 needs, aborts that leave nothing, ranged reads, copies part
 * by part, directories made of prefixes, and the sweep of abandoned uploads. Objects are
 * checked with the SDK directly, not through the backend.
 */
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { s3ClientFor, startS3, type S3Env } from '../../../test/env/testbed.js';
import type { User } from '../dataprovider/types.js';
import { ErrorCode } from '../errors.js';
import { getFile, putFile, readAll, rejectsWith } from './contract.js';
import { DirectVfs } from './direct.js';
import { S3Backend } from './s3.js';
import { s3HomeSettings, type S3Tuning } from './s3-settings.js';
import { sweepAbandonedUploads } from './s3-sweep.js';
import { CREATE, flags, READ, sha256 } from './test-support.js';
import { isDirectory, type Vfs } from './types.js';
import { toVirtualPath } from './virtual-path.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

describe('S3 backend', { timeout: 180_000 }, () => {
  let env: S3Env;
  let client: S3Client;
  let homes = 0;

  before(async () => {
    env = await startS3();
    client = s3ClientFor(env);
  });
  after(async () => {
    client?.destroy();
    await env?.stop();
  });

  function s3config(prefix: string): NonNullable<User['filesystem']['s3config']> {
    return {
      bucket: env.bucket,
      region: env.region,
      access_key: env.accessKey,
      access_secret: env.secretKey,
      endpoint: env.endpoint,
      storage_class: '',
      key_prefix: prefix,
      force_path_style: true,
      upload_part_size: 5,
      upload_concurrency: 2,
      download_part_size: 5,
      download_concurrency: 2,
    };
  }

  /** A fresh home under its own prefix, and that prefix. */
  function home(tuning?: S3Tuning): { vfs: Vfs; prefix: string } {
    const prefix = `home-${++homes}/`;
    const settings = s3HomeSettings(s3config(prefix), env.secretKey);
    const backend = new S3Backend({ settings, umask: 0o022, uid: 0, gid: 0, tuning });
    return { vfs: new DirectVfs(backend), prefix };
  }

  async function object(key: string): Promise<Buffer> {
    const got = await client.send(new GetObjectCommand({ Bucket: env.bucket, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  async function keys(prefix: string): Promise<string[]> {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: env.bucket, Prefix: prefix }),
    );
    return (listed.Contents ?? []).map((entry) => entry.Key!).sort();
  }

  /** Listed whole and filtered: MinIO matches Prefix against whole keys only. */
  async function openUploads(prefix: string): Promise<string[]> {
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: env.bucket }));
    return (listed.Uploads ?? [])
      .map((upload) => upload.Key!)
      .filter((key) => key.startsWith(prefix));
  }

  it('stores a file larger than a part as a multipart upload, parts in parallel', async () => {
    const { vfs, prefix } = home();
    const data = randomBytes(2 * PART + 12345);
    await putFile(vfs, '/big.bin', data, 256 * 1024);
    assert.equal(sha256(await object(`${prefix}big.bin`)), sha256(data));
    const head = await client.send(
      new GetObjectCommand({ Bucket: env.bucket, Key: `${prefix}big.bin`, Range: 'bytes=0-0' }),
    );
    assert.match(head.ETag ?? '', /-3"?$/, 'three parts');
    await head.Body?.transformToByteArray();
    assert.deepEqual(await openUploads(prefix), []);
  });

  it('holds at most (concurrency + 2) parts in memory whatever the file size', async () => {
    const { vfs, prefix } = home();
    const piece = randomBytes(256 * 1024);
    const total = 24 * PART;
    const file = await vfs.open('/bounded.bin', CREATE);
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let offset = 0; offset < total; offset += piece.length) {
      await file.write(piece, offset);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    }
    await file.close();
    // Two in flight, one filling, one of writes ahead; the SDK and sockets add a little.
    const bound = (2 + 2) * PART + 8 * MiB;
    assert.ok(peak < bound, `peak ${(peak / MiB).toFixed(1)} MiB within ${bound / MiB} MiB`);
    assert.equal((await vfs.stat('/bounded.bin')).size, total);
    assert.deepEqual(await keys(prefix), [`${prefix}bounded.bin`]);
  });

  it('takes writes ahead of their turn within a part, and never writes at a wrong offset', async () => {
    const { vfs, prefix } = home();
    const data = randomBytes(300_000);
    const file = await vfs.open('/ahead.bin', CREATE);
    await file.write(data.subarray(100_000, 200_000), 100_000);
    await file.write(data.subarray(200_000), 200_000);
    await file.write(data.subarray(0, 100_000), 0);
    await file.close();
    assert.equal(sha256(await object(`${prefix}ahead.bin`)), sha256(data));

    const rewrite = await vfs.open('/ahead.bin', CREATE);
    await rewrite.write(Buffer.from('new start'), 0);
    await assert.rejects(
      rewrite.write(Buffer.from('again'), 0),
      rejectsWith(ErrorCode.UNSUPPORTED),
    );
    await assert.rejects(rewrite.write(Buffer.from('more'), 9), rejectsWith(ErrorCode.UNSUPPORTED));
    await assert.rejects(rewrite.close(), rejectsWith(ErrorCode.UNSUPPORTED));
    assert.equal(sha256(await object(`${prefix}ahead.bin`)), sha256(data), 'the old object stays');

    const far = await vfs.open('/far.bin', CREATE);
    await assert.rejects(far.write(Buffer.alloc(10), PART + 1), rejectsWith(ErrorCode.UNSUPPORTED));
    await far.abort();
    const gap = await vfs.open('/gap.bin', CREATE);
    await gap.write(Buffer.alloc(10), 100);
    await assert.rejects(gap.close(), rejectsWith(ErrorCode.FAILURE));
    assert.deepEqual(await keys(prefix), [`${prefix}ahead.bin`]);
    assert.deepEqual(await openUploads(prefix), []);
  });

  it('leaves neither an object nor stored parts when an upload is aborted mid-way', async () => {
    const { vfs, prefix } = home();
    const file = await vfs.open('/cut.bin', CREATE);
    const piece = randomBytes(MiB);
    for (let offset = 0; offset < 3 * PART; offset += piece.length) await file.write(piece, offset);
    assert.deepEqual(await openUploads(prefix), [`${prefix}cut.bin`], 'the upload had started');
    await file.abort();
    assert.deepEqual(await openUploads(prefix), []);
    assert.deepEqual(await keys(prefix), []);
  });

  it('refuses to change objects in place, and attributes S3 does not keep', async () => {
    const { vfs } = home();
    await putFile(vfs, '/kept.txt', Buffer.from('kept'));
    const refusals = [
      () => vfs.open('/kept.txt', flags({ write: true })),
      () => vfs.open('/kept.txt', flags({ write: true, append: true })),
      () => vfs.open('/kept.txt', flags({ read: true, write: true, truncate: true })),
      () => vfs.setstat('/kept.txt', { size: 2 }),
      () => vfs.setstat('/kept.txt', { uid: 1 }),
      () => vfs.symlink('/l', '/kept.txt'),
      () => vfs.link('/kept.txt', '/h'),
      () => vfs.readlink('/kept.txt'),
    ];
    for (const refusal of refusals) {
      await assert.rejects(refusal(), rejectsWith(ErrorCode.UNSUPPORTED));
    }
    assert.equal((await getFile(vfs, '/kept.txt')).toString(), 'kept');
    const empty = await vfs.open('/empty.txt', flags({ write: true, create: true, append: true }));
    await empty.write(Buffer.from('appended to nothing'), 0);
    await empty.close();
    assert.equal((await getFile(vfs, '/empty.txt')).toString(), 'appended to nothing');
  });

  it('reads any range, streams with read-ahead, and fails a read of a replaced object', async () => {
    const { vfs, prefix } = home();
    const data = randomBytes(3 * PART + 777);
    await client.send(
      new PutObjectCommand({ Bucket: env.bucket, Key: `${prefix}r.bin`, Body: data }),
    );
    const file = await vfs.open('/r.bin', READ);
    for (let i = 0; i < 40; i++) {
      const position = Math.floor(Math.random() * data.length);
      const length = 1 + Math.floor(Math.random() * 300_000);
      const piece = await file.read(length, position);
      assert.deepEqual(piece, data.subarray(position, position + length), `at ${position}`);
    }
    // Reads issued together, as the SFTP engine runs a batch.
    const batch = await Promise.all(
      Array.from({ length: 32 }, (_, i) => file.read(256 * 1024, PART - 1000 + i * 256 * 1024)),
    );
    assert.deepEqual(
      Buffer.concat(batch),
      data.subarray(PART - 1000, PART - 1000 + 32 * 256 * 1024),
    );
    assert.equal(sha256(await readAll(file, 256 * 1024)), sha256(data));
    await client.send(
      new PutObjectCommand({ Bucket: env.bucket, Key: `${prefix}r.bin`, Body: randomBytes(10) }),
    );
    // Far from what read-ahead holds: a GET that names the ETag seen at open.
    await assert.rejects(file.read(100, 10), rejectsWith(ErrorCode.FAILURE));
    await file.close();
  });

  it('renames objects above the single-copy limit part by part', async () => {
    const { vfs, prefix } = home({ singleCopyLimit: PART, copyPartSize: PART });
    const data = randomBytes(2 * PART + 99);
    await putFile(vfs, '/large.bin', data, MiB);
    await vfs.rename('/large.bin', '/renamed.bin', { overwrite: false });
    assert.equal(sha256(await object(`${prefix}renamed.bin`)), sha256(data));
    assert.deepEqual(await keys(prefix), [`${prefix}renamed.bin`]);
    assert.deepEqual(await openUploads(prefix), []);
  });

  it('refuses to rename a tree over the object limit and moves nothing', async () => {
    const { vfs, prefix } = home({ maxRenameObjects: 3 });
    await vfs.mkdir('/t');
    for (const name of ['a', 'b', 'c', 'd']) await putFile(vfs, `/t/${name}`, Buffer.from(name));
    const before = await keys(prefix);
    await assert.rejects(
      vfs.rename('/t', '/u', { overwrite: false }),
      rejectsWith(ErrorCode.FAILURE),
    );
    assert.deepEqual(await keys(prefix), before);
  });

  it('sees directories made by other S3 clients, and keeps a directory its last entry left', async () => {
    const { vfs, prefix } = home();
    for (const key of ['x/y/z.txt', 'same', 'same/inner.txt']) {
      await client.send(
        new PutObjectCommand({ Bucket: env.bucket, Key: `${prefix}${key}`, Body: 'v' }),
      );
    }
    await client.send(
      new PutObjectCommand({ Bucket: env.bucket, Key: 'outside/secret.txt', Body: 's' }),
    );
    assert.ok(isDirectory(await vfs.stat('/x')));
    assert.ok(isDirectory(await vfs.stat('/x/y')));
    const dir = await vfs.opendir('/');
    const names = ((await dir.next(100)) ?? []).map((entry) => entry.name).sort();
    assert.deepEqual(names, ['same', 'x'], 'a file and a prefix of one name show once');
    await vfs.remove('/x/y/z.txt');
    assert.ok(isDirectory(await vfs.stat('/x/y')), 'the emptied directory stays');
    assert.ok((await keys(prefix)).includes(`${prefix}x/y/`));
    // What a client sends is made a virtual path first: ".." stops at the home.
    const escape = toVirtualPath('/../../outside/secret.txt');
    await assert.rejects(vfs.stat(escape), rejectsWith(ErrorCode.NO_SUCH_FILE));
  });

  it('sweeps abandoned uploads under S3 homes only, and only old ones', async () => {
    const inside = `sweep-${homes}/file.bin`;
    await client.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: inside }));
    await client.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: 'other/x' }));
    const user = {
      username: 'sweeper',
      filesystem: { provider: 1, s3config: s3config(`sweep-${homes}/`) },
    } as unknown as User;
    const options = {
      users: [user, user],
      openSecret: (value: string) => Promise.resolve(value),
      onError: (_home: unknown, err: unknown) => assert.fail(String(err)),
    };
    const young = await sweepAbandonedUploads({ ...options, olderThanMs: 3_600_000 });
    assert.deepEqual(young, { homes: 1, aborted: 0 });
    const old = await sweepAbandonedUploads({
      ...options,
      olderThanMs: 0,
      now: Date.now() + 60_000,
    });
    assert.deepEqual(old, { homes: 1, aborted: 1 });
    assert.deepEqual(await openUploads(`sweep-${homes}/`), []);
    assert.deepEqual(await openUploads('other/'), ['other/x'], 'outside every home: kept');
  });
});
