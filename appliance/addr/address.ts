import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../config/address';
import { writeU32 } from '../wire/ipv4';
import { ADDRESSES6, V6_BASE } from './interner';

/**
 * An address of either family as one number (interner.ts): an IPv4 address as itself, an
 * IPv6 address as V6_BASE + its interned index. Text is made only for people.
 */
export function isV6(a: number): boolean {
  return a >= V6_BASE;
}

/** RFC 5952's text for an IPv6 address, the dotted quad for IPv4. */
export function formatAddress(a: number): string {
  return a >= V6_BASE ? formatIpv6(ADDRESSES6.bytes, ADDRESSES6.offset(a)) : formatIpv4(a);
}

/** `address:port`, with brackets around an IPv6 address (RFC 5952 6). */
export function formatAddressPort(a: number, port: number): string {
  return a >= V6_BASE ? `[${formatAddress(a)}]:${port}` : `${formatIpv4(a)}:${port}`;
}

/**
 * An address of either family from text; an IPv6 one is interned and held for good (a
 * configured address: the configuration of a reload names the same ones again).
 */
export function parseAddress(text: string): number | undefined {
  if (!text.includes(':')) return parseIpv4(text);
  const b = parseIpv6(text);
  return b === undefined ? undefined : ADDRESSES6.intern(b, 0);
}

/** The sum of the address's 16-bit words: its share of a TCP/UDP pseudo-header checksum. */
export function addressSum(a: number): number {
  return a >= V6_BASE ? ADDRESSES6.sum(a) : (a >>> 16) + (a & 0xffff);
}

/** Writes the address where a header holds it: 4 bytes for IPv4, 16 for IPv6. */
export function writeAddress(a: number, buf: Uint8Array, at: number): void {
  if (a >= V6_BASE) ADDRESSES6.write(a, buf, at);
  else writeU32(buf, at, a);
}

/** A reference given back: IPv4 addresses need none. */
export function releaseAddress(a: number): void {
  if (a >= V6_BASE) ADDRESSES6.release(a);
}

/** One more reference to `a` (an address number in use): IPv4 addresses need none. */
export function retainAddress(a: number): void {
  if (a >= V6_BASE) ADDRESSES6.retain(a);
}
