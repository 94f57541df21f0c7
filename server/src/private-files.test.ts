import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from './errors.js';
import { assertPrivateMode, createPrivateFileSync } from './private-files.js';

const check = (mode: number): void =>
  assertPrivateMode({ path: '/etc/kubesftp/db', mode: 0o100000 | mode, key: 'k', what: 'file' });

describe('private files', () => {
  it('accepts owner-only and group-readable modes', () => {
    for (const mode of [0o600, 0o400, 0o640, 0o440, 0o700, 0o750]) {
      assert.doesNotThrow(() => check(mode), mode.toString(8));
    }
  });

  it('refuses any access for others and write access for the group, naming the fix', () => {
    const refused: [number, RegExp][] = [
      [0o644, /mode 0644: other users can access it/],
      [0o604, /other users/],
      [0o602, /other users/],
      [0o601, /other users/],
      [0o660, /mode 0660: its group can write it/],
      [0o666, /other users can access it and its group can write it/],
    ];
    for (const [mode, reason] of refused) {
      assert.throws(
        () => check(mode),
        (err: unknown) => {
          assert.ok(isKubesftpError(err, ErrorCode.CONFIG_INVALID), mode.toString(8));
          assert.match(err.message, reason);
          assert.match(err.message, /^k: the file \/etc\/kubesftp\/db /);
          assert.match(err.message, /run "chmod 600 \/etc\/kubesftp\/db"/);
          return true;
        },
      );
    }
  });

  it('creates a missing file with mode 0600 under any umask and leaves an existing one alone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kubesftp-private-'));
    const previous = process.umask();
    try {
      for (const [index, umask] of [0, 0o022, 0o277].entries()) {
        process.umask(umask);
        const file = path.join(dir, `f${index}`);
        assert.equal(createPrivateFileSync(file), true);
        assert.equal(statSync(file).mode & 0o777, 0o600, `umask ${umask.toString(8)}`);
      }
      process.umask(previous);
      const existing = path.join(dir, 'existing');
      writeFileSync(existing, 'kept', { mode: 0o640 });
      assert.equal(createPrivateFileSync(existing), false);
      assert.equal(statSync(existing).mode & 0o777, 0o640);
    } finally {
      process.umask(previous);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
