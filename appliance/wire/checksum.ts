/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are kept unfolded in a JS number: adding 16-bit words to a 53-bit integer cannot
 * overflow for any datagram, so folding happens once, at the end.
 */

/** Adds the 16-bit big-endian words of buf[off, off+len) to `sum`; an odd last byte is padded. */
export function sumWords(buf: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i === end) sum += buf[i] << 8;
  return sum;
}

export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for data whose words sum to `sum`. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** The TCP/UDP pseudo-header's contribution. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Replacing a 16-bit word m by m' in covered data
 * changes the checksum without reading the rest of it.
 */
export function update16(checksum: number, from: number, to: number): number {
  return ~fold((~checksum & 0xffff) + (~from & 0xffff) + (to & 0xffff)) & 0xffff;
}

/** update16 for a 32-bit field (an address, a sequence number): two words at once. */
export function update32(checksum: number, from: number, to: number): number {
  const sum = (~checksum & 0xffff) + (~(from >>> 16) & 0xffff) + (~from & 0xffff) + (to >>> 16) + (to & 0xffff);
  return ~fold(sum) & 0xffff;
}

/**
 * The IPv6 pseudo-header's contribution (RFC 8200 8.1): both addresses, read where they lie
 * (a datagram's header or a configured 16-byte address), the upper-layer length as 32 bits,
 * the next header.
 */
export function pseudoHeaderSum6(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, nextHeader: number, length: number): number {
  return sumWords(src, srcAt, 16, sumWords(dst, dstAt, 16)) + (length >>> 16) + (length & 0xffff) + nextHeader;
}
