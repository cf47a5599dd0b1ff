import { formatIpv4, inPrefix, parsePrefix, prefixMask, type Prefix } from '../config/address';
import { formatAddress, isV6, parseAddress } from './address';
import { ADDRESSES6 } from './interner';

/**
 * Prefixes of either family, `address` an address number (address.ts): what a server's
 * `local` and the checks on it need. The IPv4 route table keeps its own masks (routes.ts).
 */
export function parsePrefixAny(text: string): Prefix | undefined {
  if (!text.includes(':')) return parsePrefix(text);
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m || Number(m[2]) > 128) return undefined;
  const address = parseAddress(m[1]);
  return address === undefined ? undefined : { address, length: Number(m[2]) };
}

export function formatPrefixAny(p: Prefix): string {
  return `${isV6(p.address) ? formatAddress(p.address) : formatIpv4(p.address)}/${p.length}`;
}

/** Whether `a` lies in `p`; never across families. */
export function inPrefixAny(a: number, p: Prefix): boolean {
  if (isV6(a) !== isV6(p.address)) return false;
  if (!isV6(a)) return inPrefix(a, p);
  const b = ADDRESSES6.bytes;
  const x = ADDRESSES6.offset(a);
  const y = ADDRESSES6.offset(p.address);
  let bits = p.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[x + i] & mask) !== (b[y + i] & mask)) return false;
  }
  return true;
}

/**
 * Whether `p`'s address is no host's: IPv4's network and broadcast addresses (RFC 919), IPv6's
 * Subnet-Router anycast address, all host bits zero (RFC 4291 2.6.1).
 */
export function notAHost(p: Prefix): boolean {
  if (!isV6(p.address)) {
    const host = (p.address & ~prefixMask(p.length)) >>> 0;
    return host === 0 || host === (~prefixMask(p.length) >>> 0);
  }
  if (p.length >= 127) return false; // RFC 6164: point-to-point links use both addresses
  const b = ADDRESSES6.bytes;
  const o = ADDRESSES6.offset(p.address);
  for (let bit = p.length; bit < 128; bit++) if (b[o + (bit >> 3)] & (0x80 >> (bit & 7))) return false;
  return true;
}
