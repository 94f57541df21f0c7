/**
 * Handle requests (FSETSTAT, WRITE, copy-data) are judged like the path request they stand for,
 * at the location the handle was opened at: a handle is no way around a missing permission.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { OpenFlag, StatusCode } from '../../server/src/sftp/constants.js';
import type { WireAttrs } from '../../server/src/sftp/attrs.js';
import { TestClient } from '../sftp/client.js';
import { AttackBed, expectDenied, expectOk, modeOf, sha256Of, sha256Text } from './fixture.js';
import { pflagsName, statusName } from './raw-session.js';

describe('handles are judged where they were opened', { timeout: 180_000 }, () => {
  let bed: AttackBed;

  before(async () => {
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  test('OPEN with no access flags on a file in /ro is refused, and no handle it gives can chmod the file', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await t.probe('OPEN pflags 0 on /ro/a.txt, then FSETSTAT mode 0666', async () => {
      const opened = await sftp.open('/ro/a.txt', 0);
      let fsetstat: number | undefined;
      if (opened.handle !== undefined) {
        fsetstat = await sftp.fsetstat(opened.handle, { permissions: 0o666 });
        await sftp.close(opened.handle);
      }
      expectDenied(opened.status, 'OPEN /ro/a.txt with no access flags (a read: needs download)');
      if (fsetstat !== undefined) expectDenied(fsetstat, 'FSETSTAT mode 0666 on that handle');
    });
    assert.equal(await modeOf(t.host('ro/a.txt')), 0o600);
  });

  const handleProbes: { name: string; attrs: WireAttrs }[] = [
    { name: 'a mode change (0666)', attrs: { permissions: 0o666 } },
    { name: 'a truncation (size 0)', attrs: { size: 0 } },
    { name: 'a times change', attrs: { atime: 1_000_000, mtime: 1_000_000 } },
    { name: 'an owner change (to its own ids)', attrs: { uid: 0, gid: 0 } },
  ];
  for (const pflags of [OpenFlag.READ, 0]) {
    for (const { name, attrs } of handleProbes) {
      test(`FSETSTAT with ${name} on a handle opened with ${pflagsName(pflags)} in /dl (list, download) is refused`, async () => {
        const t = await bed.tenant();
        const { sftp } = await t.session();
        const opened = await sftp.open('/dl/file.txt', pflags);
        expectOk(
          opened.status,
          `OPEN /dl/file.txt with ${pflagsName(pflags)} (download is granted)`,
        );
        await t.probe(`FSETSTAT ${JSON.stringify(attrs)} on a /dl handle`, async () => {
          const status = await sftp.fsetstat(opened.handle!, attrs);
          expectDenied(status, `FSETSTAT ${JSON.stringify(attrs)} on /dl/file.txt`);
        });
        await sftp.close(opened.handle!);
      });
    }
  }

  test('a handle opened for reading through a link in /rw onto a file in /dl is judged at /dl', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    expectOk(await sftp.symlink('/dl/file.txt', '/rw/to-dl'), 'SYMLINK /rw/to-dl -> /dl/file.txt');
    await t.probe('FSETSTAT through /rw/to-dl', async () => {
      const opened = await sftp.open('/rw/to-dl', OpenFlag.READ);
      expectOk(opened.status, 'OPEN /rw/to-dl for reading (download is granted in /dl)');
      const chmod = await sftp.fsetstat(opened.handle!, { permissions: 0o666 });
      const truncate = await sftp.fsetstat(opened.handle!, { size: 1 });
      await sftp.close(opened.handle!);
      expectDenied(chmod, 'FSETSTAT mode 0666 on a handle of /dl/file.txt opened via /rw/to-dl');
      expectDenied(truncate, 'FSETSTAT size 1 on the same handle');
    });
  });

  test('WRITE on a handle opened only for reading fails and the file keeps its content', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    const before = await sha256Of(t.host('dl/file.txt'));
    await t.probe('WRITE on a /dl read handle', async () => {
      const opened = await sftp.open('/dl/file.txt', OpenFlag.READ);
      expectOk(opened.status, 'OPEN /dl/file.txt for reading');
      const status = await sftp.write(opened.handle!, 0, Buffer.from('overwritten'));
      await sftp.close(opened.handle!);
      assert.notEqual(status, StatusCode.OK, `WRITE on a read handle: got ${statusName(status)}`);
    });
    assert.equal(await sha256Of(t.host('dl/file.txt')), before);
  });

  test('copy-data into a handle opened only for reading is refused', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await sftp.writeFile('/rw/source.txt', 'data that must not reach /dl');
    await t.probe('copy-data from /rw into a /dl read handle', async () => {
      const source = await sftp.open('/rw/source.txt', OpenFlag.READ);
      const target = await sftp.open('/dl/file.txt', OpenFlag.READ);
      expectOk(target.status, 'OPEN /dl/file.txt for reading');
      const reply = await sftp.client.extended('copy-data', (b) =>
        b
          .string(Buffer.from(source.handle!, 'latin1'))
          .u64(0)
          .u64(0)
          .string(Buffer.from(target.handle!, 'latin1'))
          .u64(0),
      );
      await sftp.close(source.handle!);
      await sftp.close(target.handle!);
      expectDenied(TestClient.status(reply), 'copy-data into a read-only handle');
    });
  });

  test('a handle opened for reading and writing in /rw still changes its own file', async () => {
    const t = await bed.tenant();
    const { sftp } = await t.session();
    await t.probe('FSETSTAT on a /rw handle', async () => {
      const opened = await sftp.open(
        '/rw/own.txt',
        OpenFlag.READ | OpenFlag.WRITE | OpenFlag.CREAT,
      );
      expectOk(opened.status, 'OPEN /rw/own.txt');
      expectOk(await sftp.write(opened.handle!, 0, Buffer.from('0123456789')), 'WRITE');
      expectOk(await sftp.fsetstat(opened.handle!, { permissions: 0o640 }), 'FSETSTAT mode 0640');
      expectOk(await sftp.fsetstat(opened.handle!, { size: 4 }), 'FSETSTAT size 4');
      expectOk(await sftp.close(opened.handle!), 'CLOSE');
    });
    assert.equal(await modeOf(t.host('rw/own.txt')), 0o640);
    assert.equal(await sha256Of(t.host('rw/own.txt')), sha256Text('0123'));
  });
});
