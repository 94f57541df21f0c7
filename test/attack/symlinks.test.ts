/**
 * Symlinks: a link from /rw into /ro may be made, but every use of it is judged on the location
 * it resolves to; readlink gives back the target as the client wrote it, and a moved link keeps
 * pointing there. Links planted on disk lead nowhere outside the home.
 */
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { OpenFlag, StatusCode } from '../../server/src/sftp/constants.js';
import { AttackBed, expectDenied, expectOk, sha256Of, sha256Text, type Tenant } from './fixture.js';
import { RawSftp, statusName, type RawSession } from './raw-session.js';

const { READ, WRITE, CREAT, TRUNC } = OpenFlag;

/** /rw/link -> /ro and /rw/file-link -> /ro/a.txt, made through SFTP. */
async function linksIntoRo(sftp: RawSftp): Promise<void> {
  expectOk(await sftp.symlink('/ro', '/rw/link'), 'SYMLINK /rw/link -> /ro');
  expectOk(await sftp.symlink('/ro/a.txt', '/rw/file-link'), 'SYMLINK /rw/file-link -> /ro/a.txt');
}

/** Opens, and closes any handle it got; returns the OPEN status. */
async function openStatus(sftp: RawSftp, path: string, pflags: number): Promise<number> {
  const opened = await sftp.open(path, pflags);
  if (opened.handle !== undefined) {
    if (pflags & WRITE) await sftp.write(opened.handle, 0, Buffer.from('written through a link'));
    await sftp.close(opened.handle);
  }
  return opened.status;
}

describe('links into /ro are judged where they lead', { timeout: 180_000 }, () => {
  let bed: AttackBed;
  let t: Tenant;
  let session: RawSession;
  let sftp: RawSftp;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  /** A fresh tenant with the two links made; the probes then run against it. */
  async function withLinks(): Promise<void> {
    t = await bed.tenant();
    session = await t.session();
    sftp = session.sftp;
    await linksIntoRo(sftp);
  }

  test('links from /rw to a directory and to a file in /ro can be created', async () => {
    t = await bed.tenant();
    const { sftp: s } = await t.session();
    await t.probe('SYMLINK into /ro', () => linksIntoRo(s));
  });

  test('writing a new file through a link to /ro is refused', async () => {
    await withLinks();
    await t.probe('OPEN /rw/link/new.txt', async () => {
      const status = await openStatus(sftp, '/rw/link/new.txt', WRITE | CREAT | TRUNC);
      expectDenied(status, 'OPEN /rw/link/new.txt WRITE|CREAT|TRUNC');
    });
  });

  test('overwriting a /ro file through a link to its directory is refused', async () => {
    await withLinks();
    await t.probe('OPEN /rw/link/a.txt', async () => {
      const status = await openStatus(sftp, '/rw/link/a.txt', WRITE | TRUNC);
      expectDenied(status, 'OPEN /rw/link/a.txt WRITE|TRUNC');
    });
  });

  test('overwriting a /ro file through a link to the file is refused', async () => {
    await withLinks();
    await t.probe('OPEN /rw/file-link', async () => {
      const status = await openStatus(sftp, '/rw/file-link', WRITE | TRUNC);
      expectDenied(status, 'OPEN /rw/file-link WRITE|TRUNC');
    });
  });

  test('reading a /ro file through a link is refused (no download in /ro)', async () => {
    await withLinks();
    await t.probe('OPEN for reading through links', async () => {
      for (const path of ['/rw/file-link', '/rw/link/a.txt']) {
        const opened = await sftp.open(path, READ);
        let leaked = false;
        if (opened.handle !== undefined) {
          const data = await sftp.read(opened.handle, 0, 4096);
          leaked = Buffer.isBuffer(data) && data.toString().includes(t.markers.ro);
          await sftp.close(opened.handle);
        }
        expectDenied(opened.status, `OPEN ${path} READ`);
        assert.equal(leaked, false, `${path} returned the content of /ro/a.txt`);
      }
    });
  });

  test('SETSTAT of mode, times and size through links into /ro is refused', async () => {
    await withLinks();
    const attempts = [
      { path: '/rw/file-link', attrs: { permissions: 0o666 } },
      { path: '/rw/link/a.txt', attrs: { permissions: 0o666 } },
      { path: '/rw/link/sub/b.txt', attrs: { atime: 1_000_000, mtime: 1_000_000 } },
      { path: '/rw/file-link', attrs: { size: 0 } },
    ];
    await t.probe('SETSTAT through links', async () => {
      const results = [];
      for (const { path, attrs } of attempts) {
        results.push({ path, attrs, status: await sftp.setstat(path, attrs) });
      }
      for (const { path, attrs, status } of results) {
        expectDenied(status, `SETSTAT ${path} ${JSON.stringify(attrs)}`);
      }
    });
  });

  test('lsetstat of times on a /ro file reached through a link is refused', async () => {
    await withLinks();
    await t.probe('lsetstat through a link', async () => {
      const status = await sftp.lsetstat('/rw/link/a.txt', { atime: 1_000_000, mtime: 1_000_000 });
      expectDenied(status, 'lsetstat /rw/link/a.txt');
    });
  });

  test('REMOVE of a /ro file through a link to its directory is refused', async () => {
    await withLinks();
    await t.probe('REMOVE /rw/link/a.txt', async () => {
      expectDenied(await sftp.remove('/rw/link/a.txt'), 'REMOVE /rw/link/a.txt');
    });
  });

  test('RENAME of a /ro file out through a link is refused, legacy and posix', async () => {
    await withLinks();
    await t.probe('RENAME /rw/link/a.txt out', async () => {
      const legacy = await sftp.rename('/rw/link/a.txt', '/rw/stolen.txt');
      const posix = await sftp.posixRename('/rw/link/sub/b.txt', '/rw/stolen-b.txt');
      expectDenied(legacy, 'RENAME /rw/link/a.txt -> /rw/stolen.txt');
      expectDenied(posix, 'posix-rename /rw/link/sub/b.txt -> /rw/stolen-b.txt');
    });
  });

  test('posix-rename of a /rw file onto a /ro file through a link is refused', async () => {
    await withLinks();
    await sftp.writeFile('/rw/evil.txt', 'replacement content');
    await t.probe('posix-rename onto /rw/link/a.txt', async () => {
      const status = await sftp.posixRename('/rw/evil.txt', '/rw/link/a.txt');
      expectDenied(status, 'posix-rename /rw/evil.txt -> /rw/link/a.txt');
    });
  });

  test('MKDIR and RMDIR through a link into /ro are refused', async () => {
    await withLinks();
    await t.probe('MKDIR and RMDIR through /rw/link', async () => {
      const made = await sftp.mkdir('/rw/link/newdir');
      const removed = await sftp.rmdir('/rw/link/empty');
      expectDenied(made, 'MKDIR /rw/link/newdir');
      expectDenied(removed, 'RMDIR /rw/link/empty');
    });
  });

  test('SYMLINK inside /ro through a link is refused', async () => {
    await withLinks();
    await t.probe('SYMLINK /rw/link/planted', async () => {
      expectDenied(await sftp.symlink('/rw', '/rw/link/planted'), 'SYMLINK at /rw/link/planted');
    });
  });

  test('removing and renaming the link itself in /rw is allowed and leaves /ro alone', async () => {
    await withLinks();
    await t.probe('REMOVE and RENAME of the links themselves', async () => {
      expectOk(
        await sftp.rename('/rw/link', '/rw/link-moved'),
        'RENAME /rw/link -> /rw/link-moved',
      );
      expectOk(await sftp.remove('/rw/link-moved'), 'REMOVE /rw/link-moved');
      expectOk(await sftp.remove('/rw/file-link'), 'REMOVE /rw/file-link');
    });
  });

  test('a link into /dl can be read through, as /dl allows download', async () => {
    t = await bed.tenant();
    const { sftp: s } = await t.session();
    expectOk(await s.symlink('/dl', '/rw/dl-link'), 'SYMLINK /rw/dl-link -> /dl');
    await t.probe('a read through /rw/dl-link', async () => {
      const data = await s.readFile('/rw/dl-link/file.txt');
      assert.equal(sha256Text(data), await sha256Of(t.host('dl/file.txt')));
    });
  });
});

