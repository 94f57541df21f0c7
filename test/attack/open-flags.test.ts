/**
 * OPEN flags that create or change a file (CREAT, TRUNC, WRITE, APPEND) need `upload`, and
 * `overwrite` when the file exists, whether or not WRITE comes with them; an OPEN without READ
 * or WRITE is a read and needs `download`.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { OpenFlag } from '../../server/src/sftp/constants.js';
import { AttackBed, expectDenied, expectOk, sha256Of, sha256Text } from './fixture.js';
import { pflagsName } from './raw-session.js';

const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OpenFlag;

interface RefusedOpen {
  path: string;
  pflags: number;
  why: string;
}

const refused: RefusedOpen[] = [
  { path: '/ro/new.txt', pflags: CREAT, why: 'creating needs upload in /ro' },
  { path: '/ro/new.txt', pflags: CREAT | TRUNC, why: 'creating needs upload in /ro' },
  { path: '/ro/new.txt', pflags: CREAT | EXCL, why: 'creating needs upload in /ro' },
  { path: '/ro/a.txt', pflags: CREAT | TRUNC, why: 'truncating needs upload in /ro' },
  { path: '/ro/a.txt', pflags: TRUNC, why: 'truncating needs upload in /ro' },
  { path: '/ro/a.txt', pflags: APPEND, why: 'appending needs upload in /ro' },
  { path: '/ro/a.txt', pflags: READ, why: 'reading needs download in /ro' },
  { path: '/dl/file.txt', pflags: READ | TRUNC, why: 'truncating needs upload in /dl' },
  { path: '/dl/file.txt', pflags: READ | APPEND, why: 'appending needs upload in /dl' },
  { path: '/dl/new.txt', pflags: READ | CREAT, why: 'creating needs upload in /dl' },
  { path: '/up/existing.txt', pflags: CREAT, why: 'an existing file needs overwrite in /up' },
  { path: '/up/existing.txt', pflags: TRUNC, why: 'an existing file needs overwrite in /up' },
  { path: '/up/existing.txt', pflags: WRITE | TRUNC, why: 'overwriting needs overwrite in /up' },
];

describe('OPEN flags are judged by what they do to the file', { timeout: 180_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  for (const { path, pflags, why } of refused) {
    test(`OPEN ${path} with ${pflagsName(pflags)} is refused (${why}) and changes nothing`, async () => {
      const t = await bed.tenant();
      const { sftp } = await t.session();
      const upBefore = await sha256Of(t.host('up/existing.txt'));
      await t.probe(`OPEN ${path} ${pflagsName(pflags)}`, async () => {
        const opened = await sftp.open(path, pflags, { permissions: 0o644 });
        if (opened.handle !== undefined) await sftp.close(opened.handle);
        expectDenied(opened.status, `OPEN ${path} with ${pflagsName(pflags)}`);
      });
      assert.equal(await sha256Of(t.host('up/existing.txt')), upBefore, '/up/existing.txt');
    });
  }

  test('OPEN with WRITE|CREAT of a new file in /up (upload, no overwrite) creates it', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await t.probe('an upload to /up', async () => {
      const opened = await sftp.open('/up/fresh.txt', WRITE | CREAT | TRUNC);
      expectOk(opened.status, 'OPEN /up/fresh.txt WRITE|CREAT|TRUNC');
      expectOk(await sftp.write(opened.handle!, 0, Buffer.from('fresh')), 'WRITE');
      expectOk(await sftp.close(opened.handle!), 'CLOSE');
    });
    assert.equal(await sha256Of(t.host('up/fresh.txt')), sha256Text('fresh'));
  });

  test('OPEN with no access flags on a file in /dl is a read and is allowed', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await t.probe('OPEN /dl/file.txt with no flags', async () => {
      const opened = await sftp.open('/dl/file.txt', 0);
      expectOk(opened.status, 'OPEN /dl/file.txt with no flags');
      expectOk(await sftp.close(opened.handle!), 'CLOSE');
    });
  });
});
