import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VERSION } from '../version.js';
import {
  effectiveBanner,
  effectiveMaxAuthTries,
  effectiveSshCommands,
  umaskValue,
} from './effective.js';

test('max_auth_tries: 0 means 6, negative means unlimited, positive is kept', () => {
  assert.equal(effectiveMaxAuthTries(0), 6);
  assert.equal(effectiveMaxAuthTries(-1), Number.POSITIVE_INFINITY);
  assert.equal(effectiveMaxAuthTries(3), 3);
});

test('an empty banner becomes kubesftp_<version>; a set one is kept', () => {
  assert.equal(effectiveBanner(''), `kubesftp_${VERSION}`);
  assert.equal(effectiveBanner('corp_sftp'), 'corp_sftp');
});

test('umask text is read as octal', () => {
  assert.equal(umaskValue('0022'), 0o022);
  assert.equal(umaskValue('077'), 0o077);
});

test('enabled SSH commands: the list, "*" for all, enable_scp adding scp', () => {
  assert.deepEqual([...effectiveSshCommands(['md5sum', 'pwd'], false)].sort(), ['md5sum', 'pwd']);
  assert.deepEqual([...effectiveSshCommands(['pwd'], true)].sort(), ['pwd', 'scp']);
  const all = effectiveSshCommands(['*'], false);
  for (const name of ['scp', 'sha512sum', 'rsync', 'git-upload-archive'] as const) {
    assert.ok(all.has(name), name);
  }
  assert.equal(effectiveSshCommands([], false).size, 0);
});
