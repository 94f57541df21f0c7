/**
 * The policy layer as an attacker tries it: permissions are judged on the place the backend
 * resolved (symlinks expanded), for handle requests as for path requests, and by the one
 * operation table.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PERMISSIONS, type Permission } from '../dataprovider/types.js';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { flags, sha256 } from '../vfs/test-support.js';
import type { Vfs } from '../vfs/types.js';
import { OPERATION_RULES, type Operation } from './permissions.js';
import { READ, setup, upload, type PolicySetup } from './test-support.js';

const denied = (err: unknown): boolean => isKubesftpError(err, ErrorCode.PERMISSION_DENIED);

async function contents(vfs: Vfs, path: string): Promise<string> {
  const file = await vfs.open(path, READ);
  try {
    return sha256(await file.read(1 << 20, 0));
  } finally {
    await file.close();
  }
}

/** A user with everything in "/" and only `list` in "/ro", which holds one 0600 file. */
async function tenant(extra: Record<string, Permission[]> = {}): Promise<PolicySetup> {
  const setUp = setup({ permissions: { '/': ['*'], '/ro': ['list'], ...extra } });
  await setUp.inner.mkdir('/ro');
  await setUp.inner.mkdir('/rw');
  await upload(setUp.inner, '/ro/file', Buffer.from('ro'));
  await setUp.inner.setstat('/ro/file', { mode: 0o600 });
  return setUp;
}

describe('open', () => {
  test('any of CREAT, TRUNC, WRITE or APPEND is an upload; no access flag is a read', async () => {
    // "/dl" lets the user read: only the upload check can refuse these.
    const { fs, inner } = await tenant({ '/dl': ['list', 'download'] });
    await inner.mkdir('/dl');
    await upload(inner, '/dl/file', Buffer.from('dl'));
    for (const opened of [
      flags({ create: true }),
      flags({ create: true, truncate: true }),
      flags({ truncate: true }),
      flags({ append: true }),
      flags({ write: true }),
    ]) {
      await assert.rejects(fs.open('/dl/new', opened), denied, JSON.stringify(opened));
      await assert.rejects(fs.open('/dl/file', opened), denied, JSON.stringify(opened));
    }
    await assert.rejects(inner.stat('/dl/new'), (e) => isKubesftpError(e, ErrorCode.NO_SUCH_FILE));
    assert.equal((await inner.stat('/dl/file')).size, 2);
    // Without `download`, not even a handle that neither reads nor writes.
    await assert.rejects(fs.open('/ro/file', flags({})), denied);
    await (await fs.open('/dl/file', flags({}))).close();
  });
});

describe('handles', () => {
  test('FSETSTAT is judged like SETSTAT on the path the handle was opened at', async () => {
    const { fs, inner } = await tenant({ '/dl': ['list', 'download'] });
    await inner.mkdir('/dl');
    await upload(inner, '/dl/file', Buffer.from('downloadable'));
    await inner.setstat('/dl/file', { mode: 0o600 });
    const file = await fs.open('/dl/file', READ);
    try {
      await assert.rejects(file.setstat({ mode: 0o666 }), denied);
      await assert.rejects(file.setstat({ size: 0 }), denied);
      await assert.rejects(file.setstat({ mtime: 1, atime: 1 }), denied);
    } finally {
      await file.close();
    }
    const after = await inner.stat('/dl/file');
    assert.equal(after.mode & 0o777, 0o600);
    assert.equal(after.size, 12);
  });

  test('a handle in a writable place may chmod, without setuid, setgid or sticky bits', async () => {
    const { fs, inner, commands } = await tenant();
    const file = await fs.open('/rw/f', flags({ write: true, create: true }));
    await file.setstat({ mode: 0o4755 });
    await file.close();
    assert.equal((await inner.stat('/rw/f')).mode & 0o7777, 0o755);
    await fs.setstat('/rw/f', { mode: 0o7777 });
    assert.equal((await inner.stat('/rw/f')).mode & 0o7777, 0o777);
    assert.ok(commands.some((c) => c.sender === 'Chmod' && c.filemode === 0o755));
  });
});

