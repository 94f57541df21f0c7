/**
 * `sftpd.workers` = 2: one real `kubesftp serve` whose primary accepts and hands connections
 * to two worker processes, driven with the real OpenSSH client. Files go both ways intact,
 * connections land on both workers, max_sessions holds across them, a SIGKILLed worker is
 * replaced and its session row freed at once, and SIGTERM lets a transfer on each worker end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  holdSession,
  makeKeyPair,
  serveInvocation,
  sftpBatch,
  sha256File,
  startServer,
  waitFor,
  type HeldSession,
  type RunningServer,
} from './harness.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The worker slot each user's logins were served by, from the workers' log lines. */
function loginSlots(server: RunningServer, username: string): number[] {
  return server.logLines
    .filter((l) => l.message === 'user logged in' && l.username === username)
    .map((l) => l.worker as number);
}

/** The pid of the newest worker of each slot, from their "ready" lines. */
function workerPids(server: RunningServer): Map<number, number> {
  const pids = new Map<number, number>();
  for (const line of server.logLines) {
    if (line.message === 'sftp worker ready') pids.set(line.worker as number, line.pid as number);
  }
  return pids;
}

interface Fixture {
  server: RunningServer;
  work: string;
  keyPath: string;
  addUser(username: string, extra?: Record<string, unknown>): Promise<string>;
}

