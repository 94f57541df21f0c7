import { test } from 'node:test';
import assert from 'node:assert/strict';
import { READ, WRITE, setup, upload } from './test-support.js';
import type { FileOperationEvent, Protocol } from './types.js';

function withEvents(
  overrides: Parameters<typeof setup>[0] = {},
  protocol: Protocol = 'SFTP',
): ReturnType<typeof setup> & { done: () => [string, string, string, number][] } {
  const events: FileOperationEvent[] = [];
  const transfers: unknown[] = [];
  const s = setup(overrides, {
    protocol,
    events: {
      transfer: (r) => transfers.push(r),
      command: () => undefined,
      fileOperationCompleted: (e) => events.push(e),
    },
  });
  const done = (): [string, string, string, number][] =>
    events.map((e) => {
      assert.equal(e.user.username, 'alice');
      assert.equal(e.connectionId, 'c1');
      assert.equal(e.protocol, protocol);
      return [e.operation, e.virtualPath, e.targetPath ?? '', e.size ?? -1];
    });
  return { ...s, done };
}

test('an upload, a download, a removal and a rename report themselves once they succeed', async () => {
  const { fs, done } = withEvents();
  await upload(fs, '/a.txt', Buffer.from('hello'));
  const file = await fs.open('/a.txt', READ);
  await file.read(3, 0);
  await file.close();
  await fs.rename('/a.txt', '/b.txt', { overwrite: false });
  await fs.remove('/b.txt');
  assert.deepEqual(done(), [
    ['upload', '/a.txt', '', 5],
    ['download', '/a.txt', '', 3],
    ['rename', '/a.txt', '/b.txt', -1],
    ['delete', '/b.txt', '', 5],
  ]);
});

test('an aborted transfer, a refused upload and a failed removal report nothing', async () => {
  const { fs, done } = withEvents({ quota_size: 4 });
  const aborted = await fs.open('/a', WRITE);
  await aborted.write(Buffer.from('ab'), 0);
  await aborted.abort();
  await assert.rejects(upload(fs, '/big', Buffer.from('too large')), /quota/);
  const refused = await fs.open('/c', WRITE);
  await assert.rejects(refused.write(Buffer.from('too large'), 0), /quota/);
  await refused.close();
  await assert.rejects(fs.remove('/missing'));
  await assert.rejects(fs.rename('/missing', '/x', { overwrite: false }));
  assert.deepEqual(done(), []);
});

test('a file an SSH command reads is not a download', async () => {
  const { fs, inner, done } = withEvents({}, 'SSH');
  await upload(inner, '/f', Buffer.from('x'));
  const file = await fs.open('/f', READ);
  await file.read(1, 0);
  await file.close();
  assert.deepEqual(done(), []);
});
