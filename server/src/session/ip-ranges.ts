/**
 * Address and CIDR range matching, shared by the per-user IP filters and the defender's safe
 * and block lists.
 */
import { BlockList, isIP } from 'node:net';

/** Strips the IPv4-mapped IPv6 prefix Node reports for IPv4 clients on dual-stack sockets. */
export function normalizeClientIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** A plain address or `address/prefix`, split; undefined when it is neither. */
function parseRange(entry: string): { address: string; bits: number; v6: boolean } | undefined {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return undefined;
  const maxBits = family === 6 ? 128 : 32;
  if (prefix === undefined) return { address, bits: maxBits, v6: family === 6 };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxBits) return undefined;
  return { address, bits: Number(prefix), v6: family === 6 };
}

/** A set of addresses and CIDR ranges, IPv4 and IPv6. */
export class IpRanges {
  readonly #list = new BlockList();
  readonly size: number;

  /**
   * Throws on an entry that is neither an address nor a CIDR range, naming it; `what` says
   * where the list came from (a config key or a user field).
   */
  constructor(entries: readonly string[], what = 'address list') {
    for (const entry of entries) {
      const range = parseRange(entry);
      if (range === undefined) {
        throw new Error(`${what}: ${JSON.stringify(entry)} is not an address or a CIDR range`);
      }
      this.#list.addSubnet(range.address, range.bits, range.v6 ? 'ipv6' : 'ipv4');
    }
    this.size = entries.length;
  }

  /** Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is inside one of the ranges. */
  contains(ip: string): boolean {
    if (this.size === 0) return false;
    const address = normalizeClientIp(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
