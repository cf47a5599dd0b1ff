import type { PacketPool } from '../device/packet-pool';
import { IcmpView, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, isIcmpError } from '../wire/icmp';
import { emitIpv4, IPV4_MIN_HEADER, PROTO_ICMP, type Ipv4Repr, type Ipv4View } from '../wire/ipv4';
import type { Drops } from './drops';
import type { Neighbours } from './neighbours';
import type { Output } from './output';

/**
 * The appliance's own ICMP (RFC 792): echo replies from its addresses, and the errors that
 * routing sends back to the intranet.
 */
export class Icmp {
  /** What errors come from: the first VIP. */
  source = 0;
  private readonly view = new IcmpView();
  /** An error's IPv4 header, filled in per error. */
  private readonly header: Ipv4Repr = { src: 0, dst: 0, protocol: PROTO_ICMP, payloadLength: 0, ttl: 64, identification: 0, dontFragment: false };

  constructor(
    private readonly pool: PacketPool,
    private readonly output: Output,
    private readonly neighbours: Neighbours,
    private readonly drops: Drops,
  ) {}

  /**
   * ICMP to a VIP (`segIndex` -1: from the intranet) or to the appliance's address on segment
   * `segIndex`: an echo request is answered in place; other ICMP is freed, uncounted.
   */
  echo(slot: number, ip: Ipv4View, segIndex: number): void {
    const icmp = this.view.wrap(this.pool.buf, ip.payloadOffset, ip.payloadLength);
    if (!icmp.checksumValid) {
      this.drops.drop(slot, 'malformed-icmp');
      return;
    }
    if (icmp.type !== ICMP_ECHO_REQUEST) {
      this.pool.give(slot);
      return;
    }
    const src = ip.src;
    ip.rewriteSrc(ip.dst);
    ip.rewriteDst(src);
    icmp.type = ICMP_ECHO_REPLY;
    icmp.fillChecksum();
    const len = ip.totalLength;
    if (segIndex < 0) this.output.toIntranet(slot, len);
    else this.neighbours.sendTo(segIndex, slot, len, src);
  }

  /**
   * An error about `ip` to its sender, in a slot of its own (`ip` stays its caller's): RFC
   * 792's header, then the datagram's IP header and its first 8 bytes of data.
   */
  error(ip: Ipv4View, type: number, code: number): void {
    // Never about an ICMP error (RFC 1122 3.2.2), lest two hosts answer each other forever;
    // an echo request may get one.
    if (ip.protocol === PROTO_ICMP && ip.payloadLength > 0 && isIcmpError(this.pool.buf[ip.payloadOffset])) return;
    const slot = this.pool.take();
    if (slot < 0) return;
    const quoted = Math.min(ip.totalLength, ip.headerLength + 8);
    const base = this.pool.ipOffset(slot);
    const buf = this.pool.buf;
    const at = base + IPV4_MIN_HEADER;
    buf.fill(0, at, at + 8);
    buf[at] = type;
    buf[at + 1] = code;
    buf.copy(buf, at + 8, ip.off, ip.off + quoted);
    this.view.wrap(buf, at, 8 + quoted).fillChecksum();
    const h = this.header;
    h.src = this.source;
    h.dst = ip.src;
    h.payloadLength = 8 + quoted;
    emitIpv4(h, buf, base);
    this.output.toIntranet(slot, IPV4_MIN_HEADER + 8 + quoted);
  }
}
