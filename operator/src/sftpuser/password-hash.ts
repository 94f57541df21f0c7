/**
 * Password hashes the operator stores: PBKDF2-HMAC-SHA256 in the `$pbkdf2-sha256$` form the
 * server verifies (auth/passwords.ts), computed with node:crypto so that the operator loads no
 * native module (argon2 stays in the server). 600,000 iterations, OWASP's 2023 figure for
 * this function; each hash runs on libuv's thread pool, off the event loop. A password the
 * operator generated (256 random bits) gains nothing from stretching: nobody can guess it
 * whatever the hash costs, so it is hashed with GENERATED_ITERATIONS (decision 0018).
 */
import { createHash, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);

export const DEFAULT_ITERATIONS = 600_000;
/** For passwords of generatePassword(): salted and in the same form, at a cost a login does not feel. */
export const GENERATED_ITERATIONS = 1_000;
const KEY_BYTES = 32;

/** `$pbkdf2-sha256$<iterations>$<salt>$<base64 key>`; the salt is used as its literal text. */
export async function hashPassword(
  plain: string,
  iterations = DEFAULT_ITERATIONS,
): Promise<string> {
  const salt = randomBytes(16).toString('base64url');
  const key = await derive(plain, salt, iterations, KEY_BYTES, 'sha256');
  return `$pbkdf2-sha256$${iterations}$${salt}$${key.toString('base64')}`;
}

/**
 * A digest of a stored hash, kept in the SftpUser status: when the hash in the database no
 * longer has this digest, someone changed it behind the operator, which writes it again. It
 * reveals nothing of the password: it is a digest of a salted, stretched hash.
 */
export function hashDigest(storedHash: string): string {
  return createHash('sha256').update(storedHash).digest('hex');
}

/** A password for `generate: true`: 32 random bytes, 43 URL-safe characters. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** What the generated Secret records of the password it was given (ANNOTATIONS.generatedPassword). */
export function passwordDigest(plain: string): string {
  return createHash('sha256').update(plain).digest('hex');
}
