/**
 * Password hashes: new passwords are stored as argon2id; bcrypt, pbkdf2, md5crypt and
 * sha512crypt hashes imported from other systems are verified as they are.
 */
import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { passwordCheckLimit, type ConcurrencyLimit } from './check-limit.js';

export { isPasswordHash } from './password-formats.js';

const pbkdf2Async = promisify(pbkdf2);

/** Keeps a stored pbkdf2 hash from pinning a CPU for minutes on every login. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;

/**
 * The hashing libraries load on first use: a server whose accounts log in with keys only
 * never holds them (argon2 is a native addon).
 */
async function loadArgon2(): Promise<typeof import('argon2')> {
  return (await import('argon2')).default;
}

/** Hashes a clear-text password with argon2id for storage. */
export async function hashPassword(plain: string): Promise<string> {
  const argon2 = await loadArgon2();
  return argon2.hash(plain, { type: argon2.argon2id });
}

/**
 * Checks `plain` against a stored hash of any supported format. A malformed or unknown
 * stored value never matches and never throws, whatever the client sent. Checks wait for a
 * slot of `limit`; when its queue is full the check fails at once, as a wrong password does.
 */
export async function verifyPassword(
  plain: string,
  stored: string,
  limit: ConcurrencyLimit = passwordCheckLimit,
): Promise<boolean> {
  try {
    return await limit.run(() => verifyByFormat(plain, stored));
  } catch {
    return false;
  }
}

async function verifyByFormat(plain: string, stored: string): Promise<boolean> {
  if (stored.startsWith('$argon2id$')) return (await loadArgon2()).verify(stored, plain);
  if (/^\$2[aby]\$/.test(stored)) return (await import('bcryptjs')).default.compare(plain, stored);
  if (stored.startsWith('$pbkdf2-')) return verifyPbkdf2(plain, stored);
  if (stored.startsWith('$1$')) return equalStrings(md5Crypt(plain, stored), stored);
  if (stored.startsWith('$6$')) return verifySha512Crypt(plain, stored, await import('unixcrypt'));
  return false;
}

const PBKDF2_DIGESTS: Record<string, string> = {
  'pbkdf2-sha1': 'sha1',
  'pbkdf2-sha256': 'sha256',
  'pbkdf2-sha512': 'sha512',
};

/** `$pbkdf2-<algo>$<iterations>$<salt>$<base64 key>`; the salt is used as its literal bytes. */
async function verifyPbkdf2(plain: string, stored: string): Promise<boolean> {
  const [empty, algo, iterText, salt, encoded, ...rest] = stored.split('$');
  const digest = PBKDF2_DIGESTS[algo ?? ''];
  if (empty !== '' || digest === undefined || salt === undefined || rest.length > 0) return false;
  const iterations = Number(iterText);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    return false;
  }
  const expected = Buffer.from(encoded ?? '', 'base64');
  if (expected.length === 0) return false;
  const actual = await pbkdf2Async(plain, salt, iterations, expected.length, digest);
  return timingSafeEqual(actual, expected);
}

function verifySha512Crypt(
  plain: string,
  stored: string,
  unixcrypt: typeof import('unixcrypt'),
): boolean {
  const settings = stored.slice(0, stored.lastIndexOf('$'));
  return equalStrings(unixcrypt.encrypt(plain, settings), stored);
}

/** Constant-time string comparison; only the length can differ observably. */
function equalStrings(actual: string, expected: string): boolean {
  const a = Buffer.from(actual, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * md5crypt (`$1$`) as glibc computes it for /etc/shadow. Written here because the npm
 * implementations hash JavaScript strings as Latin-1, which breaks non-ASCII passwords.
 */
function md5Crypt(plain: string, stored: string): string {
  const password = Buffer.from(plain, 'utf8');
  const saltText = (stored.slice(3).split('$')[0] ?? '').slice(0, 8);
  const salt = Buffer.from(saltText, 'utf8');
  let digest = md5CryptInitial(password, salt);
  for (let round = 0; round < 1000; round++) {
    const md5 = createHash('md5');
    md5.update(round % 2 === 1 ? password : digest);
    if (round % 3 !== 0) md5.update(salt);
    if (round % 7 !== 0) md5.update(password);
    md5.update(round % 2 === 1 ? digest : password);
    digest = md5.digest();
  }
  return `$1$${saltText}$${md5CryptEncode(digest)}`;
}

function md5CryptInitial(password: Buffer, salt: Buffer): Buffer {
  const alternate = createHash('md5').update(password).update(salt).update(password).digest();
  const md5 = createHash('md5').update(password).update('$1$').update(salt);
  for (let left = password.length; left > 0; left -= 16) {
    md5.update(alternate.subarray(0, Math.min(left, 16)));
  }
  for (let bits = password.length; bits > 0; bits >>= 1) {
    md5.update(bits & 1 ? Buffer.of(0) : password.subarray(0, 1));
  }
  return md5.digest();
}

/** The byte shuffle and base-64 alphabet of md5crypt's output. */
function md5CryptEncode(digest: Buffer): string {
  const groups = [
    [0, 6, 12],
    [1, 7, 13],
    [2, 8, 14],
    [3, 9, 15],
    [4, 10, 5],
  ] as const;
  let out = '';
  for (const [a, b, c] of groups) {
    out += toCrypt64(((digest[a] ?? 0) << 16) | ((digest[b] ?? 0) << 8) | (digest[c] ?? 0), 4);
  }
  return out + toCrypt64(digest[11] ?? 0, 2);
}

function toCrypt64(value: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += CRYPT_ALPHABET[(value >> (6 * i)) & 63] ?? '';
  return out;
}
