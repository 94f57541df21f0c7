/**
 * The benchmark's own machinery against the real OpenSSH baseline, at a small size: the sshd it
 * generates accepts the key, and each scenario moves the right bytes and reports figures.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeKeyPair } from '../integration/harness.js';
import type { BenchServer } from './client.js';
import { writeTestData } from './test-data.js';
import { holdSessions, idleRssMiB, totalPssKiB } from './idle.js';
import { startOpenSsh } from './openssh.js';
import { processTree } from './rss.js';
import {
  bigFileName,
  downloadBig,
  downloadSmall,
  listSmall,
  loginOnce,
  smallDirName,
  uploadBig,
  uploadSmall,
  type BenchData,
} from './scenarios.js';

async function whyOpenSshCannotRun(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return 'sshd needs root here (it creates /run/sshd and logs in the current user)';
  try {
    await access('/usr/sbin/sshd', constants.X_OK);
    return undefined;
  } catch {
    return '/usr/sbin/sshd is not installed (make system-deps installs it)';
  }
}

const skipReason = await whyOpenSshCannotRun();
if (skipReason !== undefined) console.log(`skipping the OpenSSH baseline test: ${skipReason}`);

describe('benchmark scenarios against OpenSSH sshd', { skip: skipReason, timeout: 120_000 }, () => {
  let work: string;
  let server: BenchServer;
  let data: BenchData;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubesftp-bench-test-'));
    let publicKey: string;
    ({ data, publicKey } = await writeTestData(work, {
      bigBytes: 3 * 1024 * 1024 + 17,
      smallCount: 25,
    }));
    server = await startOpenSsh({ workDir: work, publicKey });
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('a public-key login takes a measurable time', async () => {
    const ms = await loginOnce({ data, server });
    assert.ok(ms > 1 && ms < 60_000, `${ms} ms`);
  });

  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
    test(`upload and download with ${cipher} arrive intact and sample the serving processes`, async () => {
      const upload = await uploadBig({ data, server, cipher, verify: true, sampleMemory: true });
      assert.ok(upload.elapsedMs >= 0);
      assert.ok(
        upload.rssSamplesKiB.some((kib) => kib > 1024),
        `no sample saw a serving process: ${upload.rssSamplesKiB.join(',')}`,
      );
      assert.ok((await downloadBig({ data, server, cipher, verify: true })) >= 0);
    });
  }

  test('a corrupted server copy is caught by the download check', async () => {
    const upload = await uploadBig({ data, server });
    assert.deepEqual(upload.rssSamplesKiB, [], 'a timed upload reads no memory figures');
    const copy = join(server.homeDir, bigFileName);
    const bytes = await readFile(copy);
    bytes[1000] = bytes[1000]! ^ 0xff;
    await writeFile(copy, bytes);
    await assert.rejects(downloadBig({ data, server, verify: true }), /does not match the source/);
  });

  test('put -r and get -r of the small files arrive intact and ls -l lists each one', async () => {
    // Durations only need to be measured: a few tiny files can take under a millisecond.
    assert.ok((await uploadSmall({ data, server, verify: true })) >= 0);
    assert.ok((await downloadSmall({ data, server, verify: true })) >= 0);
    assert.ok((await listSmall({ data, server })) >= 0);
    const copy = join(server.homeDir, smallDirName, 'f00003.bin');
    await writeFile(copy, 'not what was uploaded');
    await assert.rejects(downloadSmall({ data, server, verify: true }), /does not match/);
    await rm(join(server.homeDir, smallDirName, 'f00007.bin'));
    await assert.rejects(listSmall({ data, server }), /did not list f00007\.bin/);
  });

  test('idle sessions are held authenticated, each adding memory to sshd, and closed again', async () => {
    assert.ok((await idleRssMiB(server.mainPid, 2, 50)) > 1, 'the listener has some memory');
    const tree = (): Promise<number[]> => processTree(server.mainPid, true);
    const before = await tree();
    const held = await holdSessions({ server, keyPath: data.keyPath, count: 3, concurrency: 2 });
    try {
      assert.equal(held.count, 3);
      // sshd forks a process (or two) per connection: the tree grows and so does its PSS.
      const during = await tree();
      assert.ok(
        during.length >= before.length + 3,
        `${before.length} -> ${during.length} processes`,
      );
      assert.ok((await totalPssKiB(during)) > (await totalPssKiB(before)));
    } finally {
      await held.close();
    }
  });

  test('a session that cannot log in fails the hold, naming why', async () => {
    const otherDir = join(work, 'other-key');
    await mkdir(otherDir);
    const other = await makeKeyPair(otherDir, 'ed25519');
    await assert.rejects(
      holdSessions({ server, keyPath: other.privatePath, count: 2, timeoutMs: 20_000 }),
      /authentication/i,
    );
  });
});