async function startWithWorkers(work: string, env: Record<string, string>): Promise<Fixture> {
  await mkdir(work, { recursive: true });
  const server = await startServer({ KUBESFTP_SFTPD__WORKERS: '2', ...env });
  await waitFor('two workers ready', () => workerPids(server).size === 2);
  const key = await makeKeyPair(work, 'ed25519');
  return {
    server,
    work,
    keyPath: key.privatePath,
    async addUser(username, extra = {}) {
      const home = join(work, 'homes', username);
      await mkdir(home, { recursive: true });
      const res = await server.api('POST', '/api/v1/user', {
        username,
        public_keys: [key.publicKey],
        home_dir: home,
        permissions: { '/': ['*'] },
        status: 1,
        ...extra,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return home;
    },
  };
}

async function listed(server: RunningServer, username: string): Promise<string[]> {
  const { body } = await server.api('GET', '/api/v1/connection');
  return (body as unknown as Array<{ username: string; connection_id: string }>)
    .filter((c) => c.username === username)
    .map((c) => c.connection_id);
}

describe('sftpd.workers = 2 on one port', { timeout: 240_000 }, () => {
  let root: string;
  let f: Fixture;
  const held: HeldSession[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kubesftp-workers-'));
    // A long session_expiry: a row freed within seconds was freed by the primary, not the ttl.
    f = await startWithWorkers(join(root, 'a'), { KUBESFTP_DATA_PROVIDER__SESSION_EXPIRY: '600' });
  });
  after(async () => {
    for (const h of held) h.child.kill('SIGKILL');
    await f?.server.stop();
    await rm(root, { recursive: true, force: true });
  });

  function hold(username: string): HeldSession {
    const h = holdSession(f.server.sftpPort, username, f.keyPath);
    held.push(h);
    return h;
  }

  it('serves logins on both workers, lists and closes their connections, and moves files intact', async () => {
    const home = await f.addUser('ann');
    hold('ann');
    hold('ann');
    await waitFor('two sessions listed', async () => (await listed(f.server, 'ann')).length === 2);
    assert.deepEqual(new Set(loginSlots(f.server, 'ann')), new Set([0, 1]), 'one per worker');
    const metrics = await (await fetch(`http://127.0.0.1:${f.server.httpPort}/metrics`)).text();
    assert.match(metrics, /^kubesftp_sessions 2$/m, "the primary's gauge counts the workers'");
    assert.equal((await fetch(`http://127.0.0.1:${f.server.httpPort}/healthz`)).status, 200);

    const data = randomBytes(6 * MiB);
    await writeFile(join(f.work, 'up.bin'), data);
    const res = await sftpBatch(
      f.server.sftpPort,
      { username: 'ann', keyPath: f.keyPath },
      ['put up.bin stored.bin', 'get stored.bin back.bin'],
      { cwd: f.work },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await sha256File(join(home, 'stored.bin')), sha256(data));
    assert.equal(await sha256File(join(f.work, 'back.bin')), sha256(data));

    const [first] = await listed(f.server, 'ann');
    const closed = await f.server.api('DELETE', `/api/v1/connection/${first!}`);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    await waitFor('one session left', async () => (await listed(f.server, 'ann')).length === 1);
    const missing = await f.server.api('DELETE', '/api/v1/connection/no-such-connection');
    assert.equal(missing.status, 404);
  });

  it('holds max_sessions = 1 across the two workers', async () => {
    // With no connection left, the first login goes to worker 0 and the next to the less busy
    // worker 1: the refusal is decided by another process than the one holding the session.
    for (const h of held.splice(0)) h.child.kill('SIGKILL');
    await waitFor('no session left', async () => (await listed(f.server, 'ann')).length === 0);
    await waitFor('the primary counts no session', async () =>
      /^kubesftp_sessions 0$/m.test(
        await (await fetch(`http://127.0.0.1:${f.server.httpPort}/metrics`)).text(),
      ),
    );
    await f.addUser('bea', { max_sessions: 1 });
    hold('bea');
    await waitFor('bea logged in', async () => (await listed(f.server, 'bea')).length === 1);
    assert.deepEqual(loginSlots(f.server, 'bea'), [0]);
    const second = await sftpBatch(
      f.server.sftpPort,
      { username: 'bea', keyPath: f.keyPath },
      ['pwd'],
      { cwd: f.work },
    );
    assert.notEqual(second.code, 0, 'a second concurrent session must be refused');
    assert.ok(
      f.server.logLines.some(
        (l) =>
          l.sender === 'connection_failed' &&
          l.username === 'bea' &&
          /too many open sessions/.test(String(l.error)),
      ),
      'refused for max_sessions, as logged',
    );
    assert.equal(loginSlots(f.server, 'bea').length, 1);
    const handed = f.server.logLines.filter((l) => l.message === 'connection handed to a worker');
    assert.equal(handed.at(-1)?.worker, 1, 'the refused login was served by worker 1');
  });

  it('replaces a SIGKILLed worker, frees its session rows at once and leaves the other worker alone', async () => {
    await f.addUser('cid', { max_sessions: 1 });
    await f.addUser('dot');
    const cid = hold('cid');
    await waitFor('cid logged in', async () => (await listed(f.server, 'cid')).length === 1);
    const [cidSlot] = loginSlots(f.server, 'cid');
    const otherSlot = cidSlot === 0 ? 1 : 0;
    // Sessions of dot until one is on the other worker (the least busy one gets each).
    let dotOnOther: HeldSession | undefined;
    for (let i = 0; i < 3 && dotOnOther === undefined; i++) {
      const h = hold('dot');
      await waitFor(`dot session ${i + 1}`, () => loginSlots(f.server, 'dot').length === i + 1);
      if (loginSlots(f.server, 'dot')[i] === otherSlot) dotOnOther = h;
    }
    assert.ok(dotOnOther, 'a session of dot on the other worker');
    const victim = workerPids(f.server).get(cidSlot!)!;

    process.kill(victim, 'SIGKILL');
    const killedAt = Date.now();
    await cid.exited;
    await waitFor('slot replaced', () => {
      const pid = workerPids(f.server).get(cidSlot!);
      return pid !== undefined && pid !== victim;
    });
    // The row is gone long before session_expiry (600 s): a new single session logs in.
    const again = await sftpBatch(
      f.server.sftpPort,
      { username: 'cid', keyPath: f.keyPath },
      ['pwd'],
      {
        cwd: f.work,
      },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.ok(Date.now() - killedAt < 20_000);
    assert.equal(dotOnOther.child.exitCode, null, "the other worker's session is untouched");
    assert.ok((await listed(f.server, 'dot')).length >= 1);
    assert.ok(
      f.server.logLines.some(
        (l) => l.message === 'worker died: its connections are lost; replacing it',
      ),
    );
  });
});

/** The value of one series in a Prometheus text exposition, undefined when it is absent. */
function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('sftpd.workers = 2 in /metrics', { timeout: 180_000 }, () => {
  let root: string;
  let f: Fixture;
  const scrape = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${f.server.httpPort}/metrics`);
    assert.equal(res.status, 200);
    return res.text();
  };
  const uploads = 'kubesftp_transfer_bytes_total{direction="upload",protocol="SFTP"}';
  const uploadCount = 'kubesftp_transfers_total{direction="upload",protocol="SFTP"}';

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kubesftp-workers-metrics-'));
    f = await startWithWorkers(join(root, 'm'), {});
  });
  after(async () => {
    await f?.server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("sums both workers' transfers, labels process figures, and carries a killed worker's totals", async () => {
    const home = await f.addUser('max');
    const sizes = [3 * MiB + 17, 5 * MiB + 4096];
    const files = sizes.map((size) => randomBytes(size));
    await Promise.all(files.map((data, i) => writeFile(join(f.work, `up${i}.bin`), data)));
    // Started together, the first connection goes to worker 0 and the second to worker 1.
    const puts = await Promise.all(
      files.map((_, i) =>
        sftpBatch(f.server.sftpPort, { username: 'max', keyPath: f.keyPath }, [`put up${i}.bin`], {
          cwd: f.work,
        }),
      ),
    );
    for (const put of puts) assert.equal(put.code, 0, put.stderr);
    for (const [i, data] of files.entries()) {
      assert.equal(await sha256File(join(home, `up${i}.bin`)), sha256(data));
    }
    assert.deepEqual(new Set(loginSlots(f.server, 'max')), new Set([0, 1]), 'one put per worker');

    const text = await scrape();
    assert.equal(seriesValue(text, uploads), sizes[0]! + sizes[1]!);
    assert.equal(seriesValue(text, uploadCount), 2);
    assert.equal(seriesValue(text, 'kubesftp_workers'), 2);
    assert.equal(seriesValue(text, 'kubesftp_worker_restarts_total'), 0);
    assert.equal(seriesValue(text, 'kubesftp_worker_scrape_errors_total'), 0);
    for (const process of ['primary', 'worker-0', 'worker-1']) {
      const rss = seriesValue(text, `process_resident_memory_bytes{process="${process}"}`);
      assert.ok(rss !== undefined && rss > 0, `resident memory of ${process}`);
    }
    // One TYPE line per metric: the merge made one family of each.
    assert.equal(text.match(/^# TYPE kubesftp_transfer_bytes_total /gm)?.length, 1);

    const victim = workerPids(f.server).get(0)!;
    process.kill(victim, 'SIGKILL');
    await waitFor('slot 0 replaced', async () => {
      const after = await scrape();
      return (
        seriesValue(after, 'kubesftp_workers') === 2 &&
        seriesValue(after, 'kubesftp_worker_restarts_total') === 1
      );
    });
    const afterKill = await scrape();
    assert.equal(
      seriesValue(afterKill, uploads),
      sizes[0]! + sizes[1]!,
      "the killed worker's bytes are still counted",
    );
    assert.equal(seriesValue(afterKill, uploadCount), 2);
  });

  it('answers without a worker that does not reply in time, and counts it', async () => {
    // A scrape that met the killed worker above left it out too: count from here.
    const errors = seriesValue(await scrape(), 'kubesftp_worker_scrape_errors_total')!;
    const stopped = workerPids(f.server).get(1)!;
    process.kill(stopped, 'SIGSTOP');
    try {
      const started = Date.now();
      const text = await scrape();
      assert.ok(Date.now() - started < 10_000, 'the scrape waits for the deadline only');
      assert.equal(seriesValue(text, 'kubesftp_worker_scrape_errors_total'), errors + 1);
      assert.equal(
        seriesValue(text, 'process_resident_memory_bytes{process="worker-1"}'),
        undefined,
      );
      assert.ok(seriesValue(text, 'process_resident_memory_bytes{process="worker-0"}')! > 0);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  });
});

describe('sftpd.workers = 2 behind the connection gate', { timeout: 120_000 }, () => {
  it("counts every worker's connections in max_total_connections", async () => {
    const root = await mkdtemp(join(tmpdir(), 'kubesftp-workers-gate-'));
    const f = await startWithWorkers(join(root, 'g'), {
      KUBESFTP_SFTPD__MAX_TOTAL_CONNECTIONS: '2',
    });
    const held: HeldSession[] = [];
    try {
      await f.addUser('gus');
      held.push(holdSession(f.server.sftpPort, 'gus', f.keyPath));
      held.push(holdSession(f.server.sftpPort, 'gus', f.keyPath));
      await waitFor('two sessions', async () => (await listed(f.server, 'gus')).length === 2);
      assert.deepEqual(new Set(loginSlots(f.server, 'gus')), new Set([0, 1]));
      const third = await sftpBatch(
        f.server.sftpPort,
        { username: 'gus', keyPath: f.keyPath },
        ['pwd'],
        { cwd: f.work },
      );
      assert.notEqual(third.code, 0, 'a third connection is over max_total_connections');
      assert.ok(
        f.server.logLines.some(
          (l) => l.message === 'connection refused' && l.reason === 'max_total_connections',
        ),
      );
      // A connection that closes on a worker leaves the primary's count.
      held.shift()!.child.kill('SIGKILL');
      await waitFor('one session left', async () => (await listed(f.server, 'gus')).length === 1);
      await waitFor('a new connection admitted', async () => {
        const again = await sftpBatch(
          f.server.sftpPort,
          { username: 'gus', keyPath: f.keyPath },
          ['pwd'],
          { cwd: f.work },
        );
        return again.code === 0;
      });
    } finally {
      for (const h of held) h.child.kill('SIGKILL');
      await f.server.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('sftpd.workers = 2 on SIGTERM', { timeout: 120_000 }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kubesftp-workers-drain-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lets a download on each worker finish, then the primary exits 0', async () => {
    const f = await startWithWorkers(join(root, 'd'), {
      KUBESFTP_SFTPD__SHUTDOWN_GRACE_PERIOD: '30',
    });
    try {
      const users = ['eve', 'fay'];
      const data = new Map<string, Buffer>();
      for (const username of users) {
        const home = await f.addUser(username);
        const bytes = randomBytes(12 * MiB);
        data.set(username, bytes);
        await writeFile(join(home, 'slow.bin'), bytes);
      }
      // 24 Mbit/s makes each 12 MiB download last about four seconds.
      const downloads = users.map((username) =>
        sftpBatch(
          f.server.sftpPort,
          { username, keyPath: f.keyPath },
          [`get slow.bin ${username}-back.bin`],
          { cwd: f.work, extraArgs: ['-l', '24000'] },
        ),
      );
      await waitFor('both logged in', async () =>
        (await Promise.all(users.map((u) => listed(f.server, u)))).every((l) => l.length === 1),
      );
      const slots = users.map((u) => loginSlots(f.server, u)[0]);
      assert.deepEqual(new Set(slots), new Set([0, 1]), 'one download per worker');
      const exitCode = f.server.stop('SIGTERM');
      for (const [i, done] of (await Promise.all(downloads)).entries()) {
        assert.equal(done.code, 0, done.stderr);
        const username = users[i]!;
        assert.equal(
          await sha256File(join(f.work, `${username}-back.bin`)),
          sha256(data.get(username)!),
        );
      }
      assert.equal(await exitCode, 0);
    } finally {
      // Stops what an assertion above left running; nothing once the server has exited.
      await f.server.stop();
    }
  });
});

describe('sftpd.workers with the memory driver', { timeout: 30_000 }, () => {
  it('is refused at start with the key and the reason', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'kubesftp-workers-memory-'));
    try {
      const invocation = serveInvocation({
        configDir,
        httpPort: await freePort(),
        adminPassword: 'admin password of the memory server',
        verbose: false,
        env: { KUBESFTP_SFTPD__WORKERS: '2', KUBESFTP_DATA_PROVIDER__DRIVER: 'memory' },
      });
      const child = spawn(process.execPath, invocation.args, {
        env: invocation.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((done) => {
        child.once('exit', done);
        // Started after all, it is stopped so the assertion below fails instead of hanging.
        setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
      });
      assert.equal(code, 1);
      assert.match(
        stderr,
        /kubesftp: sftpd\.workers: 2 worker processes cannot share the memory data provider/,
      );
    } finally {
      await rm(configDir, { recursive: true, force: true });
    }
  });
});
