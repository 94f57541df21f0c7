import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { coalesceWrites } from './write-coalescing.js';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Counts how the socket hands data to the kernel: single writes and gathered ones. */
function countFlushes(socket: Socket): { single: number; gathered: number } {
  const counts = { single: 0, gathered: 0 };
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  socket._write = (...args: Parameters<Socket['_write']>) => {
    counts.single++;
    write(...args);
  };
  if (writev !== undefined) {
    socket._writev = (...args: Parameters<NonNullable<Socket['_writev']>>) => {
      counts.gathered++;
      writev(...args);
    };
  }
  return counts;
}

describe('coalesceWrites', () => {
  let server: Server;
  let received: Buffer[] = [];
  let receivedBytes = 0;
  let client: Socket;

  before(async () => {
    server = createServer((peer) =>
      peer.on('data', (chunk: Buffer) => {
        received.push(chunk);
        receivedBytes += chunk.length;
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    coalesceWrites(client);
  });

  after(async () => {
    client.destroy();
    server.close();
    await once(server, 'close');
  });

  async function receive(bytes: number): Promise<Buffer> {
    const deadline = Date.now() + 10_000;
    while (receivedBytes < bytes && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const data = Buffer.concat(received);
    received = [];
    receivedBytes = 0;
    return data;
  }

  it('sends the writes of one tick with a single gathered write, in order', async () => {
    const counts = countFlushes(client);
    const packets = Array.from({ length: 12 }, (_, i) => randomBytes(1000 + i * 3000));
    for (const packet of packets) client.write(packet);
    const all = Buffer.concat(packets);
    assert.equal(sha256(await receive(all.length)), sha256(all));
    assert.deepEqual(counts, { single: 0, gathered: 1 });
  });

  it('still delivers writes spread over several ticks, each tick flushed on its own', async () => {
    const counts = countFlushes(client);
    const packets = [randomBytes(5000), randomBytes(7000), randomBytes(9000)];
    for (const packet of packets) {
      client.write(packet);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const all = Buffer.concat(packets);
    assert.equal(sha256(await receive(all.length)), sha256(all));
    assert.equal(counts.single + counts.gathered, packets.length);
  });
});