describe('symlinks', () => {
  test('a link into a read-only place gives no more than the place itself', async () => {
    const { fs, inner } = await tenant();
    await fs.symlink('/rw/to-ro', '/ro');
    await fs.symlink('/rw/to-file', '/ro/file');
    const before = await contents(inner, '/ro/file');
    const attempts: [string, () => Promise<unknown>][] = [
      [
        'create through a dir link',
        () => fs.open('/rw/to-ro/new', flags({ write: true, create: true })),
      ],
      [
        'overwrite through a file link',
        () => fs.open('/rw/to-file', flags({ write: true, truncate: true })),
      ],
      ['read through a file link', () => fs.open('/rw/to-file', READ)],
      ['chmod through a link', () => fs.setstat('/rw/to-file', { mode: 0o777 })],
      ['remove through a dir link', () => fs.remove('/rw/to-ro/file')],
      [
        'rename out through a dir link',
        () => fs.rename('/rw/to-ro/file', '/rw/stolen', { overwrite: false }),
      ],
      ['mkdir through a dir link', () => fs.mkdir('/rw/to-ro/sub')],
      ['link in through a dir link', () => fs.symlink('/rw/to-ro/planted', '/rw')],
    ];
    for (const [what, attempt] of attempts) await assert.rejects(attempt(), denied, what);
    assert.equal(await contents(inner, '/ro/file'), before);
    assert.equal((await inner.stat('/ro/file')).mode & 0o777, 0o600);
    assert.deepEqual((await listNames(inner, '/ro')).sort(), ['file']);
    // The link itself is the user's: it may be renamed and removed in "/rw".
    await fs.rename('/rw/to-file', '/rw/renamed-link', { overwrite: false });
    await fs.remove('/rw/renamed-link');
  });

  test('link targets are stored as given and keep their meaning when the link moves', async () => {
    const { fs, inner } = await tenant();
    await inner.mkdir('/rw/a');
    await inner.mkdir('/rw/a/b');
    await fs.symlink('/rw/a/b/l', '/ro/file');
    assert.equal(await fs.readlink('/rw/a/b/l'), '/ro/file');
    await fs.rename('/rw/a/b/l', '/rw/l', { overwrite: false });
    assert.equal(await fs.readlink('/rw/l'), '/ro/file');
    assert.equal(await fs.realpath('/rw/l'), '/ro/file');
  });
});

describe('renames and hard links', () => {
  test('a directory holding a permission rule is never moved, nor is anything moved onto one', async () => {
    const { fs, inner } = await tenant({ '/rw/deep/ro2': ['list'] });
    await inner.mkdir('/rw/deep');
    await assert.rejects(fs.rename('/ro', '/elsewhere', { overwrite: false }), denied);
    await assert.rejects(fs.rename('/rw', '/elsewhere', { overwrite: false }), denied);
    await inner.mkdir('/rw/x');
    await assert.rejects(fs.rename('/rw/x', '/rw/deep/ro2', { overwrite: true }), denied);
    await fs.rename('/rw/x', '/rw/y', { overwrite: false });
    assert.deepEqual((await listNames(inner, '/ro')).sort(), ['file']);
  });

  test('a hard link may not give a file more permissions than its directory does', async () => {
    const { fs, inner } = await tenant({ '/dl': ['list', 'download'] });
    await inner.mkdir('/dl');
    await upload(inner, '/dl/file', Buffer.from('dl'));
    await assert.rejects(fs.link('/ro/file', '/rw/h1'), denied);
    await assert.rejects(fs.link('/dl/file', '/rw/h2'), denied);
    await upload(fs, '/rw/own', Buffer.from('own'));
    await fs.link('/rw/own', '/rw/own-2');
    assert.equal((await inner.stat('/rw/own')).nlink, 2);
  });
});

describe('rule directories', () => {
  test('a directory with a rule is governed by it for its own attributes and is never removed', async () => {
    const { fs, inner } = await tenant({ '/rw': ['*'], '/empty-ro': ['list'] });
    const before = await inner.stat('/ro');
    await assert.rejects(fs.setstat('/ro', { mode: 0o777 }), denied);
    await assert.rejects(fs.setstat('/ro', { atime: 1, mtime: 1 }), denied);
    await fs.symlink('/rw/to-ro', '/ro');
    await assert.rejects(fs.setstat('/rw/to-ro', { mtime: 1, atime: 1 }), denied);
    assert.deepEqual(await inner.stat('/ro'), before);
    // "/rw" has a rule granting everything: its own mode may change.
    await fs.setstat('/rw', { mode: 0o700 });
    await inner.mkdir('/empty-ro');
    await assert.rejects(fs.rmdir('/empty-ro'), denied);
  });
});

