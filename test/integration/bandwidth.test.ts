/**
 * The account's upload_bandwidth and download_bandwidth against the real OpenSSH sftp and
 * `scp -O`: a limited user's transfers take at least the time the rate allows (lower bounds
 * only, with slack: a loaded machine only makes them slower), an unlimited user on the same
 * server is not held back, content arrives intact, and an exec connection is listed as SCP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  makeKeyPair,
  scp,
  sftpBatch,
  sha256File,
  type ClientAuth,
  type ClientResult,
} from './harness.js';
import {
  ACCOUNT_ID,
  runningAsRoot,
  startCommandsFixture,
  type CommandsFixture,
} from './commands-fixture.js';

const KBPS = 512;
const RATE = KBPS * 1024;
const SIZE = 2 * 1024 * 1024;
/** What the rate allows for SIZE bytes (4 s), less the limiter's 100 ms burst and slack. */
const MIN_DOWNLOAD_MS = (SIZE / RATE) * 1000 - 500;
/** An upload of half the size: at least about 2 s. */
const MIN_UPLOAD_MS = (SIZE / 2 / RATE) * 1000 - 500;

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

interface ConnectionInfo {
  connection_id: string;
  username: string;
  protocol: string;
}

describe('per-user bandwidth', { timeout: 180_000 }, () => {
  let fx: CommandsFixture;
  let limited: ClientAuth;
  let unlimited: ClientAuth;
  let sum: string;

  before(async () => {
    fx = await startCommandsFixture({
      enabled: 'scp',
      user: { download_bandwidth: KBPS, upload_bandwidth: KBPS },
    });
    limited = { username: fx.username, keyPath: fx.keyPath };
    await writeFile(join(fx.home, 'big.bin'), randomBytes(SIZE));
    await writeFile(join(fx.work, 'half.bin'), randomBytes(SIZE / 2));
    await fx.own(join(fx.home, 'big.bin'));
    sum = await sha256File(join(fx.home, 'big.bin'));
    const freeHome = join(fx.work, 'free-home');
    await mkdir(freeHome);
    await copyFile(join(fx.home, 'big.bin'), join(freeHome, 'big.bin'));
    await fx.own(freeHome);
    const key = await makeKeyPair(await mkdirIn(fx.work, 'free-key'), 'ed25519');
    const created = await fx.server.api('POST', '/api/v1/user', {
      username: 'free',
      public_keys: [key.publicKey],
      home_dir: freeHome,
      permissions: { '/': ['*'] },
      status: 1,
      ...(runningAsRoot ? { uid: ACCOUNT_ID, gid: ACCOUNT_ID } : {}),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    unlimited = { username: 'free', keyPath: key.privatePath };
  });

  after(() => fx?.stop());

  const sftpGet = (auth: ClientAuth, target: string): Promise<ClientResult> =>
    sftpBatch(fx.server.sftpPort, auth, [`get big.bin ${target}`], { cwd: fx.work });

  /** The protocols the REST API lists for the limited user's connections while `run` runs. */
  async function listedDuring<T>(run: () => Promise<T>): Promise<{ result: T; seen: string[] }> {
    // The previous test's client has exited, but the server may take a moment to see its
    // connection close; it must go promptly, and must not count as this run's.
    const gone = Date.now() + 5_000;
    const stillListed = async (): Promise<boolean> => {
      const listed = await fx.server.api('GET', '/api/v1/connection');
      return (listed.body as unknown as ConnectionInfo[]).some((c) => c.username === fx.username);
    };
    while (await stillListed()) {
      assert.ok(
        Date.now() < gone,
        'an earlier connection is still listed 5 s after its client exited',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The protocol each connection was last listed with: a connection is listed from its login,
    // before its exec request tells SCP from SFTP, and a poll may fall in between.
    const lastSeen = new Map<string, string>();
    let running = true;
    const watching = (async (): Promise<void> => {
      while (running) {
        const listed = await fx.server.api('GET', '/api/v1/connection');
        for (const c of listed.body as unknown as ConnectionInfo[]) {
          if (c.username === fx.username) lastSeen.set(c.connection_id, c.protocol);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      return { result: await run(), seen: [...new Set(lastSeen.values())] };
    } finally {
      running = false;
      await watching;
    }
  }

  /** A limited download: slow enough, intact, and listed under `protocol` while it runs. */
  async function checkDownload(
    protocol: string,
    target: string,
    download: () => Promise<ClientResult>,
  ): Promise<void> {
    const { result, seen } = await listedDuring(() => timed(download));
    assert.equal(result.result.code, 0, result.result.stderr);
    assert.equal(await sha256File(join(fx.work, target)), sum);
    const ms = Math.round(result.ms);
    assert.ok(ms >= MIN_DOWNLOAD_MS, `2 MiB at ${KBPS} KB/s arrived in ${ms} ms`);
    assert.deepEqual(seen, [protocol]);
  }

  test('an sftp download takes at least what download_bandwidth allows', () =>
    checkDownload('SFTP', 'sftp-got.bin', () => sftpGet(limited, 'sftp-got.bin')));

  test('an scp -O download is throttled too, and its connection is listed as SCP', () =>
    checkDownload('SCP', 'scp-got.bin', () =>
      scp(fx.server.sftpPort, limited, ['-O', `${fx.username}@127.0.0.1:big.bin`, 'scp-got.bin'], {
        cwd: fx.work,
      }),
    ));

  test('an unlimited user on the same server is not held back by the limited one', async () => {
    const started = performance.now();
    const finished: string[] = [];
    const [slow, fast] = await Promise.all([
      sftpGet(limited, 'slow.bin').then((r) => (finished.push('limited'), r)),
      sftpGet(unlimited, 'fast.bin').then((r) => (finished.push('unlimited'), r)),
    ]);
    assert.equal(slow.code, 0, slow.stderr);
    assert.equal(fast.code, 0, fast.stderr);
    assert.equal(await sha256File(join(fx.work, 'slow.bin')), sum);
    assert.equal(await sha256File(join(fx.work, 'fast.bin')), sum);
    assert.ok(performance.now() - started >= MIN_DOWNLOAD_MS);
    // Started together, the same file: the unlimited download ends first.
    assert.deepEqual(finished, ['unlimited', 'limited']);
  });

  test('uploads over sftp and scp -O take at least what upload_bandwidth allows', async () => {
    const local = await sha256File(join(fx.work, 'half.bin'));
    const put = await timed(() =>
      sftpBatch(fx.server.sftpPort, limited, ['put half.bin put.bin'], { cwd: fx.work }),
    );
    assert.equal(put.result.code, 0, put.result.stderr);
    assert.equal(await sha256File(join(fx.home, 'put.bin')), local);
    assert.ok(put.ms >= MIN_UPLOAD_MS, `sftp: 1 MiB in ${Math.round(put.ms)} ms`);
    const copied = await timed(() =>
      scp(fx.server.sftpPort, limited, ['-O', 'half.bin', `${fx.username}@127.0.0.1:scp.bin`], {
        cwd: fx.work,
      }),
    );
    assert.equal(copied.result.code, 0, copied.result.stderr);
    assert.equal(await sha256File(join(fx.home, 'scp.bin')), local);
    assert.ok(copied.ms >= MIN_UPLOAD_MS, `scp: 1 MiB in ${Math.round(copied.ms)} ms`);
  });
});

async function mkdirIn(parent: string, name: string): Promise<string> {
  const path = join(parent, name);
  await mkdir(path);
  return path;
}
