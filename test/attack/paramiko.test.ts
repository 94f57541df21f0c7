/**
 * paramiko, a third-party client, meets the same refusals as the raw probes: OPEN with no
 * access flags, handles in /dl, creating OPEN flags in /ro, links into /ro, modes and owners.
 * test/attack/paramiko_probe.py reports what the server answered; this side checks the disk.
 * paramiko comes from test/setup/install-system-deps.sh; without it these tests fail, never skip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { repoRoot } from '../integration/harness.js';
import { AttackBed, modeOf, type Tenant } from './fixture.js';
import { clientsPython } from './python-clients.js';

const PROBE = join(repoRoot, 'test/attack/paramiko_probe.py');

interface ProbeReport {
  paramiko: string;
  results: Record<string, string>;
}

/** Runs one probe group as the tenant; fails with the script's stderr when it cannot run. */
function runProbe(python: string, t: Tenant, group: string): Promise<ProbeReport> {
  const login = { host: '127.0.0.1', ...t.login() };
  return new Promise((resolve, reject) => {
    const child = execFile(
      python,
      [PROBE, group],
      { timeout: 60_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`paramiko probe "${group}" failed: ${err.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as ProbeReport);
        } catch {
          reject(new Error(`paramiko probe "${group}" printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
    child.stdin!.end(JSON.stringify(login));
  });
}

const DENIED = 'PERMISSION_DENIED';

describe('paramiko meets the same refusals', { timeout: 180_000 }, () => {
  let bed: AttackBed;
  let python: string;

  before(async () => {
    python = await clientsPython();
    bed = await AttackBed.start();
  });
  afterEach(() => bed.closeSessions());
  after(() => bed?.stop());

  /**
   * Runs a group in a fresh tenant and compares its report with `expected`, with the protected
   * tree hashed around the whole run, so a failure shows both the answers and the changes.
   */
  async function probeGroup(group: string, expected: Record<string, string>): Promise<Tenant> {
    const t = await bed.tenant();
    await t.probe(`paramiko probe "${group}"`, async () => {
      const report = await runProbe(python, t, group);
      assert.equal(report.paramiko, '5.1.0', 'the pinned paramiko ran');
      assert.deepEqual(report.results, expected);
    });
    return t;
  }

  test('paramiko: OPEN with no access flags on /ro/a.txt is refused, and chmod or truncate through a /dl read handle too', async () => {
    await probeGroup('handles', {
      'open /ro/a.txt pflags 0': DENIED,
      'chmod 0666 on a /dl read handle': DENIED,
      'truncate 0 on a /dl read handle': DENIED,
    });
  });

  test('paramiko: OPEN with CREAT, CREAT|TRUNC or TRUNC alone in /ro is refused', async () => {
    await probeGroup('open-flags', {
      'open /ro/new.txt CREAT': DENIED,
      'open /ro/new.txt CREAT|TRUNC': DENIED,
      'open /ro/a.txt TRUNC': DENIED,
    });
  });

  test('paramiko: links into /ro can be made, every use through them is refused, readlink keeps the target', async () => {
    await probeGroup('symlinks', {
      'symlink /ro -> /rw/link': 'OK',
      'symlink /ro/a.txt -> /rw/abs': 'OK',
      'readlink /rw/abs': '/ro/a.txt',
      'open w /rw/link/new.txt': DENIED,
      'open w /rw/abs': DENIED,
      'putfo /rw/link/put.txt': DENIED,
      'chmod 0666 /rw/link/a.txt': DENIED,
      'read /rw/abs': DENIED,
      'remove /rw/link/a.txt': DENIED,
    });
  });

  test('paramiko: chmod drops setuid, setgid and sticky bits, new entries honour the umask, chown to another uid is refused', async () => {
    const t = await probeGroup('modes', {
      'chmod 04755 /rw/m.txt': 'OK',
      'mode of /rw/m.txt': '0755',
      'mode of a new file': '0644',
      'mkdir 01777 /rw/dir': 'OK',
      'mode of /rw/dir': '0755',
      'chmod 02755 /rw/dir': 'OK',
      'mode of /rw/dir after chmod': '0755',
      'chown 1234:1234 /rw/m.txt': DENIED,
    });
    const onDisk = {
      'rw/m.txt': (await modeOf(t.host('rw/m.txt'))).toString(8),
      'rw/new.txt': (await modeOf(t.host('rw/new.txt'))).toString(8),
      'rw/dir': (await modeOf(t.host('rw/dir'))).toString(8),
    };
    assert.deepEqual(onDisk, { 'rw/m.txt': '755', 'rw/new.txt': '644', 'rw/dir': '755' });
  });
});
