/**
 * A file over 5 GiB in an S3 home with the real OpenSSH client: put and get with sha256 on
 * both sides (hashed as streams), the server's memory held to its bound during both, and a
 * rename of the object, which S3 can only do part by part (UploadPartCopy): CopyObject stops
 * at 5 GiB.
 *
 * It moves about 20 GiB through disk and MinIO and takes minutes, so `make test` reports it
 * skipped with that reason; `make test-large` (KUBESFTP_TEST_LARGE=1) runs it.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256File, writeRandomFile } from '../load/files.js';
import { sftpBatch } from './harness.js';
import { memory, resetPeak } from './process-stats.js';
import { MiB, startS3Fixture, type S3Fixture } from './s3-fixture.js';

const GiB = 1024 * MiB;
const runs = process.env.KUBESFTP_TEST_LARGE === '1';
const skip = runs
  ? false
  : 'moves a 5 GiB file (about 20 GiB of disk and several minutes): run `make test-large`';
/** Just over the 5 GiB CopyObject limit, so the rename must copy part by part. */
const SIZE = 5 * GiB + 3 * MiB;
/** The server's copy part size: the renamed object's ETag counts these parts. */
const COPY_PART = 512 * MiB;
/**
 * Growth allowed over the RSS before a transfer. The default tuning holds at most 48 MiB for
 * an upload (8 MiB parts, 4 in flight, + 2) and 32 MiB for a download (8 MiB parts, 3 ahead,
 * + 1); the rest is room for the SSH and SFTP buffers and the SDK, far below the file's size.
 */
const RSS_GROWTH_BOUND = 160 * MiB;

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

describe('a file over 5 GiB in an S3 home', { timeout: 1_800_000, skip }, () => {
  let fx: S3Fixture;

  before(async () => {
    fx = await startS3Fixture();
  });
  after(() => fx?.stop());

  test('put, get and rename of 5 GiB + 3 MiB: sha256 on both sides, RSS bounded, rename by UploadPartCopy', async () => {
    const auth = await fx.addS3User('huge', {
      s3config: { upload_part_size: 0, upload_concurrency: 0 },
    });
    const pid = fx.server.process.pid!;
    const source = join(fx.work, 'huge.bin');
    const back = join(fx.work, 'huge-back.bin');
    try {
      let started = Date.now();
      const want = await writeRandomFile(source, SIZE);
      console.log(`5 GiB source written and hashed in ${seconds(started)} s`);

      // A first transfer loads the S3 code and warms the SDK, so it does not count as growth.
      const warm = await sftpBatch(fx.server.sftpPort, auth, ['ls'], { cwd: fx.work });
      assert.equal(warm.code, 0, warm.stderr);
      /** Runs one sftp command, timing it and holding the server's RSS growth to the bound. */
      const bounded = async (command: string): Promise<void> => {
        await resetPeak(pid);
        const before = await memory(pid);
        const began = Date.now();
        const result = await sftpBatch(fx.server.sftpPort, auth, [command], {
          cwd: fx.work,
          timeoutMs: 900_000,
        });
        assert.equal(result.code, 0, result.stderr);
        const growth = ((await memory(pid)).peak - before.rss) / MiB;
        console.log(`${command}: ${seconds(began)} s, RSS growth ${growth.toFixed(0)} MiB`);
        assert.ok(growth * MiB < RSS_GROWTH_BOUND, `RSS grew by ${growth.toFixed(0)} MiB`);
      };

      await bounded('put huge.bin');
      assert.equal((await fx.head('huge/huge.bin')).size, SIZE);
      assert.equal(await fx.objectSha256('huge/huge.bin'), want, 'the object (SDK read)');
      assert.deepEqual(await fx.openUploads('huge/'), []);

      await bounded(`get huge.bin ${back}`);
      assert.equal(await sha256File(back), want, 'the downloaded file');
      await rm(back, { force: true });

      started = Date.now();
      const renamed = await sftpBatch(fx.server.sftpPort, auth, ['rename huge.bin moved.bin'], {
        cwd: fx.work,
        timeoutMs: 900_000,
      });
      assert.equal(renamed.code, 0, renamed.stderr);
      console.log(`rename: ${seconds(started)} s`);
      assert.deepEqual(await fx.keys('huge/'), ['huge/moved.bin'], 'the old key is gone');
      const moved = await fx.head('huge/moved.bin');
      assert.equal(moved.size, SIZE);
      // A multipart ETag ends in "-<parts>": the copy went part by part, not by CopyObject.
      assert.equal(
        moved.etag.replaceAll('"', '').split('-')[1],
        String(Math.ceil(SIZE / COPY_PART)),
      );
      assert.equal(await fx.objectSha256('huge/moved.bin'), want, 'the renamed object');
      assert.deepEqual(await fx.openUploads('huge/'), [], 'no copy left open');
    } finally {
      await rm(source, { force: true });
      await rm(back, { force: true });
    }
  });
});
