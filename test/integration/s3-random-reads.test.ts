/**
 * Random access to an S3 home with paramiko, a third-party client: seeks to offsets in no
 * particular order (across part boundaries, backwards, over the end of the file) and reads,
 * then one whole read with paramiko's prefetch (many reads in flight). Every piece is checked
 * by sha256 against the bytes stored, which the SDK put there directly.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientsPython } from '../attack/python-clients.js';
import { repoRoot } from './harness.js';
import { MiB, startS3Fixture, type S3Fixture } from './s3-fixture.js';

const SCRIPT = join(repoRoot, 'test/integration/s3_random_reads.py');

interface PieceReport {
  offset: number;
  length: number;
  got: number;
  sha256: string;
}

interface ReadsReport {
  paramiko: string;
  size: number;
  pieces: PieceReport[];
  whole: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function runReads(python: string, job: Record<string, unknown>): Promise<ReadsReport> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      python,
      [SCRIPT],
      { timeout: 120_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`paramiko reads failed: ${err.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as ReadsReport);
        } catch {
          reject(new Error(`paramiko reads printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
    child.stdin!.end(JSON.stringify(job));
  });
}

describe('paramiko reads an S3 file at random offsets', { timeout: 300_000 }, () => {
  let fx: S3Fixture;
  let python: string;

  before(async () => {
    python = await clientsPython();
    fx = await startS3Fixture();
  });
  after(() => fx?.stop());

  test('seeks in random order, a read over the end and a prefetched whole read all match the object (sha256)', async () => {
    // 5 MiB parts, 2 ahead: the file spans five parts, so reads cross part boundaries.
    await fx.addS3User('seek', { s3config: { download_part_size: 5, download_concurrency: 2 } });
    const part = 5 * MiB;
    const source = randomBytes(4 * part + 12_345);
    const size = source.length;
    await fx.client.send(
      new PutObjectCommand({ Bucket: fx.s3.bucket, Key: 'seek/data.bin', Body: source }),
    );
    // No order a read-ahead would guess: forwards, backwards, repeated, and over the end.
    const pieces: [number, number][] = [
      [3 * part + 777, 64 * 1024],
      [0, 1000],
      [part - 100, 300],
      [size - 1000, 5000],
      [2 * part - 2 * MiB, 4 * MiB],
      [123_456, 32 * 1024],
      [4 * part, 12_345],
      [part - 100, 300],
      [size + 10, 100],
      [7, 1],
      [3 * part, 3 * part],
      [size - 1, 1],
    ];
    const report = await runReads(python, {
      host: '127.0.0.1',
      port: fx.server.sftpPort,
      username: 'seek',
      password: 'pw-seek',
      path: '/data.bin',
      pieces,
    });
    assert.equal(report.paramiko, '5.1.0', 'the pinned paramiko ran');
    assert.equal(report.size, size);
    const expected = pieces.map(([offset, length]) => {
      const piece = source.subarray(Math.min(offset, size), Math.min(size, offset + length));
      return { offset, length, got: piece.length, sha256: sha256(piece) };
    });
    assert.deepEqual(report.pieces, expected);
    assert.equal(report.pieces[3]!.got, 1000, 'a read over the end returns what is left');
    assert.equal(report.pieces[8]!.got, 0, 'a read past the end returns nothing');
    assert.equal(report.whole, sha256(source), 'the prefetched whole read');
  });
});
