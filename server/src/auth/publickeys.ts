/**
 * Public keys as users store them: one OpenSSH authorized_keys line each
 * (`<type> <base64 blob> [comment]`, without options).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseAuthorizedKey, type AuthorizedKey } from './authorized-key.js';

export { parseAuthorizedKey, type AuthorizedKey };

/** The SHA256 fingerprint of a stored key line, formatted as `ssh-keygen -l` prints it. */
export function fingerprint(key: string): string {
  const { data } = parseAuthorizedKey(key);
  return 'SHA256:' + createHash('sha256').update(data).digest('base64').replace(/=+$/, '');
}

/** RSA keys are offered under their signature algorithm names too. */
const RSA_SIGNATURE_ALGOS = new Set(['rsa-sha2-256', 'rsa-sha2-512']);

/**
 * Finds the stored key line whose blob equals the offered one. Blobs are compared in
 * constant time; stored lines that no longer parse are skipped.
 */
export function matchPublicKey(
  storedKeys: string[],
  algo: string,
  data: Buffer,
): string | undefined {
  const offeredAlgo = RSA_SIGNATURE_ALGOS.has(algo) ? 'ssh-rsa' : algo;
  let match: string | undefined;
  for (const line of storedKeys) {
    const stored = tryParse(line);
    if (stored === undefined || stored.algo !== offeredAlgo) continue;
    if (stored.data.length === data.length && timingSafeEqual(stored.data, data)) match ??= line;
  }
  return match;
}

function tryParse(line: string): AuthorizedKey | undefined {
  try {
    return parseAuthorizedKey(line);
  } catch {
    return undefined;
  }
}
