import { addressSum, writeAddress } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import { sumWords } from '../wire/checksum';
import { rewriteTransport } from './translate';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { PROTO_TCP, PROTO_UDP } from '../wire/ipv4';
import { IPV6_HEADER } from '../wire/ipv6';

/**
 * translate.ts for IPv6 (figure 3's rewrites on an IPv6 flow): there is no header checksum
 * (RFC 8200 3), so only the transport's changes, for the ports and for the addresses through
 * RFC 8200 8.1's pseudo-header, as one sum of their words (the length and next header stay):
 * RFC 1624 over any number of words, as the splice does (flow/splice.ts).
 */

/** Where the transport checksum sits: TCP 16, UDP 6 (RFC 9293 3.1, RFC 768). */
function checksumAt(proto: number): number {
  return proto === PROTO_TCP ? 16 : 6;
}

/**
 * Rewrites the IPv6 datagram in `ip` (TCP or UDP after its extension headers, the first 8
 * transport bytes known present) to `src`:`srcPort` -> `dst`:`dstPort` (address numbers).
 * `partial`: the checksum field holds the pseudo-header's sum for the NIC to finish
 * (IFF_VNET_HDR NEEDS_CSUM), so only the addresses change it, as a complement.
 */
export function rewriteFlow6(ip: Ipv6Datagram, partial: boolean, src: number, srcPort: number, dst: number, dstPort: number): void {
  const t = ip.upperOffset;
  const proto = ip.headers.protocol;
  rewriteTransport(ip.buf, t, t + checksumAt(proto), proto, partial, ip.addressSum(), addressSum(src) + addressSum(dst), srcPort, dstPort);
  ip.rewriteSrc(src);
  ip.rewriteDst(dst);
}

/**
 * The datagram an ICMPv6 error quotes (RFC 4443 2.4 c: as much of the invoking packet as fits),
 * at `icmpOff + 8`: its addresses as numbers (-1: not interned, so of no flow) and its ports.
 * Only a quote whose fixed header names TCP or UDP directly is read: one with extension headers
 * before the transport is of no diverted flow the table could tell (they are left as they are).
 */
export class QuotedFlow6 {
  proto = 0;
  src = -1;
  dst = -1;
  srcPort = 0;
  dstPort = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Bytes of the quoted transport header present. */
  private transport = 0;

  read(buf: Uint8Array, icmpOff: number, icmpLen: number): boolean {
    const at = icmpOff + 8;
    const room = icmpLen - 8;
    if (room < IPV6_HEADER + 8 || buf[at] >> 4 !== 6) return false;
    const proto = buf[at + 6];
    if (proto !== PROTO_TCP && proto !== PROTO_UDP) return false;
    this.buf = buf;
    this.at = at;
    this.proto = proto;
    this.src = ADDRESSES6.lookup(buf, at + 8);
    this.dst = ADDRESSES6.lookup(buf, at + 24);
    const t = at + IPV6_HEADER;
    this.srcPort = (buf[t] << 8) | buf[t + 1];
    this.dstPort = (buf[t + 2] << 8) | buf[t + 3];
    this.transport = room - IPV6_HEADER;
    return true;
  }

  /**
   * Rewrites the quoted datagram to `src`:`srcPort` -> `dst`:`dstPort`: its transport checksum
   * when the quote holds it (UDP's always, TCP's from 18 bytes), incrementally. The caller
   * refreshes the ICMPv6 checksum, whose pseudo-header holds the outer addresses.
   */
  rewrite(src: number, srcPort: number, dst: number, dstPort: number): void {
    const b = this.buf;
    const at = this.at;
    const t = at + IPV6_HEADER;
    const c = checksumAt(this.proto);
    rewriteTransport(b, t, this.transport >= c + 2 ? t + c : -1, this.proto, false, sumWords(b, at + 8, 32), addressSum(src) + addressSum(dst), srcPort, dstPort);
    writeAddress(src, b, at + 8);
    writeAddress(dst, b, at + 24);
    this.src = src;
    this.dst = dst;
  }
}
