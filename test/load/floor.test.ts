/**
 * The benchmark's floor (floor-server.ts) driven by the real OpenSSH client: it admits the
 * bench key only, and moves the right bytes over either backend, so its figures measure a
 * working transport and engine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeKeyPair } from '../integration/harness.js';
import type { BenchServer } from './client.js';
import { writeTestData } from './test-data.js';
import { startFloor, type FloorBackend } from './floor.js';
import {
  downloadBig,
  downloadSmall,
  listSmall,
  loginOnce,
  smallDirName,
  uploadBig,
  uploadSmall,
  type BenchData,
} from './scenarios.js';

for (const backend of ['local', 'memory'] as const satisfies FloorBackend[]) {
  describe(`the benchmark floor over ${backend}`, { timeout: 120_000 }, () => {
    let work: string;
    let server: BenchServer;
    let data: BenchData;
    let otherKeyPath: string;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'kubesftp-floor-test-'));
      let publicKey: string;
      ({ data, publicKey } = await writeTestData(work, {
        bigBytes: 2 * 1024 * 1024 + 33,
        smallCount: 30,
      }));
      await mkdir(join(work, 'other'));
      otherKeyPath = (await makeKeyPair(join(work, 'other'), 'ed25519')).privatePath;
      server = await startFloor({ workDir: work, publicKey, backend });
    });

    after(async () => {
      await server?.stop();
      await rm(work, { recursive: true, force: true });
    });

    test('admits the bench key and refuses another', async () => {
      assert.ok((await loginOnce({ data, server })) > 0);
      await assert.rejects(loginOnce({ data: { ...data, keyPath: otherKeyPath }, server }));
    });

    test('a large file goes up and comes back intact', async () => {
      await uploadBig({ data, server, verify: true });
      assert.ok((await downloadBig({ data, server, verify: true })) >= 0);
    });

    test('put -r and get -r of the small files arrive intact and ls -l lists each one', async () => {
      assert.ok((await uploadSmall({ data, server, verify: true })) >= 0);
      assert.ok((await downloadSmall({ data, server, verify: true })) >= 0);
      assert.ok((await listSmall({ data, server })) >= 0);
    });

    test(
      backend === 'local' ? 'writes into its home on disk' : 'writes nothing to disk',
      async () => {
        const names = await readdir(server.homeDir);
        if (backend === 'local') assert.ok(names.includes(smallDirName), names.join(','));
        else assert.deepEqual(names, []);
      },
    );

    if (backend === 'memory') {
      test('empties its home before an upload, as the bench removes the files on disk', async () => {
        await listSmall({ data, server });
        await server.clearHome!();
        await assert.rejects(listSmall({ data, server }));
        assert.ok((await uploadSmall({ data, server, verify: true })) >= 0);
        assert.ok((await downloadSmall({ data, server, verify: true })) >= 0);
      });
    }
  });
}
