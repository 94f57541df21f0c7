import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKubesftpError } from '../../server/src/errors.js';
import { assertOpenFilesFor, openFilesLimit } from './idle.js';

describe('idle sessions and the open-file limit', () => {
  test('reads this process soft limit', async () => {
    const limit = await openFilesLimit();
    assert.ok(limit === undefined || limit > 0);
  });

  test('a count the limit holds passes; one it cannot hold is refused with the remedy', () => {
    assertOpenFilesFor(1000, 20000);
    assertOpenFilesFor(1000, Number.POSITIVE_INFINITY);
    assertOpenFilesFor(1000, undefined);
    assert.throws(
      () => assertOpenFilesFor(1000, 1024),
      (err: unknown) =>
        isKubesftpError(err, 'CONFIG_INVALID') &&
        err.message.includes('ulimit -n 1256') &&
        err.message.includes('BENCH_IDLE_SESSIONS'),
    );
  });
});
