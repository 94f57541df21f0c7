import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { within } from '../../../test/sftp/harness.js';
import { InputHolds } from './input-holds.js';

const WAIT_MS = 5000;

describe('InputHolds', () => {
  let server: Server;
  const sockets: Socket[] = [];
  /** A second connection whose echo proves the event loop has polled the held socket. */
  let barrier: { near: Socket; far: Socket };

  /** A connected pair on 127.0.0.1: the accepted side first, then the peer. */
  async function socketPair(): Promise<[Socket, Socket]> {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(peer, 'connect');
    const [local] = await accepted;
    sockets.push(local, peer);
    return [local, peer];
  }

  before(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const [far, near] = await socketPair();
    far.on('data', (chunk: Buffer) => far.write(chunk));
    barrier = { near, far };
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });

  /**
   * Bytes the peer wrote before now have reached every socket of the loopback: two round trips
   * on the barrier connection, each through a poll of the event loop.
   */
  async function settle(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const echoed = once(barrier.near, 'data');
      barrier.near.write('ping');
      await within(echoed, WAIT_MS, 'barrier echo');
    }
  }

  /** A held-to-be connection: the peer's writes, and what the local side delivered so far. */
  async function watchedPair() {
    const [local, peer] = await socketPair();
    const received: Buffer[] = [];
    local.on('data', (chunk: Buffer) => received.push(chunk));
    return {
      holds: new InputHolds(local),
      send: (text: string) =>
        new Promise<void>((resolve, reject) =>
          peer.write(text, (err) => (err ? reject(err) : resolve())),
        ),
      /** Asserts that nothing the peer sent so far was delivered. */
      expectNothing: async (what: string) => {
        await settle();
        assert.deepEqual(received, [], `data delivered ${what}`);
      },
      /** Waits for the next delivery and asserts it is everything the peer sent. */
      expectDelivered: async (text: string) => {
        await within(once(local, 'data'), WAIT_MS, 'data after the last release');
        assert.equal(Buffer.concat(received).toString(), text);
      },
    };
  }

  it('delivers nothing the peer sends until the last hold is released', async () => {
    const pair = await watchedPair();
    pair.holds.hold();
    pair.holds.hold();
    assert.equal(pair.holds.held, true);
    await pair.send('while held');
    await pair.expectNothing('while held twice');

    pair.holds.release();
    assert.equal(pair.holds.held, true);
    await pair.expectNothing('while still held once');

    pair.holds.release();
    assert.equal(pair.holds.held, false);
    await pair.expectDelivered('while held');
  });

  it('ignores a release without a hold', async () => {
    const pair = await watchedPair();
    pair.holds.release();
    assert.equal(pair.holds.held, false);

    // Had the stray release counted, this hold would not stop reading.
    pair.holds.hold();
    assert.equal(pair.holds.held, true);
    await pair.send('after a stray release');
    await pair.expectNothing('while held');

    pair.holds.release();
    await pair.expectDelivered('after a stray release');
  });

  it('counts holds without a socket', () => {
    const holds = new InputHolds(undefined);
    holds.hold();
    holds.release();
    holds.release();
    assert.equal(holds.held, false);
  });
});
