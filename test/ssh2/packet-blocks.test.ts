// Packets of the in-place ciphers live in reused blocks: outgoing ones, which the server gives
// back once its socket has written them, and incoming ones that span socket reads, which the
// SFTP engine gives back once it has copied them out. Reuse must never hand one block to two
// packets, and packets in reused blocks must still carry exactly what was sent.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

const require = createRequire(import.meta.url);

interface OutboundCipher {
  allocPacket(payloadLen: number): Buffer;
  encrypt(packet: Buffer): void;
}
interface InboundDecipher {
  decrypt(data: Buffer, p: number, dataLen: number): unknown;
}
interface CryptoModule {
  bindingAvailable: boolean;
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  createCipher(config: object): OutboundCipher;
  createDecipher(config: object): InboundDecipher;
  releaseOutgoing(packet: Buffer): void;
  releaseIncoming(view: Uint8Array): boolean;
}

const crypto = require('ssh2/lib/protocol/crypto.js') as CryptoModule;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function cipherPair(name: string): {
  cipher: OutboundCipher;
  decipher: InboundDecipher;
  written: Buffer[];
  payloads: Buffer[];
} {
  const info = crypto.CIPHER_INFO[name]!;
  const key = randomBytes(info.keyLen);
  const iv = randomBytes(info.ivLen);
  const written: Buffer[] = [];
  const payloads: Buffer[] = [];
  const cipher = crypto.createCipher({
    outbound: {
      onWrite: (packet: Buffer) => written.push(packet),
      cipherInfo: info,
      cipherKey: key,
      cipherIV: iv,
      seqno: 0,
    },
  });
  const decipher = crypto.createDecipher({
    inbound: {
      // The payload itself, not a copy: tests that reuse blocks copy it before releasing.
      onPayload: (payload: Buffer) => {
        payloads.push(payload);
      },
      decipherInfo: info,
      decipherKey: key,
      decipherIV: iv,
      seqno: 0,
    },
  });
  return { cipher, decipher, written, payloads };
}

function send(cipher: OutboundCipher, payload: Buffer): void {
  const packet = cipher.allocPacket(payload.length);
  payload.copy(packet, 5);
  cipher.encrypt(packet);
}

describe('packet blocks', () => {
  it('the native cipher binding is built (the pool lives in its ciphers)', () => {
    assert.equal(crypto.bindingAvailable, true);
  });

  for (const name of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
    it(`${name}: reuses a released block, and never lends one block twice`, () => {
      const { cipher, written } = cipherPair(name);
      send(cipher, randomBytes(100));
      const first = written[0]!;
      crypto.releaseOutgoing(first);
      crypto.releaseOutgoing(first);
      send(cipher, randomBytes(100));
      send(cipher, randomBytes(100));
      assert.equal(written[1]!.buffer, first.buffer, 'the released block is used again');
      assert.notEqual(written[2]!.buffer, first.buffer, 'a double release lends it only once');
    });

    it(`${name}: packets in reused blocks decrypt to exactly what was sent`, () => {
      const { cipher, decipher, written, payloads } = cipherPair(name);
      const sent = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 977) % 32_800)));
      for (const payload of sent) {
        send(cipher, payload);
        // What the socket would have put on the wire, then the block goes back.
        const packet = written.pop()!;
        const wire = Buffer.from(packet);
        crypto.releaseOutgoing(packet);
        decipher.decrypt(wire, 0, wire.length);
      }
      assert.equal(payloads.length, sent.length);
      assert.equal(sha256(Buffer.concat(payloads)), sha256(Buffer.concat(sent)));
    });

    it(`${name}: a packet larger than a block is a plain buffer, and its release is ignored`, () => {
      const { cipher, written } = cipherPair(name);
      send(cipher, randomBytes(40_000));
      const large = written[0]!;
      assert.ok(large.buffer.byteLength >= 40_000);
      crypto.releaseOutgoing(large);
      send(cipher, randomBytes(40_000));
      assert.notEqual(written[1]!.buffer, large.buffer);
    });

    it(`${name}: incoming packets split across reads land in blocks that are lent again`, () => {
      const { cipher, decipher, written, payloads } = cipherPair(name);
      const sent = Array.from({ length: 200 }, (_, i) => randomBytes(1000 + ((i * 4099) % 32_000)));
      for (const payload of sent) send(cipher, payload);
      const wire = Buffer.concat(written.map((packet) => Buffer.from(packet)));
      const received: Buffer[] = [];
      const blocks = new Set<ArrayBufferLike>();
      let split = 0;
      // Read sizes that split most packets, as a busy socket does.
      for (let at = 0; at < wire.length; at += 7_001) {
        const piece = Buffer.from(wire.subarray(at, at + 7_001));
        decipher.decrypt(piece, 0, piece.length);
        for (const payload of payloads.splice(0)) {
          received.push(Buffer.from(payload));
          if (payload.buffer === piece.buffer) {
            assert.equal(crypto.releaseIncoming(payload), false, 'a whole packet is the read');
            continue;
          }
          split++;
          blocks.add(payload.buffer);
          assert.equal(crypto.releaseIncoming(payload), true, 'a split packet is in a lent block');
          assert.equal(crypto.releaseIncoming(payload), false, 'and goes back only once');
        }
      }
      assert.ok(split > sent.length / 2, `${split} of ${sent.length} packets were split`);
      assert.equal(sha256(Buffer.concat(received)), sha256(Buffer.concat(sent)));
      assert.ok(
        blocks.size < sent.length / 4,
        `${blocks.size} blocks served ${sent.length} packets`,
      );
    });
  }
});
