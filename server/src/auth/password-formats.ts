/**
 * The password hash formats kubesftp can verify, told apart by their prefix. Pure: the
 * provider seam uses it to refuse clear text without loading the hashing libraries.
 */
const HASH_PREFIXES = [
  '$argon2id$',
  '$2a$',
  '$2b$',
  '$2y$',
  '$pbkdf2-sha1$',
  '$pbkdf2-sha256$',
  '$pbkdf2-sha512$',
  '$1$',
  '$6$',
] as const;

/** Tells whether `value` starts with the prefix of a hash format we can verify. */
export function isPasswordHash(value: string): boolean {
  return HASH_PREFIXES.some((prefix) => value.startsWith(prefix));
}
