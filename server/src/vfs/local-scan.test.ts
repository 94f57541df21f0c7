import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanLocalHome } from './local-scan.js';

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'kubesftp-scan-'));
  const home = join(base, 'home');
  await mkdir(join(home, 'a', 'b'), { recursive: true });
  await writeFile(join(home, 'one'), 'x'.repeat(10));
  await writeFile(join(home, 'a', 'b', 'two'), 'y'.repeat(5));
  await writeFile(join(base, 'outside'), 'secret');
  try {
    await fn(home);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test('counts regular files and bytes without following links', () =>
  withHome(async (home) => {
    await symlink('/etc', join(home, 'etc-link'));
    assert.deepEqual(await scanLocalHome(home, { checkLinks: false }), { size: 15, files: 2 });
  }));

test('links that stay inside the home pass, whatever their form', () =>
  withHome(async (home) => {
    await symlink('b/two', join(home, 'a', 'down'));
    await symlink('../one', join(home, 'a', 'up-inside'));
    await symlink(join(home, 'one'), join(home, 'absolute-inside'));
    await symlink('missing/deeper', join(home, 'dangling-down'));
    await symlink('/rsyncd-munged/etc/passwd', join(home, 'munged-by-rsync'));
    const scan = await scanLocalHome(home, { checkLinks: true });
    assert.equal(scan.escapingLink, undefined);
  }));

test('the first link the kernel would follow out of the home is named', async () => {
  const cases: [string, string][] = [
    ['/etc', 'abs'],
    ['../outside', 'up'],
    ['../../../../../../nonexistent', 'dangling-up'],
    ['/nonexistent/x', 'dangling-abs'],
  ];
  for (const [target, name] of cases) {
    await withHome(async (home) => {
      await symlink(target, join(home, 'a', name));
      const scan = await scanLocalHome(home, { checkLinks: true });
      assert.equal(scan.escapingLink, `/a/${name}`, target);
    });
  }
  // Chained: each link alone looks inside, together they climb out.
  await withHome(async (home) => {
    await symlink('..', join(home, 'a', 'parent'));
    await symlink('parent/..', join(home, 'a', 'grand'));
    const scan = await scanLocalHome(home, { checkLinks: true });
    assert.equal(scan.escapingLink, '/a/grand');
  });
});
