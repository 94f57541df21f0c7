import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUser } from '../dataprovider/test-support.js';
import type { User } from '../dataprovider/types.js';
import { isKubesftpError } from '../errors.js';
import { SystemCommandPolicy } from './system-commands.js';
import { setup } from './test-support.js';

const asRoot = process.getuid?.() === 0;

async function withHome(
  overrides: Partial<User>,
  fn: (
    policy: SystemCommandPolicy,
    home: string,
    usage: { size: number; files: number },
  ) => Promise<void>,
): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'kubesftp-system-'));
  await chmod(base, 0o755);
  const home = join(base, 'home');
  await mkdir(home);
  const user = newUser({
    home_dir: home,
    ...(asRoot ? { uid: 4242, gid: 4243 } : {}),
    ...overrides,
  });
  const { ctx, usage } = setup(user);
  try {
    await fn(new SystemCommandPolicy(ctx), home, usage);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

const code = (expected: string) => (err: unknown) => isKubesftpError(err) && err.code === expected;

test('a grant: the home as working directory, symlink choice and input budget from the policy', () =>
  withHome({ quota_size: 1000 }, async (policy, home) => {
    const grant = await policy.admit('write');
    assert.equal(grant.homeDir, home);
    assert.equal(grant.maySymlink, true);
    assert.equal(grant.inputBudget, 1000);
    if (asRoot) assert.deepEqual(grant.runAs, { uid: 4242, gid: 4243 });
    else assert.equal(grant.runAs, undefined);
    assert.equal((await policy.admit('read')).inputBudget, Infinity);
  }));

test('S3 homes, narrow permissions anywhere and exhausted quotas are refused', async () => {
  await withHome({ filesystem: { provider: 1 } }, async (policy) => {
    await assert.rejects(policy.admit('read'), code('UNSUPPORTED'));
  });
  await withHome({ permissions: { '/': ['*'], '/ro': ['list', 'download'] } }, async (policy) => {
    await policy.admit('read');
    await assert.rejects(policy.admit('write'), code('PERMISSION_DENIED'));
  });
  await withHome({ permissions: { '/': ['list', 'download', 'upload'] } }, async (policy) => {
    await assert.rejects(policy.admit('write'), /needs list, download, upload, overwrite/);
  });
  await withHome(
    { permissions: { '/': ['*'], '/x': ['*', 'create_symlinks'] } },
    async (policy) => {
      assert.equal((await policy.admit('read')).maySymlink, true);
    },
  );
  await withHome({ permissions: { '/': ['list', 'download'] } }, async (policy) => {
    assert.equal((await policy.admit('read')).maySymlink, false);
  });
  await withHome({ quota_files: 1 }, async (policy, _home, usage) => {
    usage.files = 1;
    await assert.rejects(policy.admit('write'), code('QUOTA_EXCEEDED'));
    await policy.admit('read');
  });
});

test('a symlink in the home that leads out of it refuses every system command', () =>
  withHome({}, async (policy, home) => {
    await mkdir(join(home, 'deep'));
    await symlink('/etc', join(home, 'deep', 'etc'));
    await assert.rejects(policy.admit('read'), /the symlink \/deep\/etc leads out of the home/);
  }));

test('as root, an account without its own uid cannot run a system binary', { skip: !asRoot }, () =>
  withHome({ uid: 0, gid: 0 }, async (policy) => {
    await assert.rejects(policy.admit('read'), /its own uid/);
  }),
);

test('finishing a write rescans the home into the quota usage', () =>
  withHome({ quota_size: 10_000 }, async (policy, home, usage) => {
    const grant = await policy.admit('write');
    await writeFile(join(home, 'a'), 'x'.repeat(100));
    await mkdir(join(home, 'd'));
    await writeFile(join(home, 'd', 'b'), 'y'.repeat(23));
    await grant.finish();
    assert.deepEqual(usage, { size: 123, files: 2 });
  }));
