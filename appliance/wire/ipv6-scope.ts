/**
 * What kind of IPv6 address lies at buf[at..at+16) (RFC 4291 2.4), read in place: what a
 * router may forward (never link-local, 2.5.6; multicast only by a multicast router, which the
 * appliance is not) and what may be a source at all (never unspecified, 2.5.2, or multicast, 2.7).
 */

/** fe80::/10. */
export function isLinkLocal6(buf: Uint8Array, at: number): boolean {
  return buf[at] === 0xfe && (buf[at + 1] & 0xc0) === 0x80;
}

/** ff00::/8. */
export function isMulticast6(buf: Uint8Array, at: number): boolean {
  return buf[at] === 0xff;
}

/** ::, the unspecified address. */
export function isUnspecified6(buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[at + i] !== 0) return false;
  return true;
}

/** An address no single node answers for: a source nothing is sent back to (RFC 4443 2.4 e.6). */
export function notUnique6(buf: Uint8Array, at: number): boolean {
  return buf[at] === 0xff || isUnspecified6(buf, at);
}
