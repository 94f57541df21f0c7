import { BlockList, isIP } from 'node:net';
import type { User } from '../dataprovider/types.js';
import { ErrorCode, KubesftpError } from '../errors.js';

/** Strips the IPv4-mapped IPv6 prefix Node reports for IPv4 clients on dual-stack sockets. */
export function normalizeClientIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function blockListOf(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix] = cidr.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const bits = prefix === undefined ? (family === 'ipv6' ? 128 : 32) : Number(prefix);
    list.addSubnet(address, bits, family);
  }
  return list;
}

function ipMatches(list: BlockList, ip: string): boolean {
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

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
  if (denied.length > 0 && ipMatches(blockListOf(denied), ip)) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, `login from ${ip} is denied`);
  }
  if (allowed.length > 0 && !ipMatches(blockListOf(allowed), ip)) {
    throw new KubesftpError(ErrorCode.PERMISSION_DENIED, `login from ${ip} is not allowed`);
  }
}
