/**
 * S3 uploads through `kubesftp serve` with the real OpenSSH client: a client killed mid-upload
 * leaves neither an object nor an open multipart upload, and a 1 GiB upload streams, holding
 * the server's memory to a bound and writing nothing to its local disk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { askpassEnv, sftpBatch, sshOptions } from './harness.js';
import { writeRandomFile } from '../load/files.js';
import { memory, resetPeak, writeBytes } from './process-stats.js';
import { MiB, startS3Fixture, type S3Fixture } from './s3-fixture.js';

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('S3 uploads cut off, and uploads of 1 GiB', { timeout: 600_000 }, () => {
  let fx: S3Fixture;

  before(async () => {
    fx = await startS3Fixture();
  });
  after(() => fx?.stop());

  test('a client killed mid-upload leaves no object, no open multipart upload, no usage', async () => {
    const auth = await fx.addS3User('cut');
    await writeRandomFile(join(fx.work, 'cut.bin'), 48 * MiB);
    const batch = join(fx.work, 'cut.batch');
    await writeFile(batch, 'put cut.bin\n');
    const client = spawn(
      'sftp',
      // -l 32768 kbit/s (4 MiB/s): the 48 MiB upload is still running when the client is killed.
      [...sshOptions(fx.server.sftpPort, auth, '-P'), '-l', '32768', '-b', batch, 'cut@127.0.0.1'],
      // Its own process group: sftp and the ssh it runs die together, the connection just drops.
      { cwd: fx.work, env: await askpassEnv(fx.work, undefined), stdio: 'ignore', detached: true },
    );
    const exited = new Promise((done) => client.once('exit', done));
    try {
      // Killed once parts are stored: the multipart upload exists and must be aborted.
      await until(
        'a multipart upload started',
        async () => {
          return (await fx.openUploads('cut/')).length > 0;
        },
        30_000,
      );
      await sleep(1_500);
    } finally {
      process.kill(-client.pid!, 'SIGKILL');
    }
    await exited;
    await until(
      'the multipart upload aborted',
      async () => {
        return (await fx.openUploads('cut/')).length === 0;
      },
      15_000,
    );
    assert.deepEqual(await fx.keys('cut/'), [], 'no object');
    await until('the usage settled', async () => (await fx.usage('cut')).files === 0, 15_000);
    assert.deepEqual(await fx.usage('cut'), { size: 0, files: 0 });
    const failed = fx.server.logLines.find(
      (l) => l.sender === 'Upload' && l.username === 'cut' && l.size_bytes !== undefined,
    );
    assert.ok(failed, 'the cut upload is logged');
  });

  test('1 GiB streams to S3: RSS growth under 160 MiB, nothing written to local disk', async () => {
    // The default tuning (8 MiB parts, 4 in flight) holds at most 6 parts: 48 MiB. The bound
    // leaves room for the SSH and SFTP buffers and the SDK, and is far below the file's size.
    const auth = await fx.addS3User('big', {
      s3config: { upload_part_size: 0, upload_concurrency: 0 },
    });
    const size = 1024 * MiB;
    const want = await writeRandomFile(join(fx.work, 'big.bin'), size);
    const pid = fx.server.process.pid!;
    // A first transfer loads the S3 code and warms the SDK, so it does not count as growth.
    await writeFile(join(fx.work, 'warm.bin'), randomBytes(MiB));
    assert.equal(
      (await sftpBatch(fx.server.sftpPort, auth, ['put warm.bin'], { cwd: fx.work })).code,
      0,
    );
    // Resets VmHWM, so the peak read afterwards is this upload's.
    await resetPeak(pid);
    const before = { written: await writeBytes(pid), ...(await memory(pid)) };
    const started = Date.now();
    const result = await sftpBatch(fx.server.sftpPort, auth, ['put big.bin'], {
      cwd: fx.work,
      timeoutMs: 300_000,
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, 0, result.stderr);
    const afterUpload = { written: await writeBytes(pid), ...(await memory(pid)) };
    const growth = afterUpload.peak - before.rss;
    const written = afterUpload.written - before.written;
    console.log(
      `1 GiB upload: ${seconds.toFixed(1)} s, RSS ${(before.rss / MiB).toFixed(0)} MiB before, ` +
        `peak ${(afterUpload.peak / MiB).toFixed(0)} MiB (growth ${(growth / MiB).toFixed(0)} MiB), ` +
        `${written} bytes written to disk`,
    );
    assert.ok(growth < 160 * MiB, `RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
    // The data provider's quota updates are the only writes a server makes here.
    assert.ok(written < 4 * MiB, `${written} bytes written to local disk`);
    await assert.rejects(stat(join(fx.work, 'unused-home', 'big')), 'no local home is made');
    assert.equal((await fx.head('big/big.bin')).size, size);
    assert.equal(await fx.objectSha256('big/big.bin'), want);
    assert.deepEqual(await fx.openUploads('big/'), []);
  });
});
