/**
 * Limits that hold across three real `kubesftp serve` processes on one real database, driven
 * with the real OpenSSH client: max_sessions counted in the provider (the N+1th login refused
 * on another process, a SIGKILLed process's sessions freed within session_expiry), a disabled
 * or deleted user's sessions closed on every process, 2 × 16 sessions uploading as one user
 * stopped at the quota with the usage equal to the bytes on disk, and (PostgreSQL) an outage
 * of the database during transfers.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startMariadb, startPostgres, type MariadbEnv, type PostgresEnv } from '../env/testbed.js';
import {
  adminToken,
  holdSession,
  makeKeyPair,
  sftpBatch,
  startAll,
  startServer,
  waitFor,
  type HeldSession,
  type RunningServer,
} from './harness.js';

const ADMIN_PASSWORD = 'admin password of the three servers';
/** data_provider.session_expiry of the servers, in seconds. */
const EXPIRY_S = 3;
const MiB = 1024 * 1024;
/** The largest WRITE our server's limits@openssh.com reply lets a client send. */
const MAX_WRITE = 255 * 1024;

interface Fixture {
  driver: 'postgresql' | 'mysql';
  start(): Promise<PostgresEnv | MariadbEnv>;
}

const fixtures: Fixture[] = [
  { driver: 'postgresql', start: () => startPostgres() },
  { driver: 'mysql', start: () => startMariadb() },
];

