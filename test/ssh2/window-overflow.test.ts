// A client that sends more channel data than the window it was granted is disconnected once
// the excess passes a tenth of the window (as OpenSSH's channels.c does); the server's window
// never goes negative and what it buffers stays bounded by what it granted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerChannel } from 'ssh2';
import {
  connectClient,
  internalsOf,
  openRawSession,
  rawExec,
  recordWindowAdjusts,
  startServer,
  type ChannelInternals,
  type RunningServer,
  withTimeout,
} from './helpers.js';

const WINDOW = 1024 * 1024;
// Not a divisor of the window, so the window cannot land exactly on zero.
const CHUNK = 30_000;
const FLOOD_BYTES = 8 * WINDOW;

describe('channel data beyond the granted window', () => {
  let running: RunningServer;
  let serverChannel: Promise<ServerChannel & ChannelInternals>;
  let serverError: Promise<Error>;

  before(async () => {
    let deliverChannel: (channel: ServerChannel & ChannelInternals) => void = () => undefined;
    let deliverError: (err: Error) => void = () => undefined;
    serverChannel = new Promise((resolve) => (deliverChannel = resolve));
    serverError = new Promise((resolve) => (deliverError = resolve));
    running = await startServer({
      extra: { channelWindowSize: WINDOW },
      onReady: (client) => {
        client.on('error', deliverError);
        client.on('session', (acceptSession) => {
          acceptSession().on('exec', (acceptExec) => {
            // Never read: the only window the client gets is what the server grants up front.
            const stream = acceptExec() as ServerChannel & ChannelInternals;
            stream.pause();
            deliverChannel(stream);
          });
        });
      },
    });
  });
  after(() => running.close());

  it('disconnects the client and keeps the window and the buffer bounded', async () => {
    const client = await connectClient(running.port);
    let closed = false;
    const clientClosed = new Promise<void>((resolve) =>
      client.once('close', () => {
        closed = true;
        resolve();
      }),
    );
    client.on('error', () => undefined);
    const adjusts = recordWindowAdjusts(client);
    const channel = await openRawSession(client, WINDOW, 32 * 1024);
    await rawExec(client, channel, 'sink');
    const server = await serverChannel;

    const protocol = internalsOf(client)._protocol;
    const chunk = Buffer.alloc(CHUNK, 0x5a);
    let lowestWindow = Number.POSITIVE_INFINITY;
    for (let sent = 0; sent < FLOOD_BYTES && !closed; sent += CHUNK) {
      protocol.channelData(channel.outgoing.id, chunk);
      // Let the server process what arrived so its state can be sampled.
      await new Promise((resolve) => setImmediate(resolve));
      lowestWindow = Math.min(lowestWindow, server.incoming.window);
    }

    const err = await withTimeout(serverError, 10_000, 'server-side disconnect');
    await withTimeout(clientClosed, 10_000, 'client connection closed');
    assert.match(err.message, /peer ignored channel window/);
    assert.ok(lowestWindow >= 0, `server window went down to ${lowestWindow}`);
    assert.ok(server.incoming.window >= 0);
    const granted = WINDOW + adjusts.reduce((sum, amount) => sum + amount, 0);
    const buffered = server.readableLength;
    assert.ok(
      buffered <= granted + WINDOW / 10 + CHUNK,
      `server buffered ${buffered} bytes after granting ${granted}`,
    );
    assert.ok(buffered < FLOOD_BYTES / 2, `server buffered ${buffered} of ${FLOOD_BYTES} bytes`);
  });
});
