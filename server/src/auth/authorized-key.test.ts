/**
 * The authorized_keys parser made with node:crypto alone accepts what ssh-keygen makes, for
 * every key type the server verifies, and refuses blobs that only look like keys.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { parseAuthorizedKey } from './authorized-key.js';

const dir = mkdtempSync(join(tmpdir(), 'kubesftp-authkeys-'));

const made = new Map<string, string>();

/** A public key line from the real ssh-keygen, made once per type and size. */
function keygen(type: string, bits: string): string {
  const file = join(dir, `id_${type}_${bits}`);
  const known = made.get(file);
  if (known !== undefined) return known;
  execFileSync('ssh-keygen', ['-q', '-t', type, '-b', bits, '-N', '', '-C', 'c', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8');
  made.set(file, line);
  return line;
}

/** An SSH wire string. */
function wire(...parts: Array<string | Buffer>): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      const bytes = typeof part === 'string' ? Buffer.from(part) : part;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

function refused(line: string, reason: RegExp): void {
  assert.throws(
    () => parseAuthorizedKey(line),
    (err) => isKubesftpError(err, ErrorCode.INVALID_ARGUMENT) && reason.test(err.message),
  );
}

describe('authorized_keys lines without ssh2', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts ed25519, RSA and every ECDSA curve as ssh-keygen writes them', () => {
    const lines = [
      ['ssh-ed25519', keygen('ed25519', '256')],
      ['ssh-rsa', keygen('rsa', '2048')],
      ['ecdsa-sha2-nistp256', keygen('ecdsa', '256')],
      ['ecdsa-sha2-nistp384', keygen('ecdsa', '384')],
      ['ecdsa-sha2-nistp521', keygen('ecdsa', '521')],
    ] as const;
    for (const [algo, line] of lines) {
      const parsed = parseAuthorizedKey(line);
      assert.equal(parsed.algo, algo);
      assert.equal(parsed.comment, 'c');
      assert.equal(parsed.data.toString('base64'), line.split(' ')[1]);
    }
  });

  it('refuses blobs that only look like keys', () => {
    const ed = Buffer.from(keygen('ed25519', '256').split(' ')[1]!, 'base64');
    const b64 = (blob: Buffer): string => blob.toString('base64');
    refused(`ssh-ed25519 ${b64(Buffer.concat([ed, Buffer.from([0])]))}`, /trailing bytes/);
    refused(`ssh-ed25519 ${b64(wire('ssh-ed25519', Buffer.alloc(31)))}`, /32 bytes/);
    refused(`ssh-ed25519 ${b64(ed.subarray(0, ed.length - 3))}`, /truncated/);
    refused(`ssh-dss2 ${b64(wire('ssh-dss2', 'x'))}`, /unsupported key type/);
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
    refused(
      `ecdsa-sha2-nistp256 ${b64(wire('ecdsa-sha2-nistp256', 'nistp256', offCurve))}`,
      /not a valid ecdsa-sha2-nistp256 key/,
    );
    refused(
      `ecdsa-sha2-nistp256 ${b64(wire('ecdsa-sha2-nistp256', 'nistp384', offCurve))}`,
      /wrong curve name/,
    );
    refused('-----BEGIN OPENSSH PRIVATE KEY-----', /PEM/);
    refused('ssh-ed25519', /not an OpenSSH public key line/);
  });
});
