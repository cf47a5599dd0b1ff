import { addressSum } from '../addr/address';
import { fold, update16 } from '../wire/checksum';
import { Ipv4View, PROTO_TCP, PROTO_UDP, readU32 } from '../wire/ipv4';

/**
 * Figure 3's rewrites, in place, with the checksums updated incrementally (RFC 1624): both
 * addresses and both ports of a TCP or UDP datagram (events 3 and 6), and the same for the
 * datagram an ICMP error quotes, so that an error about a diverted flow reaches the client
 * about the flow it sent (RFC 5508 4.3, what Linux's NAT does with nf_nat_icmp_reply_translation).
 */

/** Where the transport checksum sits: TCP 16, UDP 6 (RFC 9293 3.1, RFC 768). */
function checksumAt(proto: number): number {
  return proto === PROTO_TCP ? 16 : 6;
}

/**
 * Rewrites the datagram in `ip` (TCP or UDP, its first 8 transport bytes known present) to
 * `src`:`srcPort` -> `dst`:`dstPort`. `partial`: the kernel left the transport checksum as the
 * pseudo-header's sum for the NIC to finish (IFF_VNET_HDR NEEDS_CSUM), so only the addresses
 * change it, as a complement.
 */
export function rewriteFlow(ip: Ipv4View, partial: boolean, src: number, srcPort: number, dst: number, dstPort: number): void {
  const t = ip.payloadOffset;
  rewriteTransport(ip.buf, t, t + checksumAt(ip.protocol), ip.protocol, partial, ip.addressSum(), addressSum(src) + addressSum(dst), srcPort, dstPort);
  ip.rewriteSrc(src);
  ip.rewriteDst(dst);
}

/**
 * The transport header at `t`: both ports written, the checksum at `at` (-1: not there, as in a
 * short quote) updated for them and for the pseudo-header's addresses, whose words summed to
 * `fromSum` and now sum to `toSum` (either family: the rest of the pseudo-header is unchanged).
 * A UDP checksum of 0 means none was sent (RFC 768) and stays 0; a computed 0 is sent as all ones.
 */
export function rewriteTransport(
  b: Uint8Array, t: number, at: number, proto: number, partial: boolean,
  fromSum: number, toSum: number, srcPort: number, dstPort: number,
): void {
  if (at >= 0) {
    let c = (b[at] << 8) | b[at + 1];
    const from = fold(fromSum);
    const to = fold(toSum);
    if (partial) {
      c = ~update16(~c & 0xffff, from, to) & 0xffff;
    } else if (proto === PROTO_TCP || c !== 0) {
      c = update16(update16(update16(c, from, to), (b[t] << 8) | b[t + 1], srcPort), (b[t + 2] << 8) | b[t + 3], dstPort);
      if (c === 0 && proto === PROTO_UDP) c = 0xffff;
    }
    b[at] = c >> 8;
    b[at + 1] = c;
  }
  b[t] = srcPort >> 8;
  b[t + 1] = srcPort;
  b[t + 2] = dstPort >> 8;
  b[t + 3] = dstPort;
}

/**
 * The datagram an ICMP error quotes (RFC 792: its IP header and at least 8 bytes of it), at
 * `icmpOff + 8` within an ICMP message of `icmpLen` bytes: its addresses and ports, or
 * undefined when too little of it is there to match a flow.
 */
export class QuotedFlow {
  readonly inner = new Ipv4View();
  proto = 0;
  src = 0;
  dst = 0;
  srcPort = 0;
  dstPort = 0;
  /** Bytes of the quoted transport header present. */
  private transport = 0;

  read(buf: Uint8Array, icmpOff: number, icmpLen: number): boolean {
    const at = icmpOff + 8;
    const room = icmpLen - 8;
    if (room < 20 + 8) return false;
    const hl = (buf[at] & 0x0f) * 4;
    if (buf[at] >> 4 !== 4 || hl < 20 || hl + 8 > room) return false;
    const proto = buf[at + 9];
    if (proto !== PROTO_TCP && proto !== PROTO_UDP) return false;
    this.inner.wrap(buf, at, room);
    this.proto = proto;
    this.src = readU32(buf, at + 12);
    this.dst = readU32(buf, at + 16);
    const t = at + hl;
    this.srcPort = (buf[t] << 8) | buf[t + 1];
    this.dstPort = (buf[t + 2] << 8) | buf[t + 3];
    this.transport = room - hl;
    return true;
  }

  /**
   * Rewrites the quoted datagram to `src`:`srcPort` -> `dst`:`dstPort`: its header checksum, and
   * its transport checksum when the quote holds it (UDP's always, TCP's when 18 bytes or more
   * are quoted), all incrementally. The caller refreshes the ICMP checksum.
   */
  rewrite(src: number, srcPort: number, dst: number, dstPort: number): void {
    const ip = this.inner;
    const t = ip.off + ip.headerLength;
    const at = checksumAt(this.proto);
    rewriteTransport(ip.buf, t, this.transport >= at + 2 ? t + at : -1, this.proto, false, addressSum(this.src) + addressSum(this.dst), addressSum(src) + addressSum(dst), srcPort, dstPort);
    ip.rewriteSrc(src);
    ip.rewriteDst(dst);
  }
}
