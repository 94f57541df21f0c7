/**
 * A system binary lives no longer than its exec channel: when the client goes away, and when
 * the server shuts down, the binary (and whatever it forked) is killed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { startCommandsFixture, type CommandsFixture } from './commands-fixture.js';
import { sshOptions } from './harness.js';

/** Pids of running processes whose working directory is `dir`. */
async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readlink(`/proc/${entry}/cwd`)) !== dir) continue;
      const status = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(status)) continue;
      found.push(Number(entry));
    } catch {
      // Gone, or not ours to look at.
    }
  }
  return found;
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('the lifetime of a system binary', { timeout: 120_000 }, () => {
  let fx: CommandsFixture;

  before(async () => {
    fx = await startCommandsFixture({
      enabled: 'rsync',
      env: { KUBESFTP_SFTPD__SHUTDOWN_GRACE_PERIOD: '1' },
    });
  });

  after(() => fx?.stop());

  /** An rsync server that waits forever for a client that says nothing. */
  const startIdleRsync = () =>
    spawn(
      'ssh',
      [
        ...sshOptions(fx.server.sftpPort, { username: fx.username, keyPath: fx.keyPath }, '-p'),
        `${fx.username}@127.0.0.1`,
        'rsync --server --sender -vlogDtpre.iLsfxCIvu . .',
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );

  test('is killed when the client disconnects', async () => {
    const client = startIdleRsync();
    await waitFor(async () => (await processesIn(fx.home)).length > 0, 'rsync to start');
    client.kill('SIGKILL');
    await waitFor(async () => (await processesIn(fx.home)).length === 0, 'rsync to be killed');
  });

  test('is killed when the server shuts down', async () => {
    const client = startIdleRsync();
    await waitFor(async () => (await processesIn(fx.home)).length > 0, 'rsync to start');
    const code = await fx.server.stop('SIGTERM');
    assert.equal(code, 0);
    await waitFor(async () => (await processesIn(fx.home)).length === 0, 'rsync to be killed');
    client.kill('SIGKILL');
  });
});
