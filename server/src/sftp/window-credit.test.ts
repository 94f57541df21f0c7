import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { recordingLogger, within } from '../../../test/sftp/harness.js';
import { streamPair, TestClient } from '../../../test/sftp/client.js';
import { spyVfs } from '../../../test/sftp/spy-vfs.js';
import { MemoryVfs } from '../vfs/memory.js';
import { MAX_PACKET_LENGTH, OpenFlag } from './constants.js';
import { serveSftp } from './engine.js';
import { canControl, heldSftpBytes, WindowCredit, type ChannelWindow } from './window-credit.js';

const MiB = 1024 * 1024;

/** A channel window as the transport keeps it: arrivals shrink it, grants grow it. */
function fakeWindow(size: number) {
  const state = { open: size, granted: 0, controlled: false, grants: [] as number[] };
  const window: ChannelWindow = {
    size,
    takeControl: () => (state.controlled = true),
    open: () => state.open,
    grant: (bytes) => {
      state.open += bytes;
      state.granted += bytes;
      state.grants.push(bytes);
    },
  };
  return { window, state, arrive: (bytes: number) => (state.open -= bytes) };
}

/** Sessions that share the process's budget with the one under test. */
function crowd(size: number): WindowCredit[] {
  return Array.from({ length: 32 }, () =>
    WindowCredit.over(fakeWindow(size).window, MAX_PACKET_LENGTH)!,
  );
}

describe('WindowCredit', () => {
  it('grants back only bytes whose requests completed', () => {
    const others = crowd(2 * MiB);
    const { window, state, arrive } = fakeWindow(2 * MiB);
    const credit = WindowCredit.over(window, 256 * 1024)!;
    assert.ok(state.controlled, 'the transport stops granting on its own');
    arrive(2 * MiB);
    credit.received(2 * MiB);
    credit.completed(0, true);
    credit.completed(MiB, true);
    assert.equal(state.granted, 0, 'nothing while the process is crowded and writes run');
    credit.completed(MiB, false);
    // 33 sessions share the budget: the window comes back at the smallest that keeps a
    // client sending, two packets and an eighth of the window.
    assert.equal(state.open, 2 * (256 * 1024 + 4) + (2 * MiB) / 8);
    credit.dispose();
    for (const other of others) other.dispose();
  });

  it('holds small grants back until an eighth of the window is owed', () => {
    const { window, state, arrive } = fakeWindow(2 * MiB);
    const credit = WindowCredit.over(window, 256 * 1024)!;
    arrive(MiB);
    credit.received(MiB);
    credit.completed(MiB, false);
    const grants = state.grants.length;
    arrive(100);
    credit.received(100);
    credit.completed(100, false);
    assert.equal(state.grants.length, grants, 'one small request does not cost an adjust');
    credit.dispose();
  });

  it('grants at once when the client could not send another whole packet', () => {
    const { window, state, arrive } = fakeWindow(2 * MiB);
    const credit = WindowCredit.over(window, 256 * 1024)!;
    // Most of the window came as complete packets answered one by one (under the threshold
    // each time), the rest is half a packet that only more window can complete.
    const answered = 2 * MiB - 200 * 1024;
    arrive(answered);
    credit.received(answered);
    for (let done = 0; done < answered; done += 100 * 1024) credit.completed(100 * 1024, true);
    arrive(128 * 1024);
    credit.received(128 * 1024);
    credit.completed(0, false);
    assert.ok(state.open >= 256 * 1024 + 4, `open window ${state.open} fits the next packet`);
    assert.equal(credit.held, 128 * 1024);
    credit.dispose();
  });

  it('is not taken over a window too small to hold a partial and a whole packet', () => {
    const { window, state } = fakeWindow(256 * 1024);
    assert.equal(canControl(256 * 1024, MAX_PACKET_LENGTH), false);
    assert.equal(WindowCredit.over(window, MAX_PACKET_LENGTH), undefined);
    assert.equal(state.controlled, false);
  });
});

describe('SFTP engine under window control', () => {
  it('never has more than one window of a fast client inside while the disk is slow', async () => {
    const size = 1 * MiB;
    // 32 other sessions share the process's budget, so this one's window does not grow.
    const others = crowd(size);
    const fake = fakeWindow(size);
    const [serverSide, clientSide] = streamPair();
    // Counted before the engine reads, as the transport shrinks the window on arrival.
    serverSide.on('data', (chunk: Buffer) => fake.arrive(chunk.length));
    const vfs = spyVfs(new MemoryVfs(), { delay: (call) => (call.op === 'write' ? 5 : 0) });
    const session = serveSftp({
      stream: serverSide,
      vfs,
      logger: recordingLogger(),
      window: fake.window,
    });
    const client = new TestClient(clientSide);
    await within(client.init(), 2000, 'INIT');
    const handle = await client.open('/big', OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC);
    const data = randomBytes(8 * MiB);
    const chunk = 32 * 1024;
    const packetBytes = 4 + 1 + 4 + 4 + handle.length + 8 + 4 + chunk;
    let peakInside = 0;
    let peakUnanswered = 0;
    let sent = 0;
    let answered = 0;
    const replies: Promise<unknown>[] = [];
    for (let offset = 0; offset < data.length; offset += chunk) {
      // A client keeps to the window: it waits for a grant when the next packet does not fit.
      while (fake.state.open < packetBytes) await new Promise((resolve) => setImmediate(resolve));
      const reply = client.write(handle, offset, data.subarray(offset, offset + chunk));
      replies.push(reply.then(() => (answered += packetBytes)));
      sent += packetBytes;
      await new Promise((resolve) => setImmediate(resolve));
      peakInside = Math.max(peakInside, heldSftpBytes());
      peakUnanswered = Math.max(peakUnanswered, sent - answered);
    }
    await within(Promise.all(replies), 20_000, 'the writes');
    await client.close(handle);
    assert.ok(peakInside <= size, `at most one window inside, saw ${peakInside}`);
    // Seen from the client: what it sent and had no answer for. A reply may trail its grant
    // by a batch of writes, hence the slack.
    const slack = 256 * 1024;
    assert.ok(peakUnanswered <= size + slack, `unanswered ${peakUnanswered} stays near a window`);
    assert.ok(peakInside > size / 2, `the window was used, saw ${peakInside}`);
    const reading = await client.open('/big', OpenFlag.READ);
    const copy = await client.readAll(reading);
    await client.close(reading);
    const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.equal(digest(copy), digest(data));
    await session.close();
    for (const other of others) other.dispose();
    assert.equal(heldSftpBytes(), 0, 'an ended session no longer counts');
  });
});
