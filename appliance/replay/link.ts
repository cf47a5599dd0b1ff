import { ETHERTYPE_IPV4, ETH_HEADER } from '../wire/ethernet';
import { LINKTYPE_ETHERNET } from '../wire/pcapng';

/** Link types (the tcpdump.org LINKTYPE_ list) whose frames replay can take IPv4 out of. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: Record<number, string> = {
  [LINKTYPE_NULL]: 'BSD loopback',
  [LINKTYPE_ETHERNET]: 'Ethernet',
  [LINKTYPE_RAW]: 'raw IP',
  [LINKTYPE_LINUX_SLL]: 'Linux cooked (SLL)',
  [LINKTYPE_IPV4]: 'raw IPv4',
  [LINKTYPE_LINUX_SLL2]: 'Linux cooked v2 (SLL2)',
};

const VLAN = 0x8100;
const QINQ = 0x88a8;
/** BSD loopback's address family for IPv4, in either byte order of the capturing host. */
const AF_INET = 2;

export function linkTypeName(t: number): string {
  return NAMES[t] ?? `link type ${t}`;
}

export function isKnownLinkType(t: number): boolean {
  return NAMES[t] !== undefined;
}

/**
 * Where the IPv4 header of a frame of link type `type` starts in `b` (captured bytes
 * `[off, off + len)`), or -1 when the frame carries no IPv4 (ARP, IPv6, an unknown link type).
 * Ethernet may carry up to two VLAN tags (802.1Q, 802.1ad); the Linux cooked headers give the
 * protocol at byte 14 (SLL, 16 bytes) or 0 (SLL2, 20 bytes).
 */
export function ipv4Offset(type: number, b: Uint8Array, off: number, len: number): number {
  const u16 = (o: number) => (b[o] << 8) | b[o + 1];
  switch (type) {
    case LINKTYPE_ETHERNET: {
      let at = off + 12;
      let hdr = ETH_HEADER;
      for (let tags = 0; tags < 2 && len >= hdr + 4 && (u16(at) === VLAN || u16(at) === QINQ); tags++) {
        at += 4;
        hdr += 4;
      }
      return len > hdr && u16(at) === ETHERTYPE_IPV4 ? off + hdr : -1;
    }
    case LINKTYPE_LINUX_SLL:
      return len > 16 && u16(off + 14) === ETHERTYPE_IPV4 ? off + 16 : -1;
    case LINKTYPE_LINUX_SLL2:
      return len > 20 && u16(off) === ETHERTYPE_IPV4 ? off + 20 : -1;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
      return len > 0 && b[off] >> 4 === 4 ? off : -1;
    case LINKTYPE_NULL:
      return len > 4 && (b[off] === AF_INET || b[off + 3] === AF_INET) ? off + 4 : -1;
    default:
      return -1;
  }
}
