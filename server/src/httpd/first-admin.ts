/**
 * The first admin of a new installation. Kept apart from the token code (admin-auth.ts) so
 * that `serve` can create it at start without loading the JWT library and the REST stack.
 */
import { randomBytes } from 'node:crypto';
import type { DataProvider } from '../dataprovider/types.js';
import { ErrorCode, isKubesftpError } from '../errors.js';

export interface EnsureAdminOptions {
  username?: string;
  password?: string;
}

/** Creates the first admin when there is none; a generated password is returned to be shown once. */
export async function ensureAdmin(
  provider: DataProvider,
  options: EnsureAdminOptions = {},
): Promise<{ created: boolean; password?: string }> {
  if ((await provider.countAdmins()) > 0) return { created: false };
  const password = options.password ?? randomBytes(18).toString('base64url');
  try {
    // The provider hashes the password before its driver sees it.
    await provider.addAdmin({ username: options.username ?? 'admin', password });
  } catch (err) {
    // Another pod created it first.
    if (isKubesftpError(err, ErrorCode.CONFLICT)) return { created: false };
    throw err;
  }
  return options.password === undefined ? { created: true, password } : { created: true };
}
