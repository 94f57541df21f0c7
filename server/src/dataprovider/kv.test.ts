/**
 * What only the kv driver has (the contract suite covers the rest): its LMDB file is private,
 * survives a restart, is shared with another process without losing a write, and a file that
 * is not LMDB (a bolt or SQLite database) or of a newer format is refused and left intact.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { open } from 'lmdb';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { openDriver } from './drivers.js';
import { KV_FORMAT } from './kv.js';
import { newUser } from './test-support.js';
import type { DataProvider } from './types.js';

const run = promisify(execFile);
const HASH = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('kv driver', () => {
  let dir = '';
  let file = '';
  const opened: DataProvider[] = [];

  const openKv = async (driver = 'kv'): Promise<DataProvider> => {
    const provider = await openDriver({ driver, name: 'accounts.mdb', configDir: dir });
    opened.push(provider);
    await provider.initialize();
    return provider;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubesftp-kv-'));
    file = join(dir, 'accounts.mdb');
  });
  afterEach(async () => {
    for (const provider of opened.splice(0)) await provider.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates its file 0600 and keeps accounts across a restart; bolt opens the same file', async () => {
    const first = await openKv();
    assert.equal(first.driver, 'kv');
    await first.addUser(newUser({ password: HASH, quota_size: 100 }));
    await first.updateQuota('alice', { sizeDelta: 42, filesDelta: 1, reset: false });
    await first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await openKv('bolt');
    const alice = await again.getUserByUsername('alice');
    assert.equal(alice?.password, HASH);
    assert.deepEqual([alice?.used_quota_size, alice?.used_quota_files], [42, 1]);
    await assert.rejects(first.getUserByUsername('alice'), (err) =>
      isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE),
    );
  });

  it('refuses a file others can read, and one that is not LMDB, leaving it as it was', async () => {
    writeFileSync(file, `SQLite format 3\0${'x'.repeat(8000)}`, { mode: 0o600 });
    const before = sha256(file);
    await assert.rejects(openKv(), (err) => {
      assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID), String(err));
      assert.match(err.message, /accounts\.mdb is not an LMDB database/);
      return true;
    });
    assert.equal(sha256(file), before);
    chmodSync(file, 0o644);
    await assert.rejects(openKv(), /has mode 0644: other users can access it/);
  });

  it('refuses a file written by a newer kubesftp', async () => {
    await (await openKv()).close();
    const env = open({ path: file, noSubdir: true, maxDbs: 10 });
    await env.openDB<number, string>({ name: 'meta' }).put('format', KV_FORMAT + 1);
    await env.close();
    await assert.rejects(openKv(), (err) => {
      assert.ok(isKubesftpError(err, ErrorCode.PROVIDER_UNAVAILABLE), String(err));
      assert.match(err.message, new RegExp(`newer than this kubesftp knows \\(${KV_FORMAT}\\)`));
      return true;
    });
  });

  it('opens a file of format 1 (before home removals), keeps its accounts and marks it 2', async () => {
    const first = await openKv();
    await first.addUser(newUser({ password: HASH }));
    await first.close();
    const env = open({ path: file, noSubdir: true, maxDbs: 10 });
    await env.openDB<number, string>({ name: 'meta' }).put('format', 1);
    await env.close();
    const reopened = await openKv();
    assert.equal((await reopened.getUserByUsername('alice'))?.username, 'alice');
    assert.deepEqual(await reopened.listHomeRemovals(), []);
    await reopened.close();
    const check = open({ path: file, noSubdir: true, maxDbs: 10 });
    assert.equal(check.openDB<number, string>({ name: 'meta' }).get('format'), KV_FORMAT);
    await check.close();
  });

  it('two processes on one file lose no quota update and pass no max_sessions', async () => {
    const provider = await openKv();
    await provider.addUser(newUser({ password: HASH, max_sessions: 25 }));
    const drivers = new URL('./drivers.js', import.meta.url).href;
    // The other process claims sessions and adds quota while this one does the same.
    const child = `
      const { openDriver } = await import(${JSON.stringify(drivers)});
      const p = await openDriver({ driver: 'kv', name: 'accounts.mdb', configDir: ${JSON.stringify(dir)} });
      await p.initialize();
      let claimed = 0;
      for (let i = 0; i < 200; i++) {
        await p.updateQuota('alice', { sizeDelta: 1, filesDelta: 1, reset: false });
        if (i < 20) {
          const s = { id: 'child-' + i, username: 'alice', nodeId: 'child', protocol: 'SFTP', clientIp: '192.0.2.1', ttlMs: 60000 };
          if (await p.claimSession({ ...s, maxSessions: 25 })) claimed++;
        }
      }
      await p.close();
      process.stdout.write(String(claimed));
    `;
    let childDone = false;
    const other = run(process.execPath, ['--input-type=module', '-e', child]).finally(() => {
      childDone = true;
    });
    // This process keeps writing for as long as the other runs, so their writes interleave.
    let claimed = 0;
    let updates = 0;
    for (; !childDone || updates < 20; updates++) {
      await provider.updateQuota('alice', { sizeDelta: 1, filesDelta: 1, reset: false });
      if (updates < 20) {
        const session = {
          id: `parent-${updates}`,
          username: 'alice',
          nodeId: 'parent',
          protocol: 'SFTP',
          clientIp: '192.0.2.1',
          ttlMs: 60_000,
        };
        if (await provider.claimSession({ ...session, maxSessions: 25 })) claimed++;
      }
      await new Promise(setImmediate);
    }
    const childClaimed = Number((await other).stdout);
    const alice = await provider.getUserByUsername('alice');
    assert.deepEqual(
      [alice?.used_quota_size, alice?.used_quota_files],
      [updates + 200, updates + 200],
    );
    assert.ok(updates > 20, `only ${updates} updates here while the other process ran`);
    assert.equal(claimed + childClaimed, 25, `parent ${claimed}, child ${childClaimed}`);
    assert.equal(await provider.countSessions('alice'), 25);
  });
});
