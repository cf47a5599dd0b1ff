import { releaseAddress } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import type { PacketPool } from '../device/packet-pool';
import { FLOW_CLOSING, FLOW_REPLIED } from '../divert/current';
import { tcpSeen } from '../divert/tcp-seen';
import { rewriteFlow6 } from '../divert/translate6';
import { ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_UNREACHABLE, TIME_EXCEEDED_HOP_LIMIT, UNREACH6_NO_ROUTE } from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { PROTO_TCP, PROTO_UDP } from '../wire/ipv4';
import { PROTO_ICMPV6 } from '../wire/ipv6';
import { ACK, RST, SYN } from '../wire/tcp';
import { answerInPlace6 } from './dns-answer';
import type { Diversion } from './diversion';
import { DivertedIcmp6 } from './diversion6-icmp';
import type { Drops } from './drops';
import type { Output } from './output';
import type { Segment } from './segments';

/** The IPv6 [routes] matched against an address where it lies (the shape of route-table6.ts's RouteTable6). */
export interface Routes6 {
  /** The route for the address at buf[at..at+16), or -1. */
  lookup(buf: Uint8Array, at: number): number;
  /** Per route: its segment (-1: no segment has its TAP) and gateway (an address number; -1: on the segment's link). */
  readonly segment: Int32Array;
  readonly gateway: Float64Array;
}

/** The appliance's ICMPv6 errors about the datagram in `slot` (icmp6.ts's Icmp6), sent back towards `from` (-1: the TUN, else a segment). */
export interface Errors6 {
  error6(slot: number, type: number, code: number, param: number, from: number): boolean;
}

/** An IPv6 datagram framed out of segment `segIndex` to `nextHop` (an address number), resolved by Neighbor Discovery. */
export interface Link6 {
  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void;
}

/** The route to an IPv6 address number, as routes.ts's Hop says it (operator paths: move, a reload). */
export interface Hop6 {
  hop6(div: number): { segment: number; gateway: number | undefined } | undefined;
}

/**
 * diversion.ts for IPv6 flows (figure 3 on routed IPv6 traffic): a TCP or UDP datagram from the
 * intranet whose destination an IPv6 entry of the diverted-address table diverts leaves from the
 * egress segment's `local6` with a port of its own, to the diverted IPv6 destination, forwarded
 * as Router6 forwards (RFC 8200: hop limit, never fragmented, RFC 4443 errors back where it came
 * from); replies to `local6` are rewritten back. The same current connections, table, counters
 * and name server as IPv4's (`d`): rows of both families side by side, keyed on address numbers.
 * ICMPv6 errors about the flows are translated both ways (diversion6-icmp.ts); DNS queries for
 * diverted names over IPv6 are answered by the enhanced name server (figure 5).
 *
 * Per datagram: the datagram's address numbers (looked up once, by validate6) against the rows;
 * -1 (an address nothing holds) is of no row and in no entry, so it is never interned here
 * except as a new flow's client, once, which its row then holds.
 */
