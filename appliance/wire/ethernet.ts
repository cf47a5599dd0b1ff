import { WireView } from './view';

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** A view over an Ethernet II header (no VLAN tags: the TAP segments carry none). */
export class EthernetView extends WireView {
  get valid(): boolean { return this.len >= ETH_HEADER; }
  get etherType(): number { return (this.buf[this.off + 12] << 8) | this.buf[this.off + 13]; }
  set etherType(v: number) { this.buf[this.off + 12] = v >> 8; this.buf[this.off + 13] = v; }
  /** RFC 2464 7: IPv6 multicast goes to 33:33 and the group's low 32 bits (Neighbor Discovery's solicited-node groups among them). */
  get isIpv6Multicast(): boolean {
    return this.buf[this.off] === 0x33 && this.buf[this.off + 1] === 0x33;
  }

  /** The frame is for `mac`, or broadcast. */
  isFor(mac: Uint8Array): boolean {
    const b = this.buf;
    const o = this.off;
    if ((b[o] & 1) !== 0) return b[o] === 0xff && b[o + 1] === 0xff && b[o + 2] === 0xff && b[o + 3] === 0xff && b[o + 4] === 0xff && b[o + 5] === 0xff;
    return b[o] === mac[0] && b[o + 1] === mac[1] && b[o + 2] === mac[2] && b[o + 3] === mac[3] && b[o + 4] === mac[4] && b[o + 5] === mac[5];
  }
}

/** Writes an Ethernet header at buf[off]. */
export function emitEthernet(buf: Uint8Array, off: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  buf.set(dst, off);
  buf.set(src, off + 6);
  buf[off + 12] = etherType >> 8;
  buf[off + 13] = etherType;
  return ETH_HEADER;
}
