import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ErrorCode, KubesftpError } from '../errors.js';
import { attrsFromStat, setAttrsFromWire } from './attrs.js';
import { BlockPool } from './block-pool.js';
import { PacketType, StatusCode } from './constants.js';
import { BAD_LENGTH, FrameBuffer } from './framing.js';
import { formatLongname, modeString } from './longname.js';
import { PacketReader } from './reader.js';
import { toStatus } from './status.js';
import {
  encodeAttrs,
  encodeData,
  encodeExtendedStrings,
  encodeExtendedU64s,
  encodeHandle,
  encodeName,
  encodeStatus,
  encodeVersion,
} from './writer.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const ascii = (text: string): number[] => [...Buffer.from(text, 'ascii')];

describe('writer', () => {
  it('encodes STATUS with the fixed message and an empty language tag', () => {
    // prettier-ignore
    const expected = bytes(
      0, 0, 0, 28, 101, 0, 0, 0, 7, // length, STATUS, id
      0, 0, 0, 1, // SSH_FX_EOF
      0, 0, 0, 11, ...ascii('End of file'),
      0, 0, 0, 0, // empty language tag
    );
    assert.deepEqual(encodeStatus(7, StatusCode.EOF), expected);
  });

  it('encodes HANDLE byte for byte', () => {
    assert.deepEqual(
      encodeHandle(0x01020304, 'ab'),
      bytes(0, 0, 0, 11, 102, 1, 2, 3, 4, 0, 0, 0, 2, 0x61, 0x62),
    );
  });

  it('encodes DATA as its header followed by the payload itself, not a copy', () => {
    const payload = bytes(9, 8, 7);
    const [header, data] = encodeData(1, payload);
    assert.deepEqual(header, bytes(0, 0, 0, 12, 103, 0, 0, 0, 1, 0, 0, 0, 3));
    assert.equal(data, payload);
  });

  it('encodes ATTRS with every v3 field', () => {
    const attrs = {
      size: 0x1_0000_0002,
      uid: 5,
      gid: 6,
      permissions: 0o100644,
      atime: 10,
      mtime: 11,
    };
    // prettier-ignore
    const expected = bytes(
      0, 0, 0, 37, 105, 0, 0, 0, 2, // length, ATTRS, id
      0, 0, 0, 15, // flags: size, uid/gid, permissions, times
      0, 0, 0, 1, 0, 0, 0, 2, // size
      0, 0, 0, 5, 0, 0, 0, 6, // uid gid
      0, 0, 0x81, 0xa4, // mode 0100644
      0, 0, 0, 10, 0, 0, 0, 11, // atime mtime
    );
    assert.deepEqual(encodeAttrs(2, attrs), expected);
  });

  it('encodes NAME with empty attributes', () => {
    assert.deepEqual(
      encodeName(3, [{ filename: '/', longname: '/', attrs: {} }]),
      bytes(
        0,
        0,
        0,
        23,
        104,
        0,
        0,
        0,
        3,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        1,
        0x2f,
        0,
        0,
        0,
        1,
        0x2f,
        0,
        0,
        0,
        0,
      ),
    );
  });

  it('encodes VERSION with extension pairs', () => {
    assert.deepEqual(
      encodeVersion(3, [{ name: 'a@b', data: '1' }]),
      bytes(0, 0, 0, 17, 2, 0, 0, 0, 3, 0, 0, 0, 3, ...ascii('a@b'), 0, 0, 0, 1, 0x31),
    );
  });

  it('encodes EXTENDED_REPLY bodies of u64 values and of strings', () => {
    assert.deepEqual(
      encodeExtendedU64s(4, [1, 2 ** 40]),
      bytes(0, 0, 0, 21, 201, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0),
    );
    assert.deepEqual(
      encodeExtendedStrings(4, [bytes(0xaa), bytes()]),
      bytes(0, 0, 0, 14, 201, 0, 0, 0, 4, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0),
    );
  });
});

