/**
 * The process-wide bound of pending bytes (decision 0030) against the real OpenSSH sftp: with
 * `max_pending_bytes` at its minimum, several uploads and a download at once all finish, none
 * waits for ever on a connection another session's bound stopped, and every file arrives whole.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sftpBatch, sha256File, type ClientAuth } from './harness.js';
import { startCommandsFixture, type CommandsFixture } from './commands-fixture.js';

const MIB = 1024 * 1024;
const UPLOADS = 6;
const SIZE = 6 * MIB;

describe('pending bytes shared by the sessions of a process', { timeout: 180_000 }, () => {
  let fx: CommandsFixture;
  let auth: ClientAuth;
  let sum: string;

  before(async () => {
    fx = await startCommandsFixture({
      enabled: 'scp',
      // The minimum: 1 MiB for one session and for all the sessions of the process.
      env: { KUBESFTP_SFTPD__MAX_PENDING_BYTES: String(MIB) },
    });
    auth = { username: fx.username, keyPath: fx.keyPath };
    await writeFile(join(fx.work, 'source.bin'), randomBytes(SIZE));
    await writeFile(join(fx.home, 'served.bin'), randomBytes(SIZE));
    await fx.own(join(fx.home, 'served.bin'));
    sum = await sha256File(join(fx.work, 'source.bin'));
  });
  after(() => fx?.stop());

  test('uploads and a download at once all complete with their contents intact', async () => {
    const run = (commands: string[]) =>
      sftpBatch(fx.server.sftpPort, auth, commands, { cwd: fx.work, timeoutMs: 120_000 });
    const uploads = Array.from({ length: UPLOADS }, (_, index) =>
      run([`put source.bin up-${index}.bin`]),
    );
    const download = run(['get served.bin fetched.bin']);
    for (const [index, result] of (await Promise.all(uploads)).entries()) {
      assert.equal(result.code, 0, `upload ${index}: ${result.stderr}`);
      assert.equal(await sha256File(join(fx.home, `up-${index}.bin`)), sum, `upload ${index}`);
    }
    const fetched = await download;
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(
      await sha256File(join(fx.work, 'fetched.bin')),
      await sha256File(join(fx.home, 'served.bin')),
    );
  });
});
