import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from './children.js';
import { commandMs, commandSpan } from './client.js';

/** A finished client run whose stdout arrived in the given chunks at the given times. */
function arrived(chunks: [atMs: number, text: string][], startedAtMs = 0): RunResult {
  let offset = 0;
  const stdoutArrivals = chunks.map(([atMs, text]) => {
    const arrival = { atMs, offset };
    offset += text.length;
    return arrival;
  });
  return {
    code: 0,
    signal: null,
    stdout: chunks.map(([, text]) => text).join(''),
    stderr: '',
    elapsedMs: 1000,
    startedAtMs,
    timedOut: false,
    stdoutArrivals,
  };
}

describe('command timing from the client echo', () => {
  test('runs from the echo of the command to the echo of the next one', () => {
    const result = arrived([
      [150, 'sftp> put big.bin big.bin\n'],
      [1400, 'sftp> pwd\nRemote working directory: /\n'],
    ]);
    assert.equal(commandMs(result, 'put big.bin big.bin', 'pwd'), 1250);
  });

  test('finds echoes inside larger chunks and ignores the same text before the command', () => {
    const result = arrived([
      [100, 'sftp> pwd\nRemote working directory: /\nsftp> ls -l small\n'],
      [180, '-rw-r--r-- 1 u g 4096 Jan 1 00:00 small/f00000.bin\n'],
      [260, 'sftp> pwd\n'],
    ]);
    assert.equal(commandMs(result, 'ls -l small', 'pwd'), 160);
  });

  test('the span is on the monotonic clock: spawn time plus the echoes', () => {
    const result = arrived(
      [
        [150, 'sftp> put c.bin c-0.bin\n'],
        [400, 'sftp> pwd\n'],
      ],
      5000,
    );
    assert.deepEqual(commandSpan(result, 'put c.bin c-0.bin', 'pwd'), {
      startMs: 5150,
      endMs: 5400,
    });
  });

  test('fails when the client never echoed the command after it', () => {
    const result = arrived([[10, 'sftp> put big.bin big.bin\n']]);
    assert.throws(() => commandMs(result, 'put big.bin big.bin', 'pwd'), /did not echo/);
  });
});