describe('readlink and moved links keep the target the client gave', { timeout: 120_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  test('readlink returns each target exactly as the client wrote it', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    const targets = ['/ro/a.txt', '/ro', '../ro/a.txt', '../dl/./file.txt', 'sibling.txt'];
    const got: Record<string, string | number> = {};
    for (const [i, target] of targets.entries()) {
      expectOk(await sftp.symlink(target, `/rw/l${i}`), `SYMLINK /rw/l${i} -> ${target}`);
      got[target] = await sftp.readlink(`/rw/l${i}`);
    }
    assert.deepEqual(got, Object.fromEntries(targets.map((target) => [target, target])));
  });

  test('a link made at /rw/a/b/l to "/ro/a.txt" still resolves to /ro/a.txt once renamed to /rw/l', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    RawSftp.must(await sftp.mkdir('/rw/a'), 'MKDIR /rw/a');
    RawSftp.must(await sftp.mkdir('/rw/a/b'), 'MKDIR /rw/a/b');
    expectOk(await sftp.symlink('/ro/a.txt', '/rw/a/b/l'), 'SYMLINK /rw/a/b/l -> /ro/a.txt');
    expectOk(await sftp.rename('/rw/a/b/l', '/rw/l'), 'RENAME /rw/a/b/l -> /rw/l');
    const viaLink = await sftp.stat('/rw/l');
    const direct = await sftp.stat('/ro/a.txt');
    assert.notEqual(typeof viaLink, 'number', `STAT /rw/l: ${statusName(viaLink as number)}`);
    assert.deepEqual(viaLink, direct, 'STAT through the moved link is STAT of /ro/a.txt');
    assert.equal(await sftp.readlink('/rw/l'), '/ro/a.txt', 'readlink after the move');
  });

  test('a link to "/dl/file.txt" made at /rw/l still reads /dl/file.txt once moved deeper to /rw/a/b/l', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    RawSftp.must(await sftp.mkdir('/rw/a'), 'MKDIR /rw/a');
    RawSftp.must(await sftp.mkdir('/rw/a/b'), 'MKDIR /rw/a/b');
    expectOk(await sftp.symlink('/dl/file.txt', '/rw/l'), 'SYMLINK /rw/l -> /dl/file.txt');
    expectOk(await sftp.rename('/rw/l', '/rw/a/b/l'), 'RENAME /rw/l -> /rw/a/b/l');
    const data = await sftp.readFile('/rw/a/b/l');
    assert.equal(sha256Text(data), await sha256Of(t.host('dl/file.txt')));
    assert.equal(await sftp.readlink('/rw/a/b/l'), '/dl/file.txt', 'readlink after the move');
  });

  test('a link to "/rw/a/t.txt" made at /rw/a/b/l still reads /rw/a/t.txt once moved up to /rw/l', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    RawSftp.must(await sftp.mkdir('/rw/a'), 'MKDIR /rw/a');
    RawSftp.must(await sftp.mkdir('/rw/a/b'), 'MKDIR /rw/a/b');
    await sftp.writeFile('/rw/a/t.txt', 'the target of a moved link');
    expectOk(await sftp.symlink('/rw/a/t.txt', '/rw/a/b/l'), 'SYMLINK /rw/a/b/l -> /rw/a/t.txt');
    expectOk(await sftp.rename('/rw/a/b/l', '/rw/l'), 'RENAME /rw/a/b/l -> /rw/l');
    const data = await sftp.readFile('/rw/l');
    assert.equal(data.toString(), 'the target of a moved link');
    assert.equal(await sftp.readlink('/rw/l'), '/rw/a/t.txt', 'readlink after the move');
  });
});

