/**
 * The sweep on real parts: a SQLite provider on a temp file, real home trees on disk. A
 * pending removal deletes the whole tree (and nothing a symlink in it points at); a home that
 * is not strictly inside the homes base, or is a symlink, is refused with nothing removed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDataProvider } from '../dataprovider/index.js';
import { newUser } from '../dataprovider/test-support.js';
import type { DataProvider } from '../dataprovider/types.js';
import { HomeSweeper, registerHomeRemovalMetrics } from './sweeper.js';

const HASH = '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('home sweeper', () => {
  let dir = '';
  let base = '';
  let outside = '';
  let provider: DataProvider;
  let sweeper: HomeSweeper;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubesftp-homes-'));
    base = join(dir, 'homes');
    outside = join(dir, 'outside');
    mkdirSync(base);
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep.txt'), 'not a home\n');
    provider = await createDataProvider({ driver: 'sqlite', name: 'k.db', configDir: dir });
    await provider.initialize();
    sweeper = new HomeSweeper({
      provider,
      nodeId: 'node-test',
      logger: pino({ level: 'silent' }),
      settings: { usersBaseDir: base, secrets: { open: (s) => Promise.resolve(s) } },
    });
  });
  afterEach(async () => {
    await sweeper.stop();
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function deleteWithHome(username: string, homeDir: string): Promise<void> {
    const user = await provider.addUser(newUser({ username, password: HASH, home_dir: homeDir }));
    await provider.deleteUserAndHome(user.id);
  }

  it('removes a real home tree, leaving what its symlinks point at', async () => {
    const home = join(base, 'alice');
    mkdirSync(join(home, 'a/b/c'), { recursive: true });
    writeFileSync(join(home, 'top.bin'), Buffer.alloc(4096, 1));
    writeFileSync(join(home, 'a/b/c/deep.txt'), 'deep\n');
    symlinkSync(outside, join(home, 'a/link-to-outside'));
    symlinkSync(join(outside, 'keep.txt'), join(home, 'file-link'));
    const kept = sha256(join(outside, 'keep.txt'));
    const neighbour = join(base, 'alice2');
    mkdirSync(neighbour);
    writeFileSync(join(neighbour, 'mine.txt'), 'mine\n');

    await deleteWithHome('alice', home);
    await sweeper.sweep();

    assert.equal(existsSync(home), false, 'the home is gone');
    assert.equal(sha256(join(outside, 'keep.txt')), kept, 'a symlink target outside is intact');
    assert.equal(readFileSync(join(neighbour, 'mine.txt'), 'utf8'), 'mine\n');
    assert.deepEqual(await provider.listHomeRemovals(), []);
    assert.equal(sweeper.counts().get('removed'), 1);

    const registry = new Registry();
    registerHomeRemovalMetrics(registry, sweeper);
    assert.match(await registry.metrics(), /kubesftp_home_removals_total\{result="removed"\} 1/);
  });

  it('finishes a removal whose home is already gone', async () => {
    await deleteWithHome('ghost', join(base, 'ghost'));
    await sweeper.sweep();
    assert.equal(sweeper.counts().get('absent'), 1);
    assert.deepEqual(await provider.listHomeRemovals(), []);
  });

  it('refuses homes outside the base, the base itself and symlinked homes, removing nothing', async () => {
    writeFileSync(join(base, 'at-base.txt'), 'base\n');
    symlinkSync(outside, join(base, 'linked'));
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(base, 'parent-link'));
    mkdirSync(join(dir, 'real/victim'));
    writeFileSync(join(dir, 'real/victim/data.txt'), 'victim\n');

    // All accounts first: a pending removal of the base would refuse homes inside it.
    const homes: Record<string, string> = {
      escape: `${base}/../outside`,
      base,
      root: '/',
      linked: join(base, 'linked'),
      through: join(base, 'parent-link/victim'),
      sibling: `${base}-other/x`,
    };
    const ids = [];
    for (const [username, homeDir] of Object.entries(homes)) {
      ids.push(
        (await provider.addUser(newUser({ username, password: HASH, home_dir: homeDir }))).id,
      );
    }
    for (const id of ids) await provider.deleteUserAndHome(id);
    await sweeper.sweep();

    assert.equal(sweeper.counts().get('refused'), 6);
    assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'not a home\n');
    assert.equal(readFileSync(join(base, 'at-base.txt'), 'utf8'), 'base\n');
    assert.equal(readFileSync(join(dir, 'real/victim/data.txt'), 'utf8'), 'victim\n');
    assert.ok(existsSync(join(base, 'linked')), 'the symlink itself stays too');
    assert.deepEqual(await provider.listHomeRemovals(), [], 'refused removals are given up');
  });

  it('refuses every local removal when no homes base is configured', async () => {
    await sweeper.stop();
    sweeper = new HomeSweeper({
      provider,
      nodeId: 'node-test',
      logger: pino({ level: 'silent' }),
      settings: { usersBaseDir: '', secrets: { open: (s) => Promise.resolve(s) } },
    });
    const home = join(base, 'alice');
    mkdirSync(home);
    writeFileSync(join(home, 'f'), 'x');
    await deleteWithHome('alice', home);
    await sweeper.sweep();
    assert.equal(sweeper.counts().get('refused'), 1);
    assert.ok(existsSync(join(home, 'f')));
  });
});