describe('owners', () => {
  test('chown may keep an id or set the account ids; others need chown_any_id', async () => {
    const strict = setup({ uid: 2000, gid: 3000, permissions: { '/': ['*'] } });
    await upload(strict.fs, '/f', Buffer.from('x'));
    const current = await strict.inner.stat('/f');
    await assert.rejects(strict.fs.setstat('/f', { uid: 4242, gid: current.gid }), denied);
    await assert.rejects(strict.fs.setstat('/f', { uid: current.uid, gid: 4242 }), denied);
    await strict.fs.setstat('/f', { uid: 2000, gid: 3000 });
    assert.deepEqual(
      [(await strict.inner.stat('/f')).uid, (await strict.inner.stat('/f')).gid],
      [2000, 3000],
    );
    const loose = setup({ permissions: { '/': ['*'] } }, { chownAnyId: true });
    await upload(loose.fs, '/f', Buffer.from('x'));
    await loose.fs.setstat('/f', { uid: 4242, gid: 4343 });
    assert.equal((await loose.inner.stat('/f')).uid, 4242);
  });
});

async function listNames(vfs: Vfs, path: string): Promise<string[]> {
  const dir = await vfs.opendir(path);
  const names: string[] = [];
  try {
    for (let batch = await dir.next(100); batch !== null; batch = await dir.next(100)) {
      names.push(...batch.map((entry) => entry.name));
    }
  } finally {
    await dir.close();
  }
  return names;
}

/** Each operation, tried in "/d" by a user who lacks exactly the permission the table names. */
const OPERATIONS: Record<Operation, (fs: Vfs) => Promise<unknown>> = {
  stat: (fs) => fs.stat('/d/file'),
  readlink: (fs) => fs.readlink('/d/link'),
  list: (fs) => fs.opendir('/d').then((dir) => dir.close()),
  download: (fs) => fs.open('/d/file', READ).then((f) => f.close()),
  upload: (fs) => fs.open('/d/new', flags({ write: true, create: true })).then((f) => f.close()),
  overwrite: (fs) => fs.open('/d/file', flags({ write: true })).then((f) => f.close()),
  mkdir: (fs) => fs.mkdir('/d/sub'),
  rmdir: (fs) => fs.rmdir('/d/empty'),
  remove: (fs) => fs.remove('/d/file'),
  rename: (fs) => fs.rename('/d/file', '/d/moved', { overwrite: false }),
  symlink: (fs) => fs.symlink('/d/new-link', 'file'),
  link: (fs) => fs.link('/d/file', '/d/hard'),
  chmod: (fs) => fs.setstat('/d/file', { mode: 0o600 }),
  chown: (fs) => fs.setstat('/d/file', { uid: process.getuid?.() ?? 0 }),
  chtimes: (fs) => fs.setstat('/d/file', { atime: 5, mtime: 5 }),
  truncate: (fs) => fs.setstat('/d/file', { size: 0 }),
};

describe('the operation table is what the policy layer enforces', () => {
  const grantable = PERMISSIONS.filter((perm) => perm !== '*');
  for (const [operation, attempt] of Object.entries(OPERATIONS) as [
    Operation,
    (fs: Vfs) => Promise<unknown>,
  ][]) {
    const { needs } = OPERATION_RULES[operation];
    test(`${operation} needs "${needs}"`, async () => {
      for (const granted of [grantable.filter((perm) => perm !== needs), grantable]) {
        const { fs, inner } = setup({
          permissions: { '/': ['*'], '/d': granted },
          uid: 0,
          gid: 0,
        });
        await inner.mkdir('/d');
        await inner.mkdir('/d/empty');
        await upload(inner, '/d/file', Buffer.from('content'));
        await inner.symlink('/d/link', 'file');
        if (granted.includes(needs)) await attempt(fs);
        else await assert.rejects(attempt(fs), denied, `${operation} without ${needs}`);
      }
    });
  }
});
