import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { InputReader } from './io.js';

test('chunks are handed out as the channel delivered them, and only whole ones go back', async () => {
  const input = new PassThrough();
  const released: Buffer[] = [];
  const reader = new InputReader(input, (chunk) => released.push(chunk));
  const first = Buffer.from('C0644 5 name\nhello');
  const second = Buffer.from('0123456789');
  input.write(first);
  input.write(second);
  assert.equal(await reader.readLine(100), 'C0644 5 name');
  const rest = await reader.read(100);
  assert.equal(rest.toString(), 'hello');
  const whole = await reader.read(100);
  assert.equal(whole, second, 'the very chunk, not a copy or a join');
  reader.release(rest);
  reader.release(whole);
  reader.release(whole);
  assert.deepEqual(released, [second], 'a slice is never released, a chunk only once');
  input.end();
  assert.equal((await reader.read(100)).length, 0);
  assert.equal(reader.ended, true);
});

test('a read larger than what is buffered waits; a smaller one slices', async () => {
  const input = new PassThrough();
  const reader = new InputReader(input);
  const pending = reader.read(4);
  input.write('abcdef');
  assert.equal((await pending).toString(), 'abcd');
  assert.equal((await reader.read(4)).toString(), 'ef');
});

test('nothing is taken from the channel before the first read, and the input stops ahead', async () => {
  const input = new PassThrough({ highWaterMark: 16 });
  const reader = new InputReader(input);
  input.write(Buffer.alloc(10));
  assert.equal(input.readableFlowing, null, 'not flowing before a read');
  for (let i = 0; i < 40; i += 1) input.write(Buffer.alloc(16 * 1024));
  assert.equal((await reader.read(10)).length, 10);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(input.isPaused(), true, 'paused once 256 KiB are queued ahead');
  let total = 0;
  input.end();
  for (let chunk = await reader.read(1 << 20); chunk.length > 0; chunk = await reader.read(1 << 20))
    total += chunk.length;
  assert.equal(total, 40 * 16 * 1024);
});

test('a channel that closes without EOF fails the waiting read', async () => {
  const input = new PassThrough();
  const reader = new InputReader(input);
  const pending = reader.read(10);
  input.destroy();
  await assert.rejects(pending, /closed/);
});
