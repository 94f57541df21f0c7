// The window and packet size the server grants come from its channelWindowSize and
// channelPacketSize options, and window is re-granted only when half of it is consumed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import {
  connectClient,
  hostKey,
  openRawSession,
  rawExec,
  recordWindowAdjusts,
  startServer,
  type RunningServer,
  withTimeout,
} from './helpers.js';

const WINDOW = 16 * 1024 * 1024;
const PACKET = 16 * 1024;
const UPLOAD_BYTES = 40 * 1024 * 1024;

describe('channel window configured on the server', () => {
  let running: RunningServer;
  let received: Promise<{ bytes: number; sha256: string }>;

  before(async () => {
    let deliver: (value: { bytes: number; sha256: string }) => void = () => undefined;
    received = new Promise((resolve) => (deliver = resolve));
    running = await startServer({
      extra: { channelWindowSize: WINDOW, channelPacketSize: PACKET },
      onReady: (client) => {
        client.on('session', (acceptSession) => {
          acceptSession().on('exec', (acceptExec) => {
            const stream = acceptExec();
            const hash = createHash('sha256');
            let bytes = 0;
            stream.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              hash.update(chunk);
            });
            stream.on('end', () => {
              deliver({ bytes, sha256: hash.digest('hex') });
              stream.exit(0);
              stream.end();
            });
          });
        });
      },
    });
  });
  after(() => running.close());

  it('grants the configured window and packet size in CHANNEL_OPEN_CONFIRMATION', async () => {
    const client = await connectClient(running.port);
    try {
      const channel = await openRawSession(client, 2 * 1024 * 1024, 32 * 1024);
      assert.equal(channel.outgoing.window, WINDOW);
      assert.equal(channel.outgoing.packetSize, PACKET);
    } finally {
      client.end();
    }
  });

  it('re-grants window only after half of it is consumed, and delivers every byte', async () => {
    const client = await connectClient(running.port);
    try {
      const adjusts = recordWindowAdjusts(client);
      const channel = await openRawSession(client, 2 * 1024 * 1024, 32 * 1024);
      await rawExec(client, channel, 'sink');
      const stream = channel as unknown as NodeJS.WritableStream;
      const sent = createHash('sha256');
      const chunk = Buffer.alloc(256 * 1024);
      for (let offset = 0; offset < UPLOAD_BYTES; offset += chunk.length) {
        chunk.fill(offset % 251);
        sent.update(chunk);
        if (!stream.write(Buffer.from(chunk))) {
          await new Promise((resolve) => stream.once('drain', resolve));
        }
      }
      stream.end();
      const result = await withTimeout(received, 30_000, 'upload through the channel');
      assert.equal(result.bytes, UPLOAD_BYTES);
      assert.equal(result.sha256, sent.digest('hex'));
      assert.ok(adjusts.length > 0, 'the server re-granted window during the upload');
      for (const amount of adjusts) assert.ok(amount >= WINDOW / 2, `adjust of ${amount} bytes`);
      assert.ok(adjusts.length <= Math.ceil(UPLOAD_BYTES / (WINDOW / 2)) + 1);
    } finally {
      client.end();
    }
  });
});

describe('channel limits left unset', () => {
  it('keep ssh2 defaults: a 2 MiB window and 32 KiB packets', async () => {
    const running = await startServer({ onReady: (client) => client.on('session', (a) => a()) });
    const client = await connectClient(running.port);
    try {
      const channel = await openRawSession(client, 2 * 1024 * 1024, 32 * 1024);
      assert.equal(channel.outgoing.window, 2 * 1024 * 1024);
      assert.equal(channel.outgoing.packetSize, 32 * 1024);
    } finally {
      client.end();
      await running.close();
    }
  });

  it('reject a packet size the transport could not receive', () => {
    const config = { hostKeys: [hostKey], channelPacketSize: 64 * 1024 } as ssh2.ServerConfig;
    assert.throws(() => new ssh2.Server(config), /channelPacketSize/);
  });
});
