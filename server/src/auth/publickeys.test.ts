import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, isKubesftpError } from '../errors.js';
import { fingerprint, matchPublicKey, parseAuthorizedKey } from './publickeys.js';

interface GeneratedKey {
  type: string;
  line: string;
  privatePem: string;
  /** What `ssh-keygen -l` prints as the fingerprint. */
  keygenFingerprint: string;
}

const dir = mkdtempSync(join(tmpdir(), 'kubesftp-keys-'));
const keys = new Map<string, GeneratedKey>();

/** Real keys from the real `ssh-keygen`; a missing binary fails the suite loudly. */
function generate(type: string, extra: string[] = []): GeneratedKey {
  const file = join(dir, `id_${type}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...extra,
    '-N',
    '',
    '-C',
    `${type} key`,
    '-f',
    file,
  ]);
  const listed = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' });
  return {
    type,
    line: readFileSync(`${file}.pub`, 'utf8'),
    privatePem: readFileSync(file, 'utf8'),
    keygenFingerprint: listed.split(' ')[1] ?? '',
  };
}

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (err) => isKubesftpError(err, ErrorCode.INVALID_ARGUMENT));
}

describe('public keys', () => {
  before(() => {
    keys.set('ssh-ed25519', generate('ed25519'));
    keys.set('ssh-rsa', generate('rsa', ['-b', '2048']));
    keys.set('ecdsa-sha2-nistp256', generate('ecdsa', ['-b', '256']));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses ssh-keygen public key lines', () => {
    for (const [algo, key] of keys) {
      const parsed = parseAuthorizedKey(key.line);
      assert.equal(parsed.algo, algo);
      assert.equal(parsed.comment, `${key.type} key`);
      const blob = Buffer.from(key.line.split(' ')[1] ?? '', 'base64');
      assert.equal(parsed.data.toString('hex'), blob.toString('hex'));
    }
  });

  it('computes the same fingerprints as ssh-keygen -l', () => {
    for (const key of keys.values()) {
      assert.match(key.keygenFingerprint, /^SHA256:/);
      assert.equal(fingerprint(key.line), key.keygenFingerprint);
    }
  });

  it('rejects garbage, truncated keys and private keys with INVALID_ARGUMENT', () => {
    const ed = keys.get('ssh-ed25519')!;
    assertInvalid(() => parseAuthorizedKey(''));
    assertInvalid(() => parseAuthorizedKey('not a key'));
    assertInvalid(() => parseAuthorizedKey(ed.line.slice(0, 40)));
    assertInvalid(() => parseAuthorizedKey(ed.privatePem));
    assertInvalid(() => fingerprint('ssh-rsa AAAA'));
    const [, blob] = ed.line.split(' ');
    assertInvalid(() => parseAuthorizedKey(`ssh-rsa ${blob}`));
  });

  it('matches an offered key blob only against the same stored key', () => {
    const rsa = keys.get('ssh-rsa')!;
    const ed = keys.get('ssh-ed25519')!;
    const ec = keys.get('ecdsa-sha2-nistp256')!;
    const stored = ['garbage line', ed.line, rsa.line];
    const edBlob = parseAuthorizedKey(ed.line).data;
    const rsaBlob = parseAuthorizedKey(rsa.line).data;
    assert.equal(matchPublicKey(stored, 'ssh-ed25519', edBlob), ed.line);
    assert.equal(matchPublicKey(stored, 'rsa-sha2-512', rsaBlob), rsa.line);
    assert.equal(matchPublicKey(stored, 'ssh-ed25519', rsaBlob), undefined);
    const ecBlob = parseAuthorizedKey(ec.line).data;
    assert.equal(matchPublicKey(stored, 'ecdsa-sha2-nistp256', ecBlob), undefined);
    const flipped = Buffer.from(edBlob);
    flipped[flipped.length - 1]! ^= 1;
    assert.equal(matchPublicKey(stored, 'ssh-ed25519', flipped), undefined);
    assert.equal(matchPublicKey([], 'ssh-ed25519', edBlob), undefined);
  });
});
