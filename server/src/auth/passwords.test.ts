import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashPassword, isPasswordHash, verifyPassword } from './passwords.js';

/** Vectors come from the real `openssl` binary; a missing binary fails the test loudly. */
function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' }).trim();
}

function opensslPbkdf2(opts: {
  digest: string;
  plain: string;
  salt: string;
  iter: number;
}): string {
  const hex = openssl([
    'kdf',
    '-keylen',
    '32',
    '-kdfopt',
    `digest:${opts.digest}`,
    '-kdfopt',
    `pass:${opts.plain}`,
    '-kdfopt',
    `salt:${opts.salt}`,
    '-kdfopt',
    `iter:${opts.iter}`,
    'PBKDF2',
  ]);
  return Buffer.from(hex.replaceAll(':', ''), 'hex').toString('base64');
}

function randomSalt(): string {
  return randomBytes(6).toString('base64').replace(/[+]/g, '.').replace(/=/g, '');
}

const passwords = [
  'password',
  'pässwörd ünïcode',
  'a much longer password than sixteen bytes!',
  'x',
];

async function assertOnlyMatches(plain: string, stored: string): Promise<void> {
  assert.equal(await verifyPassword(plain, stored), true, `${stored} should accept its password`);
  assert.equal(await verifyPassword(plain + 'x', stored), false, `${stored} accepted a wrong one`);
  assert.equal(await verifyPassword('', stored), false, `${stored} accepted an empty one`);
  assert.equal(isPasswordHash(stored), true);
}

describe('passwords', () => {
  it('hashes new passwords with argon2id and verifies them', async () => {
    const stored = await hashPassword('correct horse');
    assert.match(stored, /^\$argon2id\$/);
    assert.notEqual(stored, await hashPassword('correct horse'), 'salts must differ');
    await assertOnlyMatches('correct horse', stored);
  });

  it('verifies the documented pbkdf2-sha256 and bcrypt examples', async () => {
    const pbkdf2 =
      '$pbkdf2-sha256$150000$E86a9YMX3zC7$R5J62hsSq+pYw00hLLPKBbcGXmq7fj5+/M0IFoYtZbo=';
    await assertOnlyMatches('password', pbkdf2);
    // Cost 14 takes seconds per check in bcryptjs: one right and one wrong password only.
    const bcrypt14 = '$2a$14$ajq8Q7fbtFRQvXpdCq7Jcuy.Rx1h/L4J60Otx.gyNLbAYctGMJ9tK';
    assert.equal(await verifyPassword('secret', bcrypt14), true);
    assert.equal(await verifyPassword('Secret', bcrypt14), false);
  });

  it('verifies bcrypt $2b$ and $2y$ hashes made by libxcrypt', async () => {
    await assertOnlyMatches(
      'secret',
      '$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a',
    );
    await assertOnlyMatches(
      'secret',
      '$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a',
    );
  });

  it('verifies pbkdf2 sha1, sha256 and sha512 keys derived by openssl', async () => {
    for (const digest of ['sha1', 'sha256', 'sha512']) {
      const salt = randomSalt();
      const key = opensslPbkdf2({ digest, plain: 'pbkdf2 pässword', salt, iter: 1000 });
      await assertOnlyMatches('pbkdf2 pässword', `$pbkdf2-${digest}$1000$${salt}$${key}`);
    }
  });

  it('verifies md5crypt hashes made by openssl passwd -1', async () => {
    assert.equal(
      openssl(['passwd', '-1', '-salt', 'saltsalt', 'pässwörd']),
      '$1$saltsalt$VReRfkQ8Hs1aayf/oxMkG/',
    );
    for (const plain of passwords) {
      await assertOnlyMatches(plain, openssl(['passwd', '-1', '-salt', randomSalt(), plain]));
    }
  });

  it('verifies sha512crypt hashes made by openssl passwd -6, with and without rounds', async () => {
    for (const plain of passwords) {
      await assertOnlyMatches(plain, openssl(['passwd', '-6', '-salt', randomSalt(), plain]));
    }
    const withRounds = openssl(['passwd', '-6', '-salt', `rounds=2000$${randomSalt()}`, 'pw']);
    assert.match(withRounds, /^\$6\$rounds=2000\$/);
    await assertOnlyMatches('pw', withRounds);
  });

  it('never matches and never throws on unknown or malformed stored values', async () => {
    const malformed = [
      '',
      'plain text',
      '$argon2id$garbage',
      '$2a$14$short',
      '$pbkdf2-sha256$notanumber$salt$AAAA',
      '$pbkdf2-sha256$0$salt$AAAA',
      '$pbkdf2-sha256$1000$salt$',
      '$pbkdf2-md5$1000$salt$AAAA',
      '$1$',
      '$6$bad salt!$abc',
      '$5$saltsalt$abc',
    ];
    for (const stored of malformed) {
      assert.equal(await verifyPassword('', stored), false, stored);
      assert.equal(await verifyPassword('password', stored), false, stored);
    }
  });

  it('recognises only the supported hash prefixes', () => {
    assert.equal(isPasswordHash('$argon2i$v=19$m=1,t=1,p=1$abc$def'), false);
    assert.equal(isPasswordHash('$5$saltsalt$abc'), false);
    assert.equal(isPasswordHash('secret'), false);
    assert.equal(isPasswordHash('$pbkdf2-sha512$1$s$AA=='), true);
  });
});