describe('links planted on disk lead nowhere outside the home', { timeout: 120_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  /** Every way a link to the other tenant's home could be used, none of which may reach it. */
  async function useLink(t: Tenant, sftp: RawSftp, link: string): Promise<void> {
    const leaks: string[] = [];
    const read = await sftp.open(`${link}/secret.txt`, READ);
    if (read.handle !== undefined) {
      const data = await sftp.read(read.handle, 0, 4096);
      if (Buffer.isBuffer(data) && data.toString().includes(t.markers.victim)) leaks.push('read');
      await sftp.close(read.handle);
    }
    const dir = await sftp.opendir(link);
    if (dir.handle !== undefined) {
      const names = await sftp.readdir(dir.handle);
      if (Array.isArray(names) && names.includes('only-in-victim.txt')) leaks.push('readdir');
      await sftp.close(dir.handle);
    }
    await openStatus(sftp, `${link}/secret.txt`, WRITE | TRUNC);
    await openStatus(sftp, `${link}/new.txt`, WRITE | CREAT);
    await sftp.setstat(`${link}/secret.txt`, { permissions: 0o666 });
    await sftp.remove(`${link}/only-in-victim.txt`);
    await sftp.rename(`${link}/docs/plan.txt`, '/rw/plan.txt');
    await sftp.mkdir(`${link}/made`);
    await sftp.rmdir(`${link}/empty`);
    await sftp.hardlink(`${link}/secret.txt`, '/rw/hard');
    assert.deepEqual(leaks, [], `the other tenant's files leaked through ${link}`);
  }

  const planted = [
    { name: 'an absolute host path', target: (t: Tenant) => t.victimHome },
    { name: 'a ../../ path', target: () => '../../victim' },
  ];
  for (const { name, target } of planted) {
    test(`a link planted with ${name} to another tenant's home reaches nothing of it`, async () => {
      const t = await bed.tenant();
      await symlink(target(t), join(t.home, 'rw', 'planted'));
      const { sftp } = await t.session();
      await t.probe(`use of /rw/planted -> ${target(t)}`, () => useLink(t, sftp, '/rw/planted'));
    });
  }

  test("a link made through SFTP with the other tenant's host path as target reaches nothing of it", async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    expectOk(await sftp.symlink(t.victimHome, '/rw/made'), 'SYMLINK /rw/made -> a host path');
    await t.probe(`use of /rw/made -> ${t.victimHome}`, () => useLink(t, sftp, '/rw/made'));
  });

  test('a link planted with a ../../ path to the volume reaches neither its file nor the other tenant', async () => {
    const t = await bed.tenant();
    await symlink('../..', join(t.home, 'rw', 'up'));
    const { sftp } = await t.session();
    await t.probe('use of /rw/up -> ../..', async () => {
      const shared = await sftp.open('/rw/up/shared.txt', READ);
      if (shared.handle !== undefined) await sftp.close(shared.handle);
      assert.notEqual(shared.status, StatusCode.OK, 'OPEN /rw/up/shared.txt reached the volume');
      await openStatus(sftp, '/rw/up/shared.txt', WRITE | TRUNC | CREAT);
      await useLink(t, sftp, '/rw/up/victim');
    });
  });
});
