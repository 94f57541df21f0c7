import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyPassword } from '../../../server/src/auth/passwords.js';
import { isPasswordHash } from '../../../server/src/auth/password-formats.js';
import {
  GENERATED_ITERATIONS,
  generatePassword,
  hashDigest,
  hashPassword,
  passwordDigest,
} from './password-hash.js';

describe('operator password hashes', () => {
  it('are verified by the server, and only for the right password', async () => {
    const hash = await hashPassword('correct horse battery staple', 1000);
    assert.ok(isPasswordHash(hash), hash);
    assert.equal(await verifyPassword('correct horse battery staple', hash), true);
    assert.equal(await verifyPassword('correct horse battery stapl', hash), false);
  });

  it('use the default iteration count and a fresh salt each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    assert.match(a, /^\$pbkdf2-sha256\$600000\$/);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', b), true);
    assert.notEqual(hashDigest(a), hashDigest(b));
    assert.match(hashDigest(a), /^[0-9a-f]{64}$/);
  });

  it('generate long random passwords', () => {
    const passwords = new Set(Array.from({ length: 50 }, generatePassword));
    assert.equal(passwords.size, 50);
    for (const password of passwords) assert.match(password, /^[A-Za-z0-9_-]{43}$/);
  });

  it('hash a generated password cheaply, in a form the server verifies', async () => {
    const password = generatePassword();
    const hash = await hashPassword(password, GENERATED_ITERATIONS);
    assert.match(hash, /^\$pbkdf2-sha256\$1000\$/);
    assert.equal(await verifyPassword(password, hash), true);
    assert.equal(passwordDigest(password), passwordDigest(password));
    assert.notEqual(passwordDigest(password), passwordDigest(generatePassword()));
  });
});
