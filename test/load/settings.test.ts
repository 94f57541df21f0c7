import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../../server/src/errors.js';
import { readSettings } from './settings.js';

describe('benchmark settings', () => {
  test('defaults: 1 GiB, best of 2, 20 logins, 2000 small files, both servers', () => {
    const settings = readSettings({});
    assert.equal(settings.sizeMiB, 1024);
    assert.equal(settings.runs, 2);
    assert.equal(settings.logins, 20);
    assert.equal(settings.smallFiles, 2000);
    assert.equal(settings.idleSessions, 200);
    assert.deepEqual(settings.servers, ['openssh', 'kubesftp']);
    assert.equal(settings.outPath, undefined);
    assert.equal(settings.floor, undefined, 'kubesftp itself, not its floor');
    assert.equal(settings.s3, true);
    assert.equal(readSettings({ BENCH_S3: '0' }).s3, false);
    assert.equal(settings.phases.length, 10, 'every phase runs by default');
    assert.deepEqual(
      [settings.concurrentSessions, settings.concurrentMiB, settings.workers],
      [32, 8, [1]],
    );
  });

  test('BENCH_PHASES picks the phases that run', () => {
    assert.deepEqual(readSettings({ BENCH_PHASES: 'scp, rsync' }).phases, ['scp', 'rsync']);
  });

  test("BENCH_FLOOR puts the transport and engine alone in kubesftp's column", () => {
    assert.equal(readSettings({ BENCH_FLOOR: 'memory' }).floor, 'memory');
    assert.equal(readSettings({ BENCH_FLOOR: 'local' }).floor, 'local');
    assert.equal(readSettings({ BENCH_FLOOR: '' }).floor, undefined);
    assert.deepEqual(
      readSettings({ BENCH_FLOOR: 'memory' }).phases,
      ['idle', 'logins', 'transfers', 'memory', 'small', 'sessions'],
      'by default, only the phases the floor serves',
    );
    assert.deepEqual(readSettings({ BENCH_FLOOR: 'local', BENCH_PHASES: 'small' }).phases, [
      'small',
    ]);
  });

  test('BENCH_WORKERS lists the process counts the concurrent phase measures, once each', () => {
    assert.deepEqual(readSettings({ BENCH_WORKERS: '1, 2,2' }).workers, [1, 2]);
    assert.deepEqual(readSettings({ BENCH_WORKERS: '2' }).workers, [2]);
  });

  test('environment overrides are read', () => {
    const settings = readSettings({
      BENCH_SIZE_MIB: '64',
      BENCH_RUNS: '3',
      BENCH_SERVERS: 'openssh',
      BENCH_OUT: '/tmp/x.json',
      BENCH_TMPDIR: '/var/tmp',
      BENCH_IDLE_SESSIONS: '1000',
    });
    assert.equal(settings.idleSessions, 1000);
    assert.deepEqual(
      [settings.sizeMiB, settings.runs, settings.servers, settings.outPath, settings.tmpBase],
      [64, 3, ['openssh'], '/tmp/x.json', '/var/tmp'],
    );
  });

  test('bad values are refused with CONFIG_INVALID and name the variable', () => {
    for (const env of [
      { BENCH_RUNS: '0' },
      { BENCH_SIZE_MIB: '1.5' },
      { BENCH_SERVERS: 'proftpd' },
      { BENCH_IDLE_SESSIONS: '-5' },
      { BENCH_PHASES: 'scp,warp' },
      { BENCH_WORKERS: '1,two' },
      { BENCH_WORKERS: '0' },
      { BENCH_CONCURRENT_SESSIONS: '0' },
      { BENCH_FLOOR: 'disk' },
      { BENCH_FLOOR: 'memory', BENCH_PHASES: 'small,concurrent' },
    ]) {
      assert.throws(
        () => readSettings(env),
        (err: unknown) =>
          isKubesftpError(err, 'CONFIG_INVALID') && err.message.includes(Object.keys(env)[0]!),
      );
    }
  });
});
