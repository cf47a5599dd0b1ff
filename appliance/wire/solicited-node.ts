/**
 * The multicast addresses Neighbor Discovery speaks to (RFC 4861 2.3): a node's solicited-node
 * group ff02::1:ffXX:XXXX, the low 24 bits of its address (RFC 4291 2.7.1), and all-nodes
 * ff02::1; and the Ethernet address a group maps to, 33:33 and its low 32 bits (RFC 2464 7).
 * Each reads and writes addresses where they lie, (buffer, offset), so nothing is allocated.
 */

/** ff02::1 (RFC 4291 2.7.1): where an answer to a solicitation from :: goes (RFC 4861 7.2.4). */
export const ALL_NODES = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

/** The first 13 bytes of every solicited-node address, ff02::1:ff00:0/104. */
const SOLICITED_PREFIX = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff);

/** Writes the solicited-node address of the address at a[aAt..] into buf[at..at+16). */
export function writeSolicitedNode(a: Uint8Array, aAt: number, buf: Uint8Array, at: number): void {
  for (let i = 0; i < 13; i++) buf[at + i] = SOLICITED_PREFIX[i];
  buf[at + 13] = a[aAt + 13];
  buf[at + 14] = a[aAt + 14];
  buf[at + 15] = a[aAt + 15];
}

/** Whether buf[at..at+16) is a solicited-node address (of any address). */
export function isSolicitedNode(buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < 13; i++) if (buf[at + i] !== SOLICITED_PREFIX[i]) return false;
  return true;
}

/** Whether buf[at..at+16) is ::, the unspecified address (RFC 4291 2.5.2). */
export function isUnspecified(buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[at + i] !== 0) return false;
  return true;
}

/** Writes the Ethernet address of the IPv6 group at group[gAt..] into mac[at..at+6) (RFC 2464 7). */
export function writeGroupMac(group: Uint8Array, gAt: number, mac: Uint8Array, at: number): void {
  mac[at] = 0x33;
  mac[at + 1] = 0x33;
  for (let i = 0; i < 4; i++) mac[at + 2 + i] = group[gAt + 12 + i];
}
