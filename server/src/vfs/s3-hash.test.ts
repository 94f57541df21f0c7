import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { OFF_LOOP_BYTES, OffLoopSha256 } from './s3-hash.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

test('hashes as node:crypto does, small inputs and large ones, in one piece or several', async () => {
  for (const size of [0, 10, OFF_LOOP_BYTES - 1, OFF_LOOP_BYTES, 8 * 1024 * 1024 + 3]) {
    const data = randomBytes(size);
    const expected = createHash('sha256').update(data).digest('hex');
    const whole = new OffLoopSha256();
    whole.update(data);
    assert.equal(hex(await whole.digest()), expected, `${size} bytes`);
    const pieces = new OffLoopSha256();
    pieces.update(data.subarray(0, size >> 1));
    pieces.update(new Uint8Array(data.subarray(size >> 1)).buffer);
    assert.equal(hex(await pieces.digest()), expected, `${size} bytes in two pieces`);
  }
  const text = new OffLoopSha256();
  text.update('caf\u00e9');
  assert.equal(hex(await text.digest()), createHash('sha256').update('caf\u00e9').digest('hex'));
});

test('with a secret it is the HMAC, whatever the input size; reset starts over', async () => {
  const key = randomBytes(32);
  for (const size of [5, OFF_LOOP_BYTES * 2]) {
    const data = randomBytes(size);
    const mac = new OffLoopSha256(key);
    mac.update(data);
    assert.equal(hex(await mac.digest()), createHmac('sha256', key).update(data).digest('hex'));
  }
  const hash = new OffLoopSha256();
  hash.update('discarded');
  hash.reset();
  hash.update('kept');
  assert.equal(hex(await hash.digest()), createHash('sha256').update('kept').digest('hex'));
});