describe('reader', () => {
  it('reads every field type in order', () => {
    const packet = bytes(
      7,
      0,
      0,
      0,
      9,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      2,
      0x68,
      0x69,
      0,
      0,
      0,
      1,
      0xff,
    );
    const reader = new PacketReader(packet);
    assert.equal(reader.u8(), 7);
    assert.equal(reader.u32(), 9);
    assert.equal(reader.u64(), 2 ** 32 + 2);
    assert.equal(reader.string(), 'hi');
    assert.deepEqual(reader.bytes(), bytes(0xff));
    assert.equal(reader.failed, false);
    assert.equal(reader.remaining, 0);
  });

  it('is sticky: after a short read every read returns a zero value', () => {
    const reader = new PacketReader(bytes(0, 0, 0, 5, 1, 2));
    assert.equal(reader.string(), '');
    assert.equal(reader.failed, true);
    assert.equal(reader.u8(), 0);
    assert.equal(reader.u32(), 0);
    assert.equal(reader.u64(), 0);
    assert.deepEqual(reader.bytes(), bytes());
    assert.deepEqual(reader.attrs(), {});
    assert.equal(reader.failed, true);
  });

  it('returns byte strings as views of the packet, not copies', () => {
    const packet = bytes(0, 0, 0, 2, 5, 6);
    const view = new PacketReader(packet).bytes();
    packet[4] = 42;
    assert.equal(view[0], 42);
  });

  it('round-trips attributes through the writer and tolerates extended pairs', () => {
    const attrs = { size: 123456789, uid: 1, gid: 2, permissions: 0o40755, atime: 3, mtime: 4 };
    const packet = encodeAttrs(1, attrs);
    const reader = new PacketReader(packet, 9);
    assert.deepEqual(reader.attrs(), attrs);
    // flags SIZE|EXTENDED, size 9, one pair ("a", "b")
    // prettier-ignore
    const withExtended = bytes(
      0x80, 0, 0, 1,
      0, 0, 0, 0, 0, 0, 0, 9,
      0, 0, 0, 1,
      0, 0, 0, 1, 0x61,
      0, 0, 0, 1, 0x62,
    );
    const extendedReader = new PacketReader(withExtended);
    assert.deepEqual(extendedReader.attrs(), { size: 9 });
    assert.equal(extendedReader.failed, false);
    assert.equal(extendedReader.remaining, 0);
  });

  it('marks an absurd extended pair count as malformed instead of looping', () => {
    const reader = new PacketReader(bytes(0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff));
    reader.attrs();
    assert.equal(reader.failed, true);
  });
});

describe('attrs mapping', () => {
  it('sends the full mode and passes only permission bits to the vfs', () => {
    const stat = { size: 1, uid: 2, gid: 3, mode: 0o100640, atime: 4, mtime: 5, nlink: 1 };
    assert.deepEqual(attrsFromStat(stat), {
      size: 1,
      uid: 2,
      gid: 3,
      permissions: 0o100640,
      atime: 4,
      mtime: 5,
    });
    assert.deepEqual(setAttrsFromWire({ permissions: 0o104755 }), { mode: 0o4755 });
  });
});