async function exitsWithin(held: HeldSession, ms: number): Promise<number | undefined> {
  return Promise.race([held.exited, sleep(ms).then(() => undefined)]);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

for (const fixture of fixtures) {
  describe(
    `limits across three kubesftp servers on one ${fixture.driver}`,
    { timeout: 300_000 },
    () => {
      let db: PostgresEnv | MariadbEnv;
      let env: Record<string, string>;
      const servers: RunningServer[] = [];
      const tokens: string[] = [];
      const held: HeldSession[] = [];
      let work: string;
      let homes: string;
      let key: { privatePath: string; publicKey: string };

      async function api(i: number, method: string, path: string, body?: unknown) {
        const res = await fetch(`http://127.0.0.1:${servers[i]!.httpPort}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${tokens[i]!}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
      }

      async function addUser(username: string, extra: Record<string, unknown> = {}) {
        const created = await api(0, 'POST', '/api/v1/user', {
          username,
          public_keys: [key.publicKey],
          home_dir: join(homes, username),
          permissions: { '/': ['*'] },
          ...extra,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return created.body as { id: number };
      }

      async function userRow(username: string) {
        const { body } = await api(1, 'GET', `/api/v1/user?username=${username}`);
        return (body as Array<{ used_quota_size: number; used_quota_files: number }>)[0]!;
      }

      /** Connections of `username` that server `i` lists as logged in. */
      async function loggedIn(i: number, username: string): Promise<number> {
        const { body } = await api(i, 'GET', '/api/v1/connection');
        return (body as Array<{ username: string }>).filter((c) => c.username === username).length;
      }

      async function hold(i: number, username: string): Promise<HeldSession> {
        const before = await loggedIn(i, username);
        const session = holdSession(servers[i]!.sftpPort, username, key.privatePath);
        held.push(session);
        await waitFor(
          `${username} logged in on server ${i}`,
          async () => (await loggedIn(i, username)) > before,
          15_000,
        );
        return session;
      }

      const login = (i: number, username: string) =>
        sftpBatch(servers[i]!.sftpPort, { username, keyPath: key.privatePath }, ['pwd'], {
          cwd: work,
        });

      async function startOne(): Promise<RunningServer> {
        const server = await startServer(env);
        return server;
      }

      before(async () => {
        work = await mkdtemp(join(tmpdir(), 'kubesftp-limits-'));
        homes = join(work, 'homes');
        await mkdir(homes);
        key = await makeKeyPair(work, 'ed25519');
        db = await fixture.start();
        env = {
          KUBESFTP_DATA_PROVIDER__DRIVER: fixture.driver,
          KUBESFTP_DATA_PROVIDER__HOST: db.host,
          KUBESFTP_DATA_PROVIDER__PORT: String(db.port),
          KUBESFTP_DATA_PROVIDER__NAME: await db.createDatabase('limits'),
          KUBESFTP_DATA_PROVIDER__USERNAME: db.user,
          KUBESFTP_DATA_PROVIDER__PASSWORD: db.password,
          KUBESFTP_DATA_PROVIDER__POOL_SIZE: '8',
          KUBESFTP_DATA_PROVIDER__SESSION_EXPIRY: String(EXPIRY_S),
          KUBESFTP_ADMIN_PASSWORD: ADMIN_PASSWORD,
          // 16 clients log in to one server at once below. Under the default max_startups
          // (10:30:100) some are closed at accept, and each closure scores in the shared
          // defender: five ban 127.0.0.1 on every server and end every test after it.
          KUBESFTP_SFTPD__MAX_STARTUPS: '64',
        };
        servers.push(...(await startAll([startOne(), startOne(), startOne()])));
        tokens.push(
          ...(await Promise.all(servers.map((s) => adminToken(s.httpPort, ADMIN_PASSWORD)))),
        );
      });

      after(async () => {
        for (const session of held) session.child.kill('SIGKILL');
        await Promise.all(servers.map((s) => s.stop()));
        await db?.stop();
        await rm(work, { recursive: true, force: true });
      });

      it("refuses the N+1th login on another server, and frees a SIGKILLed server's sessions within session_expiry", async () => {
        await addUser('maxi', { max_sessions: 2 });
        await hold(0, 'maxi');
        await hold(1, 'maxi');
        const third = await login(2, 'maxi');
        assert.notEqual(third.code, 0, 'a third session of two, on a third server');
        assert.ok(
          servers[2]!.logLines.some(
            (l) =>
              l.sender === 'connection_failed' && /too many open sessions/.test(String(l.error)),
          ),
          'refused for max_sessions, as logged',
        );
        servers[0]!.process.kill('SIGKILL');
        const killedAt = Date.now();
        await new Promise((done) => servers[0]!.process.once('exit', done));
        // The killed server's row still counts for at least two thirds of the expiry.
        assert.notEqual((await login(2, 'maxi')).code, 0, 'the dead session counts at first');
        let freedAt = 0;
        await waitFor(
          "a login after the killed server's session expired",
          async () => {
            const result = await login(2, 'maxi');
            freedAt = Date.now();
            return result.code === 0;
          },
          EXPIRY_S * 1000 + 10_000,
        );
        const freedAfter = freedAt - killedAt;
        assert.ok(
          freedAfter <= EXPIRY_S * 1000 + 2_000,
          `freed ${freedAfter} ms after the kill (session_expiry ${EXPIRY_S} s)`,
        );
        await rm(servers[0]!.configDir, { recursive: true, force: true });
        servers[0] = await startOne();
        tokens[0] = await adminToken(servers[0].httpPort, ADMIN_PASSWORD);
      });

      it('closes the sessions of a disabled or deleted user on every server within seconds', async () => {
        const dave = await addUser('dave');
        const erin = await addUser('erin');
        const daves = [await hold(0, 'dave'), await hold(1, 'dave'), await hold(2, 'dave')];
        const erins = [await hold(0, 'erin'), await hold(2, 'erin')];
        const disabledAt = Date.now();
        assert.equal((await api(1, 'PUT', `/api/v1/user/${dave.id}`, { status: 0 })).status, 200);
        for (const [i, session] of daves.entries()) {
          const exited = await exitsWithin(session, 8_000);
          assert.ok(exited !== undefined, `dave's session on server ${i} still open`);
          assert.ok(
            exited - disabledAt < 5_000,
            `closed ${exited - disabledAt} ms after the disable`,
          );
        }
        for (const session of erins) assert.equal(session.child.exitCode, null, 'erin stays');
        const deletedAt = Date.now();
        assert.equal((await api(2, 'DELETE', `/api/v1/user/${erin.id}`)).status, 200);
        for (const session of erins) {
          const exited = await exitsWithin(session, 8_000);
          assert.ok(
            exited !== undefined && exited - deletedAt < 5_000,
            'erin closed after the delete',
          );
        }
        assert.notEqual((await login(0, 'dave')).code, 0);
      });

      it('stops 2 × 16 sessions of one user at the quota: usage equals the bytes on disk, each file a prefix of what was sent', async () => {
        const quota = 40 * MiB;
        await addUser('quota', { quota_size: quota });
        const source = randomBytes(4 * MiB + 12_345);
        await writeFile(join(work, 'source.bin'), source);
        const results = await Promise.all(
          Array.from({ length: 32 }, (_, i) =>
            sftpBatch(
              servers[i % 2]!.sftpPort,
              { username: 'quota', keyPath: key.privatePath },
              [`put source.bin up-${i}.bin`],
              { cwd: work, timeoutMs: 120_000 },
            ),
          ),
        );
        // At most this many whole uploads fit. Sessions share the servers' pending budgets
        // evenly (decision 0032), so all of them may also run into the quota part way.
        const fitting = Math.floor(quota / source.length);
        const refused = results.filter((r) => r.code !== 0).length;
        assert.ok(refused >= 32 - fitting, `${refused} of 32 uploads refused`);
        const home = join(homes, 'quota');
        const names = await readdir(home);
        let total = 0;
        for (const name of names) {
          const data = await readFile(join(home, name));
          total += data.length;
          assert.equal(
            sha256(data),
            sha256(source.subarray(0, data.length)),
            `${name} holds what was sent`,
          );
        }
        const row = await userRow('quota');
        assert.equal(row.used_quota_size, total, 'the stored usage is the bytes on disk');
        assert.equal(row.used_quota_files, names.length);
        assert.ok(total <= quota, `${total} bytes stored over a quota of ${quota}`);
        assert.ok(
          quota - total < 32 * MAX_WRITE,
          `stopped ${quota - total} bytes short of the quota, more than one WRITE per session`,
        );
      });

      if (fixture.driver !== 'postgresql') return;

      it('lives through 30 s without PostgreSQL: logins refused and counted, transfers finish and are settled, /healthz degraded then ok', async () => {
        const pg = db as PostgresEnv;
        await addUser('outage', { quota_size: 1024 * MiB });
        const source = randomBytes(28 * MiB);
        await writeFile(join(work, 'slow.bin'), source);
        // 6 Mbit/s: each upload takes about 37 s, so it runs before, during and after the outage.
        const uploads = servers.map((s, i) =>
          sftpBatch(
            s.sftpPort,
            { username: 'outage', keyPath: key.privatePath },
            [`put slow.bin slow-${i}.bin`],
            { cwd: work, extraArgs: ['-l', '6144'], timeoutMs: 150_000 },
          ),
        );
        await waitFor(
          'the uploads under way',
          async () =>
            (await Promise.all(servers.map((_, i) => loggedIn(i, 'outage')))).every((n) => n === 1),
          15_000,
        );
        await sleep(1_500);
        const pids = servers.map((s) => s.process.pid);
        await pg.pause();
        const pausedAt = Date.now();
        await sleep(1_000);
        const refused = await login(2, 'outage');
        assert.notEqual(refused.code, 0, 'a login without the database');
        assert.ok(
          servers[2]!.logLines.some(
            (l) =>
              l.sender === 'connection_failed' &&
              /^data provider unavailable/.test(String(l.error)),
          ),
          'the refusal is logged with its reason',
        );
        const metrics = await (
          await fetch(`http://127.0.0.1:${servers[2]!.httpPort}/metrics`)
        ).text();
        assert.match(
          metrics,
          /^kubesftp_login_failures_total\{cause="provider_unavailable"\} [1-9]/m,
        );
        for (const server of servers) {
          const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
          assert.equal(health.status, 503);
          assert.equal(((await health.json()) as { status: string }).status, 'degraded');
        }
        await sleep(Math.max(30_000 - (Date.now() - pausedAt), 0));
        await pg.resume();
        const resumedAt = Date.now();
        for (const [i, upload] of uploads.entries()) {
          const result = await upload;
          assert.equal(result.code, 0, `upload through server ${i}: ${result.stderr}`);
        }
        for (const server of servers) {
          let last = '';
          await waitFor(
            () => `/healthz ok again on :${server.httpPort} (last: ${last})`,
            async () => {
              const res = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
              last = await res.text();
              return res.status === 200;
            },
            30_000,
          );
        }
        const okAfter = Date.now() - resumedAt;
        for (let i = 0; i < 3; i++) {
          const stored = await readFile(join(homes, 'outage', `slow-${i}.bin`));
          assert.equal(sha256(stored), sha256(source), `slow-${i}.bin intact`);
        }
        const row = await userRow('outage');
        assert.deepEqual(
          [row.used_quota_size, row.used_quota_files],
          [3 * source.length, 3],
          'settled',
        );
        assert.deepEqual(
          servers.map((s) => [s.process.pid, s.process.exitCode]),
          pids.map((pid) => [pid, null]),
        );
        assert.equal((await login(1, 'outage')).code, 0, 'logins work again');
        assert.ok(okAfter < 30_000, `ok ${okAfter} ms after the database returned`);
        const credits = await Promise.all(
          servers.map(async (s) => {
            const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
            return Number(/^kubesftp_quota_credit_reservations_total (\d+)/m.exec(text)?.[1]);
          }),
        );
        assert.ok(
          credits.every((n) => n > 0),
          `uploads went on within their last known headroom: ${credits.join(', ')}`,
        );
      });
    },
  );
}
