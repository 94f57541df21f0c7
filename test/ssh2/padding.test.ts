// Outgoing packets take their random padding from a buffer refilled 64 KiB at a time rather
// than one randomFillSync call each. Every packet must still get bytes no other packet got.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

const require = createRequire(import.meta.url);

interface OutboundCipher {
  allocPacket(payloadLen: number): Buffer;
}
interface CryptoModule {
  NullCipher: new (seqno: number, onWrite: (packet: Buffer) => void) => OutboundCipher;
}

const { NullCipher } = require('ssh2/lib/protocol/crypto.js') as CryptoModule;

describe('packet padding', () => {
  // Enough packets that their padding spans several refills of the 64 KiB buffer.
  const packets = 30_000;
  const cipher = new NullCipher(0, () => undefined);
  const paddings = Array.from({ length: packets }, (_, i) => {
    const payloadLen = 1 + (i % 200);
    const packet = cipher.allocPacket(payloadLen);
    const padLen = packet[4]!;
    assert.equal(packet.readUInt32BE(0), packet.length - 4, 'length field');
    assert.ok(padLen >= 4 && packet.length % 8 === 0, 'padding length and block alignment');
    return packet.subarray(5 + payloadLen);
  });

  it('gives each packet bytes of its own, across refills', () => {
    const all = Buffer.concat(paddings);
    assert.ok(all.length > 3 * 64 * 1024, `padding bytes ${all.length} cross several refills`);
    // Bytes handed out twice would show up as repeated 16-byte runs; random ones do not repeat.
    const runs = new Set<string>();
    for (let at = 0; at + 16 <= all.length; at += 16) {
      const run = all.subarray(at, at + 16).toString('hex');
      assert.ok(!runs.has(run), `16-byte run at ${at} repeats an earlier one`);
      runs.add(run);
    }
  });

  it('looks random: every byte value occurs, none dominates', () => {
    const counts = new Array<number>(256).fill(0);
    for (const padding of paddings) for (const byte of padding) counts[byte]!++;
    const total = counts.reduce((sum, count) => sum + count, 0);
    assert.ok(Math.min(...counts) > 0);
    assert.ok(Math.max(...counts) < (total / 256) * 1.5);
  });
});
