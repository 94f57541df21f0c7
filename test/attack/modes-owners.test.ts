/**
 * Modes and owners: a client can set permission bits (0777) but never setuid, setgid or sticky;
 * new files and directories honour the umask and new homes are private; chown may only give a
 * file the account's own uid and gid (the server's own when the account's are 0).
 */
import assert from 'node:assert/strict';
import { lstat } from 'node:fs/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { OpenFlag } from '../../server/src/sftp/constants.js';
import type { WireAttrs } from '../../server/src/sftp/attrs.js';
import { AttackBed, entryState, expectDenied, expectOk, modeOf } from './fixture.js';

const { READ, WRITE, CREAT, TRUNC } = OpenFlag;
const octal = (mode: number): string => `0${mode.toString(8)}`;

describe('modes are limited to 0777 and new entries honour the umask', { timeout: 180_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  for (const mode of [0o4755, 0o2755, 0o1777]) {
    test(`SETSTAT mode ${octal(mode)} on a file succeeds and leaves ${octal(mode & 0o777)}`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      await sftp.writeFile('/rw/f', 'x');
      expectOk(await sftp.setstat('/rw/f', { permissions: mode }), `SETSTAT ${octal(mode)}`);
      assert.equal(octal(await modeOf(t.host('rw/f'))), octal(mode & 0o777));
    });

    test(`SETSTAT mode ${octal(mode)} on a directory succeeds and leaves ${octal(mode & 0o777)}`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      expectOk(await sftp.mkdir('/rw/d'), 'MKDIR /rw/d');
      expectOk(await sftp.setstat('/rw/d', { permissions: mode }), `SETSTAT ${octal(mode)}`);
      assert.equal(octal(await modeOf(t.host('rw/d'))), octal(mode & 0o777));
    });

    test(`FSETSTAT mode ${octal(mode)} on a file handle succeeds and leaves ${octal(mode & 0o777)}`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      const opened = await sftp.open('/rw/h', WRITE | CREAT);
      expectOk(opened.status, 'OPEN /rw/h');
      const status = await sftp.fsetstat(opened.handle!, { permissions: mode });
      await sftp.close(opened.handle!);
      expectOk(status, `FSETSTAT ${octal(mode)}`);
      assert.equal(octal(await modeOf(t.host('rw/h'))), octal(mode & 0o777));
    });
  }

  const created: { what: string; attrs?: WireAttrs; mode: number }[] = [
    { what: 'with attrs mode 0666', attrs: { permissions: 0o666 }, mode: 0o644 },
    { what: 'with no attrs', mode: 0o644 },
    { what: 'with attrs mode 04777', attrs: { permissions: 0o4777 }, mode: 0o755 },
    { what: 'with attrs mode 02666', attrs: { permissions: 0o2666 }, mode: 0o644 },
  ];
  for (const { what, attrs, mode } of created) {
    test(`a file created ${what} ends ${octal(mode)} under the default umask 0022`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      const opened = await sftp.open('/rw/new', WRITE | CREAT | TRUNC, attrs);
      expectOk(opened.status, 'OPEN /rw/new');
      await sftp.close(opened.handle!);
      assert.equal(octal(await modeOf(t.host('rw/new'))), octal(mode));
    });
  }

  const dirs: { what: string; attrs?: WireAttrs; mode: number }[] = [
    { what: 'with attrs mode 0777', attrs: { permissions: 0o777 }, mode: 0o755 },
    { what: 'with no attrs', mode: 0o755 },
    { what: 'with attrs mode 01777', attrs: { permissions: 0o1777 }, mode: 0o755 },
  ];
  for (const { what, attrs, mode } of dirs) {
    test(`a directory made ${what} ends ${octal(mode)} under the default umask 0022`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      expectOk(await sftp.mkdir('/rw/made', attrs), 'MKDIR /rw/made');
      assert.equal(octal(await modeOf(t.host('rw/made'))), octal(mode));
    });
  }

  test('a home the server creates on first login is 0700', async () => {
    const t = await bed.tenant({ tree: false });
    await assert.rejects(lstat(t.home), { code: 'ENOENT' }, 'the home must not exist yet');
    await t.session();
    assert.equal(octal(await modeOf(t.home)), octal(0o700));
  });
});

describe('chown gives a file only the account own ids', { timeout: 180_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'chown probes need the server to run as root');
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  /** SETSTAT owner on a file the account made in /rw; returns the status, checks the disk. */
  async function chownProbe(
    account: { uid: number; gid: number },
    wanted: { uid: number; gid: number },
    allowed: boolean,
  ): Promise<void> {
    const t = await bed.tenant(account);
    const { sftp } = await t.session();
    await sftp.writeFile('/rw/owned.txt', 'owned');
    const before = await entryState(t.host('rw/owned.txt'));
    const status = await sftp.setstat('/rw/owned.txt', wanted);
    const after = await entryState(t.host('rw/owned.txt'));
    const what = `SETSTAT uid ${wanted.uid} gid ${wanted.gid} as an account with uid ${account.uid} gid ${account.gid}`;
    if (allowed) {
      expectOk(status, what);
      const st = await lstat(t.host('rw/owned.txt'));
      assert.deepEqual({ uid: st.uid, gid: st.gid }, wanted);
    } else {
      expectDenied(status, what);
      assert.equal(after, before, `${what} changed the file`);
    }
  }

  test('an account with uid 0 and gid 0 may chown to the server own ids', async () => {
    const own = { uid: process.getuid!(), gid: process.getgid!() };
    await chownProbe({ uid: 0, gid: 0 }, own, true);
  });

  test('an account with uid 0 and gid 0 may not chown to another uid and gid', async () => {
    await chownProbe({ uid: 0, gid: 0 }, { uid: 1234, gid: 1234 }, false);
  });

  test('an account with uid 0 and gid 0 may not chown to another gid alone', async () => {
    await chownProbe({ uid: 0, gid: 0 }, { uid: process.getuid!(), gid: 4321 }, false);
  });

  test('an account with uid 2001 and gid 2002 may chown to 2001 and 2002', async () => {
    await chownProbe({ uid: 2001, gid: 2002 }, { uid: 2001, gid: 2002 }, true);
  });

  test('an account with uid 2001 and gid 2002 may not give a file to root', async () => {
    await chownProbe({ uid: 2001, gid: 2002 }, { uid: 0, gid: 0 }, false);
  });

  test('an account with uid 2001 and gid 2002 may not chown to a third uid', async () => {
    await chownProbe({ uid: 2001, gid: 2002 }, { uid: 3003, gid: 2002 }, false);
  });

  test('FSETSTAT to another uid and gid on a handle the account opened is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await sftp.writeFile('/rw/owned.txt', 'owned');
    const before = await entryState(t.host('rw/owned.txt'));
    const opened = await sftp.open('/rw/owned.txt', READ | WRITE);
    expectOk(opened.status, 'OPEN /rw/owned.txt');
    const status = await sftp.fsetstat(opened.handle!, { uid: 1234, gid: 1234 });
    await sftp.close(opened.handle!);
    expectDenied(status, 'FSETSTAT uid 1234 gid 1234');
    assert.equal(await entryState(t.host('rw/owned.txt')), before);
  });
});
