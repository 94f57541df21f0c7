/**
 * The OpenSSH `sftp` client, as a user would type the commands: links into /ro can be made but
 * put, get, chmod and hard links through them fail with the client reporting it, chmod 4755
 * drops the setuid bit, and the protected files hash the same before and after.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { sftpBatch, type ClientResult } from '../integration/harness.js';
import { AttackBed, modeOf, type Tenant } from './fixture.js';

describe('OpenSSH sftp meets the same refusals', { timeout: 180_000 }, () => {
  let bed: AttackBed;
  let local: string;

  before(async () => {
    bed = await AttackBed.start();
    local = join(bed.work, 'client');
    await mkdir(local, { recursive: true });
    await writeFile(join(local, 'upload.txt'), 'uploaded by the OpenSSH client\n');
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  function batch(t: Tenant, commands: string[]): Promise<ClientResult> {
    return sftpBatch(
      bed.server.sftpPort,
      { username: t.username, password: t.password },
      commands,
      { cwd: local },
    );
  }

  /** A tenant with rw/link -> /ro made by the client itself (which must succeed). */
  async function withLink(): Promise<Tenant> {
    const t = await bed.tenant();
    const made = await batch(t, ['ln -s /ro rw/link', 'ln -s /ro/a.txt rw/file-link']);
    assert.equal(made.code, 0, `ln -s into /ro must be allowed:\n${made.stderr}`);
    return t;
  }

  /** Runs one command that must fail, with "Permission denied" from the client. */
  async function refused(t: Tenant, command: string): Promise<void> {
    await t.probe(`sftp> ${command}`, async () => {
      const result = await batch(t, [command]);
      assert.notEqual(result.code, 0, `"${command}" succeeded:\n${result.stdout}`);
      assert.match(result.stderr, /Permission denied/, `"${command}" failed otherwise`);
    });
  }

  test('put into /ro through a link made with ln -s fails and /ro is unchanged', async () => {
    const t = await withLink();
    await refused(t, 'put upload.txt rw/link/put.txt');
  });

  test('put over a /ro file through a link to it fails and the file is unchanged', async () => {
    const t = await withLink();
    await refused(t, 'put upload.txt rw/file-link');
  });

  test('get of a /ro file through a link fails and nothing is downloaded', async () => {
    const t = await withLink();
    await refused(t, 'get rw/file-link got.txt');
    await assert.rejects(readFile(join(local, 'got.txt')), { code: 'ENOENT' });
  });

  test('chmod 666 of a /ro file through a link fails', async () => {
    const t = await withLink();
    await refused(t, 'chmod 666 rw/link/a.txt');
  });

  test('ln of a /dl file to rw/h (a hard link) fails', async () => {
    const t = await bed.tenant();
    await refused(t, 'ln dl/file.txt rw/h');
  });

  test('rename of /ro to /x fails', async () => {
    const t = await bed.tenant();
    await refused(t, 'rename ro x');
  });

  test('chown of a file to another uid fails', async () => {
    const t = await bed.tenant();
    const put = await batch(t, ['put upload.txt rw/owned.txt']);
    assert.equal(put.code, 0, put.stderr);
    await refused(t, 'chown 1234 rw/owned.txt');
    assert.equal((await stat(t.host('rw/owned.txt'))).uid, process.getuid!());
  });

  test('chmod 4755 succeeds and leaves 0755 on disk', async () => {
    const t = await bed.tenant();
    await t.probe('sftp> chmod 4755', async () => {
      const result = await batch(t, ['put upload.txt rw/tool', 'chmod 4755 rw/tool']);
      assert.equal(result.code, 0, result.stderr);
    });
    assert.equal((await modeOf(t.host('rw/tool'))).toString(8), '755');
  });
});
