import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER } from '../wire/ethernet';
import { LINKTYPE_ETHERNET } from '../wire/pcapng';

/** Link types (the tcpdump.org LINKTYPE_ list) whose frames replay can take IPv4 and IPv6 out of. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES: Record<number, string> = {
  [LINKTYPE_NULL]: 'BSD loopback',
  [LINKTYPE_ETHERNET]: 'Ethernet',
  [LINKTYPE_RAW]: 'raw IP',
  [LINKTYPE_LINUX_SLL]: 'Linux cooked (SLL)',
  [LINKTYPE_IPV4]: 'raw IPv4',
  [LINKTYPE_IPV6]: 'raw IPv6',
  [LINKTYPE_LINUX_SLL2]: 'Linux cooked v2 (SLL2)',
};

const VLAN = 0x8100;
const QINQ = 0x88a8;
/**
 * BSD loopback's address families, in either byte order of the capturing host: IPv4's, and
 * IPv6's, which differs by system (24 NetBSD and OpenBSD, 28 FreeBSD, 30 macOS).
 */
const AF_INET = 2;
const AF_INET6 = [24, 28, 30];

export function linkTypeName(t: number): string {
  return NAMES[t] ?? `link type ${t}`;
}

export function isKnownLinkType(t: number): boolean {
  return NAMES[t] !== undefined;
}

/**
 * Where the IP header (IPv4 or IPv6) of a frame of link type `type` starts in `b` (captured
 * bytes `[off, off + len)`), or -1 when the frame carries neither (ARP, an unknown link type).
 * Ethernet may carry up to two VLAN tags (802.1Q, 802.1ad); the Linux cooked headers give the
 * protocol at byte 14 (SLL, 16 bytes) or 0 (SLL2, 20 bytes). The caller reads the version.
 */
export function ipOffset(type: number, b: Uint8Array, off: number, len: number): number {
  const u16 = (o: number) => (b[o] << 8) | b[o + 1];
  const ip = (t: number) => t === ETHERTYPE_IPV4 || t === ETHERTYPE_IPV6;
  switch (type) {
    case LINKTYPE_ETHERNET: {
      let at = off + 12;
      let hdr = ETH_HEADER;
      for (let tags = 0; tags < 2 && len >= hdr + 4 && (u16(at) === VLAN || u16(at) === QINQ); tags++) {
        at += 4;
        hdr += 4;
      }
      return len > hdr && ip(u16(at)) ? off + hdr : -1;
    }
    case LINKTYPE_LINUX_SLL:
      return len > 16 && ip(u16(off + 14)) ? off + 16 : -1;
    case LINKTYPE_LINUX_SLL2:
      return len > 20 && ip(u16(off)) ? off + 20 : -1;
    case LINKTYPE_RAW:
      return len > 0 && (b[off] >> 4 === 4 || b[off] >> 4 === 6) ? off : -1;
    case LINKTYPE_IPV4:
      return len > 0 && b[off] >> 4 === 4 ? off : -1;
    case LINKTYPE_IPV6:
      return len > 0 && b[off] >> 4 === 6 ? off : -1;
    case LINKTYPE_NULL: {
      const family = (v: number) => b[off] === v || b[off + 3] === v;
      return len > 4 && (family(AF_INET) || AF_INET6.some(family)) ? off + 4 : -1;
    }
    default:
      return -1;
  }
}
