/**
 * Renames and hard links that would take a file or a directory out from under its rule: a
 * directory that is (or holds) a configured rule cannot be renamed, replaced or removed, and a
 * file the account may not change cannot gain a second name in a writable area.
 */
import assert from 'node:assert/strict';
import { lstat } from 'node:fs/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { AttackBed, expectDenied, expectOk, type Tenant } from './fixture.js';
import type { RawSftp } from './raw-session.js';

describe('directories with a rule stay where the rule is', { timeout: 180_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  const refused: { what: string; run: (sftp: RawSftp) => Promise<number> }[] = [
    { what: 'RENAME /ro -> /x', run: (sftp) => sftp.rename('/ro', '/x') },
    { what: 'posix-rename /ro -> /x', run: (sftp) => sftp.posixRename('/ro', '/x') },
    { what: 'RENAME /dl -> /rw/dl', run: (sftp) => sftp.rename('/dl', '/rw/dl') },
    {
      what: 'RENAME /box (holds the rule /box/locked) -> /box2',
      run: (sftp) => sftp.rename('/box', '/box2'),
    },
    { what: 'RMDIR /drop (an empty directory with a rule)', run: (sftp) => sftp.rmdir('/drop') },
    {
      what: 'posix-rename of an empty /rw directory onto /drop',
      run: async (sftp) => {
        expectOk(await sftp.mkdir('/rw/empty'), 'MKDIR /rw/empty');
        return sftp.posixRename('/rw/empty', '/drop');
      },
    },
    {
      what: 'posix-rename of a /rw directory onto /ro',
      run: async (sftp) => {
        expectOk(await sftp.mkdir('/rw/mine'), 'MKDIR /rw/mine');
        return sftp.posixRename('/rw/mine', '/ro');
      },
    },
  ];
  for (const { what, run } of refused) {
    test(`${what} is refused`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      await t.probe(what, async () => expectDenied(await run(sftp), what));
    });
  }

  test('RENAME of an ordinary directory in /rw still works', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    expectOk(await sftp.mkdir('/rw/plain'), 'MKDIR /rw/plain');
    await t.probe('RENAME /rw/plain -> /rw/moved', async () =>
      expectOk(await sftp.rename('/rw/plain', '/rw/moved'), 'RENAME /rw/plain -> /rw/moved'),
    );
    assert.ok((await lstat(t.host('rw/moved'))).isDirectory());
  });
});

describe('hard links never give a protected file a writable name', { timeout: 120_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  async function linkProbe(t: Tenant, sftp: RawSftp, from: string, to: string): Promise<void> {
    await t.probe(`hardlink ${from} -> ${to}`, async () =>
      expectDenied(await sftp.hardlink(from, to), `hardlink ${from} -> ${to}`),
    );
    await assert.rejects(lstat(t.host(to)), { code: 'ENOENT' }, `${to} must not exist`);
  }

  test('a hard link from a /ro file to /rw/h is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await linkProbe(t, sftp, '/ro/a.txt', '/rw/h');
  });

  test('a hard link from a /dl file (download only) to /rw/h is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await linkProbe(t, sftp, '/dl/file.txt', '/rw/h');
  });

  test('a hard link from a /dl file reached through a link in /rw is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    expectOk(await sftp.symlink('/dl', '/rw/dl-link'), 'SYMLINK /rw/dl-link -> /dl');
    await linkProbe(t, sftp, '/rw/dl-link/file.txt', '/rw/h');
  });

  test('a hard link from /rw into /ro is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await sftp.writeFile('/rw/mine.txt', 'mine');
    await linkProbe(t, sftp, '/rw/mine.txt', '/ro/h');
  });

  test('a hard link within /rw works', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await sftp.writeFile('/rw/orig.txt', 'original');
    await t.probe('hardlink /rw/orig.txt -> /rw/h', async () =>
      expectOk(await sftp.hardlink('/rw/orig.txt', '/rw/h'), 'hardlink /rw/orig.txt -> /rw/h'),
    );
    assert.equal((await lstat(t.host('rw/h'))).ino, (await lstat(t.host('rw/orig.txt'))).ino);
  });
});