describe('framing', () => {
  it('gives back chunks it copied out whole, never one a returned packet views', () => {
    const released: Buffer[] = [];
    const frames = new FrameBuffer(100_000, undefined, (chunk) => released.push(chunk));
    const large = Buffer.concat(encodeData(1, randomBytes(50_000)));
    const small = encodeHandle(2, 'y');
    // Three pieces of the large packet, the last one followed by the whole small packet.
    const pieces = [
      large.subarray(0, 20_000),
      large.subarray(20_000, 40_000),
      Buffer.concat([large.subarray(40_000), small]),
    ];
    for (const piece of pieces) frames.push(piece);
    assert.deepEqual(frames.next(), large.subarray(4));
    assert.deepEqual(released, pieces.slice(0, 2), 'the two pieces copied whole');
    assert.deepEqual(frames.next(), small.subarray(4));
    assert.equal(released.length, 2, 'the piece the small packet views is kept');
  });

  it('copies a large packet that spans chunks into a pool block, and a small one outside it', () => {
    const pool = new BlockPool(70_000 + 4, 4);
    const frames = new FrameBuffer(70_000, pool);
    const large = Buffer.concat(encodeData(3, randomBytes(60_000)));
    const small = encodeHandle(4, 'x');
    frames.push(large.subarray(0, 30_000));
    frames.push(Buffer.concat([large.subarray(30_000), small.subarray(0, 3)]));
    frames.push(small.subarray(3));
    const first = frames.next() as Buffer;
    assert.deepEqual(first, large.subarray(4));
    const second = frames.next() as Buffer;
    assert.deepEqual(second, small.subarray(4));
    assert.equal(pool.release(first), true, 'the large packet lies in a block');
    assert.equal(pool.release(second), false, 'the small one does not');
  });

  it('returns packets that arrive whole, split, and several per chunk', () => {
    const frames = new FrameBuffer(100);
    const a = encodeHandle(1, 'x');
    const b = Buffer.concat(encodeData(2, bytes(1, 2, 3)));
    const stream = Buffer.concat([a, b, a]);
    frames.push(stream.subarray(0, 2));
    assert.equal(frames.next(), null);
    frames.push(stream.subarray(2, a.length + 5));
    assert.deepEqual(frames.next(), a.subarray(4));
    assert.equal(frames.next(), null);
    frames.push(stream.subarray(a.length + 5));
    assert.deepEqual(frames.next(), b.subarray(4));
    assert.deepEqual(frames.next(), a.subarray(4));
    assert.equal(frames.next(), null);
    assert.equal(frames.buffered, 0);
  });

  it('rejects a zero or oversized length before buffering the body', () => {
    const frames = new FrameBuffer(100);
    frames.push(bytes(0, 0, 0, 101));
    assert.equal(frames.next(), BAD_LENGTH);
    const zero = new FrameBuffer(100);
    zero.push(bytes(0, 0, 0, 0));
    assert.equal(zero.next(), BAD_LENGTH);
  });
});

describe('longname', () => {
  it('formats the mode column like ls -l', () => {
    assert.equal(modeString(0o100644), '-rw-r--r--');
    assert.equal(modeString(0o040755), 'drwxr-xr-x');
    assert.equal(modeString(0o120777), 'lrwxrwxrwx');
    assert.equal(modeString(0o104755), '-rwsr-xr-x');
    assert.equal(modeString(0o102644), '-rw-r-Sr--');
    assert.equal(modeString(0o041777), 'drwxrwxrwt');
  });

  it('lays out a line like OpenSSH, recent and old times', () => {
    const now = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;
    const stat = {
      size: 1234,
      uid: 1000,
      gid: 50,
      mode: 0o100644,
      atime: 0,
      mtime: now - 3600,
      nlink: 1,
    };
    const names = { userName: (uid: number) => (uid === 1000 ? 'alice' : undefined) };
    assert.equal(
      formatLongname('notes.txt', stat, { names, now }),
      '-rw-r--r--    1 alice    50           1234 Jun 15 11:00 notes.txt',
    );
    const old = { ...stat, mtime: Date.UTC(2020, 0, 5) / 1000 };
    assert.equal(
      formatLongname('old', old, { now }),
      '-rw-r--r--    1 1000     50           1234 Jan  5  2020 old',
    );
  });
});

describe('toStatus', () => {
  it('maps core error codes to SSH_FX codes', () => {
    const cases: [ErrorCode, number][] = [
      [ErrorCode.NO_SUCH_FILE, StatusCode.NO_SUCH_FILE],
      [ErrorCode.NOT_A_DIRECTORY, StatusCode.NO_SUCH_FILE],
      [ErrorCode.PERMISSION_DENIED, StatusCode.PERMISSION_DENIED],
      [ErrorCode.PATH_ESCAPE, StatusCode.PERMISSION_DENIED],
      [ErrorCode.UNSUPPORTED, StatusCode.OP_UNSUPPORTED],
      [ErrorCode.INVALID_ARGUMENT, StatusCode.BAD_MESSAGE],
      [ErrorCode.FILE_EXISTS, StatusCode.FAILURE],
      [ErrorCode.QUOTA_EXCEEDED, StatusCode.FAILURE],
    ];
    for (const [code, status] of cases) {
      assert.equal(toStatus(new KubesftpError(code, 'detail')).code, status, code);
    }
  });

  it('maps errno errors and unknown throws through toKubesftpError', () => {
    const enoent = Object.assign(new Error('gone'), { code: 'ENOENT' });
    assert.equal(toStatus(enoent).code, StatusCode.NO_SUCH_FILE);
    assert.equal(toStatus('weird').code, StatusCode.FAILURE);
    assert.equal(PacketType.STATUS, 101);
  });
});
