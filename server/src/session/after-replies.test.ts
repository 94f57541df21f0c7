import assert from 'node:assert/strict';
import { setImmediate as nextCheckPhase } from 'node:timers/promises';
import { test } from 'node:test';
import { afterReplies } from './after-replies.js';
import type { CommandRecord, SessionEvents, TransferRecord } from './types.js';

function recorder(): { seen: string[]; events: SessionEvents } {
  const seen: string[] = [];
  return {
    seen,
    events: {
      transfer: (record: TransferRecord) => seen.push(`transfer ${record.file_path}`),
      command: (record: CommandRecord) => seen.push(`command ${record.sender}`),
      fileOperationCompleted: (event) => seen.push(`${event.operation} ${event.virtualPath}`),
    },
  };
}

const unexpected = (err: unknown): never => assert.fail(`unexpected failure: ${String(err)}`);

const transfer = (path: string): TransferRecord => ({
  sender: 'Upload',
  elapsed_ms: 1,
  size_bytes: 4,
  username: 'u',
  file_path: path,
  connection_id: 'c',
  protocol: 'SFTP',
});

test('events wait for the tick that raised them to end, then keep their order', async () => {
  const { seen, events } = recorder();
  const later = afterReplies(events, unexpected);
  later.transfer(transfer('/a'));
  later.fileOperationCompleted!({
    operation: 'upload',
    virtualPath: '/a',
    user: {} as never,
    connectionId: 'c',
    protocol: 'SFTP',
  });
  later.command({ sender: 'Rename', username: 'u', connection_id: 'c', protocol: 'SFTP' });
  await Promise.resolve();
  assert.deepEqual(seen, [], 'nothing is reported within the tick, microtasks included');
  await nextCheckPhase();
  assert.deepEqual(seen, ['transfer /a', 'upload /a', 'command Rename']);
  later.transfer(transfer('/b'));
  await nextCheckPhase();
  assert.deepEqual(seen.slice(3), ['transfer /b'], 'a later tick is flushed too');
});

test('a sink that throws is reported and the events queued after it still run', async () => {
  const { seen, events } = recorder();
  const failures: unknown[] = [];
  const later = afterReplies(
    {
      ...events,
      transfer: (record) => {
        if (record.file_path === '/bad') throw new Error('sink failed');
        events.transfer(record);
      },
    },
    (err) => failures.push(err),
  );
  later.transfer(transfer('/bad'));
  later.transfer(transfer('/good'));
  await nextCheckPhase();
  assert.deepEqual(seen, ['transfer /good']);
  assert.equal(failures.length, 1);
  assert.match(String(failures[0]), /sink failed/);
});

test('optional triggers stay absent when the sink has none', () => {
  const later = afterReplies({ transfer: () => {}, command: () => {} }, unexpected);
  assert.equal(typeof later.fileOperationCompleted, 'undefined');
  assert.equal(typeof later.sshCommandCompleted, 'undefined');
});
