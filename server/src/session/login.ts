import type { User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';
import { IpRanges, normalizeClientIp } from './ip-ranges.js';

export { normalizeClientIp } from './ip-ranges.js';

/**
 * Whether `user` may log in now from `clientIp`: active, not expired, and inside the IP
 * filters (a denied range wins over an allowed one). Throws PERMISSION_DENIED with the reason,
 * which goes to the connection_failed log, never to the client.
 */
export function checkLoginAllowed(user: User, clientIp: string, now = Date.now()): void {
  if (user.status !== 1) throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'user is disabled');
  if (user.expiration_date > 0 && user.expiration_date < now) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, 'user account has expired');
  }
  const ip = normalizeClientIp(clientIp);
  const { allowed_ip: allowed, denied_ip: denied } = user.filters;
  if (new IpRanges(denied).contains(ip)) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, `login from ${ip} is denied`);
  }
  if (allowed.length > 0 && !new IpRanges(allowed).contains(ip)) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, `login from ${ip} is not allowed`);
  }
}
