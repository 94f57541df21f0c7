// A client that announces a zero maximum packet size must not pin the server's event loop.
// Like OpenSSH (channels.c clamps each send to the peer's maximum and sends nothing when that
// is zero), the server keeps the channel but sends no data on it.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connectClient, openRawSession, rawExec, withTimeout } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/writer-server.js', import.meta.url));
// A heartbeat every 20 ms; a pinned loop sends none at all.
const OBSERVE_MS = 1500;
const MIN_HEARTBEATS = 10;

interface FixtureMessage {
  event: string;
  port?: number;
}

describe('zero maximum packet size from the client', () => {
  let child: ChildProcess;
  const events: string[] = [];
  let port = 0;

  before(async () => {
    child = fork(fixture, [], {
      env: { ...process.env, KUBESFTP_SSH2_FIXTURE: 'writer-server' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (message: FixtureMessage) => events.push(message.event));
    port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.on('message', (message: FixtureMessage) => {
          if (message.event === 'listening' && message.port) resolve(message.port);
        });
        child.once('exit', (code) => reject(new Error(`fixture server exited with ${code}`)));
      }),
      10_000,
      'fixture server start',
    );
  });
  after(() => {
    child.kill('SIGKILL');
  });

  it('keeps the server responsive and sends nothing on that channel', async () => {
    const client = await connectClient(port);
    try {
      const channel = await openRawSession(client, 2 * 1024 * 1024, 0);
      let received = 0;
      channel.on('data', (chunk: Buffer) => (received += chunk.length));
      await rawExec(client, channel, 'write');
      const heartbeatsBefore = events.filter((e) => e === 'heartbeat').length;
      await new Promise((resolve) => setTimeout(resolve, OBSERVE_MS));
      const heartbeats = events.filter((e) => e === 'heartbeat').length - heartbeatsBefore;
      assert.ok(events.includes('exec'), 'the server accepted the exec request');
      assert.ok(
        heartbeats >= MIN_HEARTBEATS,
        `server event loop ran ${heartbeats} heartbeats in ${OBSERVE_MS} ms`,
      );
      assert.equal(received, 0, 'no data may be sent with a zero maximum packet size');
      assert.ok(!events.includes('written'), 'the write stays pending, as on a closed window');
    } finally {
      client.end();
    }
  });
});