export class Diversion6 implements Hop6, Link6 {
  private readonly icmp: DivertedIcmp6;

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly d: Diversion,
    private readonly routes: Routes6,
    private readonly errors: Errors6,
    private readonly link: Link6,
    private readonly output: Output,
    private readonly drops: Drops,
    /** [intranet] mtu: the way back into the TUN. */
    private readonly tunMtu: number,
    /** What a TAP's link carries. */
    private readonly tapMtu: number,
  ) {
    this.icmp = new DivertedIcmp6(pool, segments, d.flows, link, output, drops, d.stats);
    d.v6 = this;
  }

  /** From the intranet, to no VIP: true when taken here (diverted, answered or dropped), false to route it as ever (Router6). */
  fromIntranet(slot: number, ip: Ipv6Datagram): boolean {
    const d = this.d;
    const f = d.flows;
    const table = d.table;
    if (table.size === 0 && f.size === 0) return false;
    const proto = ip.headers.protocol;
    if (proto === PROTO_ICMPV6) return f.size > 0 && this.icmp.fromIntranet(slot, ip);
    if ((proto !== PROTO_TCP && proto !== PROTO_UDP) || ip.upperLength < (proto === PROTO_TCP ? 20 : 8)) return false;
    const b = this.pool.buf;
    const t = ip.upperOffset;
    const srcPort = (b[t] << 8) | b[t + 1];
    const dstPort = (b[t + 2] << 8) | b[t + 3];
    // Figure 5: a query for a diverted name is answered here; every other passes on.
    if (dstPort === 53 && proto === PROTO_UDP && table.hasNames && answerInPlace6(this.pool, d.ens, slot, ip, this.output)) return true;
    let r = ip.src < 0 || ip.dst < 0 ? -1 : f.findClient(proto, ip.src, srcPort, ip.dst, dstPort);
    const syn = proto === PROTO_TCP && (b[t + 13] & (SYN | ACK | RST)) === SYN;
    if (r >= 0 && syn && f.flags[r] & FLOW_CLOSING) {
      f.remove(r); // the client's port again, for a new connection
      r = -1;
    }
    if (r < 0) {
      // Drain: a TCP segment with no row is of a connection from before the diversion.
      if (table.size === 0 || (proto === PROTO_TCP && !syn) || ip.dst < 0) return false;
      const to = table.lookupAddress(ip.dst, dstPort);
      if (to === undefined) return false;
      if (to.kind !== 'ipv6') return d.notTaken(to);
      if (this.refused(slot, ip, -1, this.tapMtu)) return true;
      r = this.open(slot, ip, proto, srcPort, dstPort, to.address, to.port ?? dstPort);
      if (r < 0) return true;
    } else if (this.refused(slot, ip, -1, this.tapMtu)) return true;
    // Figure 3, event 3: both addresses and ports rewritten, the datagram sent on.
    const len = ip.totalLength;
    const seg = f.segment[r];
    if (proto === PROTO_TCP) tcpSeen(f, r, b, t, ip.upperLength, true);
    rewriteFlow6(ip, this.pool.checksumPartial(slot), this.segments[seg].local6, f.ownPort[r], f.divAddr[r], f.divPort[r]);
    ip.hopLimit = ip.hopLimit - 1;
    f.lastSeen[r] = d.now;
    f.packetsOut[r]++;
    f.bytesOut[r] += len;
    d.stats.diverted++;
    this.link.sendTo6(seg, slot, len, f.nextHop[r]);
    return true;
  }

  /** A datagram to the appliance's `local6` on segment `segIndex`: a reply of a diverted flow is rewritten back (events 5-7). */
  fromSegment(segIndex: number, slot: number, ip: Ipv6Datagram): boolean {
    const d = this.d;
    const f = d.flows;
    if (f.size === 0) return false;
    const proto = ip.headers.protocol;
    if (proto === PROTO_ICMPV6) return this.icmp.fromSegment(segIndex, slot, ip);
    if ((proto !== PROTO_TCP && proto !== PROTO_UDP) || ip.upperLength < (proto === PROTO_TCP ? 20 : 8) || ip.src < 0) return false;
    const b = this.pool.buf;
    const t = ip.upperOffset;
    const r = f.findServer(proto, ip.src, (b[t] << 8) | b[t + 1], segIndex, (b[t + 2] << 8) | b[t + 3]);
    if (r < 0) return false;
    if (this.refused(slot, ip, segIndex, this.tunMtu)) return true;
    const len = ip.totalLength;
    if (proto === PROTO_TCP) tcpSeen(f, r, b, t, ip.upperLength, false);
    f.flags[r] |= FLOW_REPLIED;
    rewriteFlow6(ip, this.pool.checksumPartial(slot), f.origAddr[r], f.origPort[r], f.clientAddr[r], f.clientPort[r]);
    ip.hopLimit = ip.hopLimit - 1;
    f.lastSeen[r] = d.now;
    f.packetsIn[r]++;
    f.bytesIn[r] += len;
    d.stats.returned++;
    this.output.toIntranet(slot, len);
    return true;
  }

  hop6(div: number): { segment: number; gateway: number | undefined } | undefined {
    const h = this.route(div);
    if (h < 0) return undefined;
    const gw = this.routes.gateway[h];
    return { segment: this.routes.segment[h], gateway: gw >= 0 ? gw : undefined };
  }

  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void {
    this.link.sendTo6(segIndex, slot, len, nextHop);
  }

  /**
   * Not forwarded, as Router6 would not: a hop limit that would reach 0 (RFC 8200 3; RFC 4443
   * 3.3 code 0), or a datagram larger than the link it goes out on (RFC 8200 5: never
   * fragmented on the way; RFC 4443 3.2 tells the source that link's MTU). `from`: where it
   * came from, for the error (-1 the TUN).
   */
  private refused(slot: number, ip: Ipv6Datagram, from: number, mtu: number): boolean {
    if (ip.hopLimit <= 1) {
      this.errors.error6(slot, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_HOP_LIMIT, 0, from);
      this.drops.drop(slot, 'ttl-exceeded');
      return true;
    }
    // What each packet on the wire will be: a GSO super-packet is cut into segments of its gso_size.
    const p = this.pool;
    const size = p.gsoType[slot] !== 0 ? p.hdrLen[slot] + p.gsoSize[slot] : ip.totalLength;
    if (size <= mtu) return false;
    this.errors.error6(slot, ICMPV6_PACKET_TOO_BIG, 0, mtu, from);
    this.drops.drop(slot, 'packet-too-big');
    return true;
  }

  /** A new row for a diverted IPv6 flow: its route, its own port; -1 when dropped (no route, table full; counted). */
  private open(slot: number, ip: Ipv6Datagram, proto: number, srcPort: number, dstPort: number, div: number, divPort: number): number {
    const h = this.route(div);
    if (h < 0) {
      this.errors.error6(slot, ICMPV6_UNREACHABLE, UNREACH6_NO_ROUTE, 0, -1);
      this.drops.drop(slot, 'no-route');
      return -1;
    }
    const gw = this.routes.gateway[h];
    // The client's number, interned if it was not: the row holds its own reference, this one goes back.
    const client = ip.holdSrc();
    const r = this.d.flows.add(proto, client, srcPort, ip.dst, dstPort, div, divPort, this.routes.segment[h], gw >= 0 ? gw : div, this.d.now);
    releaseAddress(client);
    if (r < 0) this.drops.drop(slot, 'diverted-flows-full');
    return r;
  }

  /** The route that takes `div` out of a segment with an IPv6 address of its own, or -1. */
  private route(div: number): number {
    const h = this.routes.lookup(ADDRESSES6.bytes, ADDRESSES6.offset(div));
    if (h < 0) return -1;
    const seg = this.routes.segment[h];
    return seg >= 0 && this.segments[seg].local6 >= 0 ? h : -1;
  }
}
