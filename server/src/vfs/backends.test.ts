import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUser } from '../dataprovider/test-support.js';
import type { User } from '../dataprovider/types.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { createBackend, ensureLocalHome } from './backends.js';

const SETTINGS = { umask: 0o022, uploadMode: 0, setstatMode: 0 } as const;

function user(homeDir: string, overrides: Partial<User> = {}): User {
  return {
    ...newUser({ home_dir: homeDir }),
    id: 1,
    used_quota_size: 0,
    used_quota_files: 0,
    last_quota_update: 0,
    last_login: 0,
    ...overrides,
  };
}

describe('local homes', () => {
  test('a new home is private to its owner whatever the process umask', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'kubesftp-home-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const previous = process.umask(0);
    try {
      await ensureLocalHome(user(join(base, 'tenants', 'alice')));
    } finally {
      process.umask(previous);
    }
    assert.equal((await stat(join(base, 'tenants', 'alice'))).mode & 0o7777, 0o700);
    assert.equal((await stat(join(base, 'tenants'))).mode & 0o7777, 0o755);
  });

  test('a new home belongs to the account uid and gid when the server runs as root', async (t) => {
    if (process.getuid?.() !== 0) {
      t.diagnostic('not root: ownership cannot be given away, so it is not set');
      return;
    }
    const base = await mkdtemp(join(tmpdir(), 'kubesftp-home-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    await ensureLocalHome(user(join(base, 'bob'), { uid: 4321, gid: 8765 }));
    const home = await stat(join(base, 'bob'));
    assert.deepEqual([home.uid, home.gid], [4321, 8765]);
  });

  test('an existing home is left as it is', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'kubesftp-home-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    await chmod(base, 0o750);
    await ensureLocalHome(user(base));
    assert.equal((await stat(base)).mode & 0o7777, 0o750);
  });

  test('an S3 home that cannot be reached fails to open, naming the bucket', async () => {
    const unreachable = user('/nonexistent', {
      filesystem: {
        provider: 1,
        s3config: {
          bucket: 'nowhere',
          region: 'us-east-1',
          access_key: 'key',
          access_secret: 'secret',
          // A closed loopback port: refused at once, no traffic leaves the machine.
          endpoint: 'http://127.0.0.1:1',
          storage_class: '',
          key_prefix: 'p/',
          force_path_style: true,
        },
      },
    });
    await assert.rejects(createBackend(unreachable, SETTINGS), (err) => {
      assert.ok(isKubesftpError(err, ErrorCode.FAILURE));
      assert.match(err.message, /bucket nowhere/);
      return true;
    });
  });
});
