import { isV6 } from '../addr/address';
import { inPrefix, type Prefix } from '../config/address';
import type { Route } from '../config/tables';
import { ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE, isIcmpError, UNREACH_NET } from '../wire/icmp';
import { PROTO_ICMP, readU32 } from '../wire/ipv4';
import { DEFENCES } from '../defences';
import type { Ipv4View } from '../wire/ipv4';
import type { Drops } from './drops';
import type { Icmp } from './icmp';
import type { Neighbours } from './neighbours';
import type { Output } from './output';
import { segmentIndex, type Segment } from './segments';

/** A [routes] entry with its TAP found once per configuration, not once per packet. */
export interface Hop {
  prefix: Prefix;
  /** The route's segment; -1 when no segment has its TAP. */
  segment: number;
  /** The next hop on that segment; undefined when the prefix is on the segment itself. */
  gateway: number | undefined;
}

/**
 * Patent step 703: what is not SOCKS follows [routes], forwarded as a router does (RFC 1812):
 * longest match (5.2.4.3), then the TTL decremented, or the datagram not forwarded at all
 * when it would leave with TTL 0 (4.2.2.9, 5.3.1).
 */
export class Router {
  hops: readonly Hop[] = [];
  /** The VIPs: no datagram from a segment may carry one as its source. */
  vips: readonly number[] = [];
  /** appliance.ini rp_filter: loose accepts a source routed through any segment. */
  loose = false;

  constructor(
    private readonly segments: readonly Segment[],
    private readonly neighbours: Neighbours,
    private readonly icmp: Icmp,
    private readonly output: Output,
    private readonly drops: Drops,
  ) {}

  /** The IPv4 [routes] of a configuration, at start and at each reload (route-table6.ts keeps the IPv6 ones). */
  set(routes: readonly Route[]): void {
    this.hops = routes.filter((r) => !isV6(r.prefix.address)).map((r) => ({ prefix: r.prefix, segment: segmentIndex(this.segments, r.tap), gateway: r.gateway }));
  }

  /** The longest prefix holding `dst`; among equally long ones, the first listed. */
  lookup(dst: number): Hop | undefined {
    const hops = this.hops;
    let best: Hop | undefined;
    for (let i = 0; i < hops.length; i++) {
      const h = hops[i];
      if (inPrefix(dst, h.prefix) && (best === undefined || h.prefix.length > best.prefix.length)) best = h;
    }
    return best;
  }

  /**
   * Non-SOCKS datagrams, with the TTL decremented. From the intranet: the [routes] entry for
   * the destination, or an ICMP network unreachable. From a segment (a reply to a routed
   * datagram): another segment's route if one matches, else back to the intranet. ICMP errors
   * go to the intranet only: the appliance speaks ICMP from its VIPs, through the TUN.
   */
  forward(slot: number, ip: Ipv4View, fromIntranet: boolean): void {
    if (this.expired(slot, ip, fromIntranet)) return;
    const h = this.lookup(ip.dst);
    if (h === undefined) {
      if (fromIntranet) {
        this.unreachable(slot, ip);
        return;
      }
      ip.decrementTtl();
      this.output.toIntranet(slot, ip.totalLength);
      return;
    }
    ip.decrementTtl();
    this.neighbours.sendTo(h.segment, slot, ip.totalLength, h.gateway ?? ip.dst);
  }

  /**
   * A datagram from segment `segIndex` to an address not the appliance's: reverse-path
   * filtered as Linux's rp_filter does (RFC 3704 strict or feasible, as `loose` says), then
   * forwarded. Its source must be one the operator routes through that segment ([routes]; in
   * loose mode through any): anything else from a server's segment, the VIPs, the appliance's
   * own addresses and the intranet's above all, is dropped. The one exception is an ICMP error
   * from a host on the segment's own link about a datagram that was routed to that segment (a
   * gateway's "time exceeded", "fragmentation needed"), which the sender of that datagram needs.
   */
  fromSegment(segIndex: number, slot: number, ip: Ipv4View): void {
    if (!DEFENCES) return this.forward(slot, ip, false);
    const src = ip.src;
    if (this.isOwn(src)) {
      this.drops.drop(slot, 'spoofed-source');
      return;
    }
    const back = this.lookup(src);
    if (back === undefined || (back.segment !== segIndex && !this.loose)) {
      if (!this.errorAboutRouted(segIndex, ip)) {
        this.drops.drop(slot, 'rp-filter');
        return;
      }
    }
    this.forward(slot, ip, false);
  }

  /** Whether `a` is one of the VIPs (Demux asks it of every datagram from the intranet). */
  isVip(a: number): boolean {
    const v = this.vips;
    for (let i = 0; i < v.length; i++) if (v[i] === a) return true;
    return false;
  }

  private isOwn(a: number): boolean {
    if (this.isVip(a)) return true;
    const s = this.segments;
    for (let i = 0; i < s.length; i++) if (s[i].local === a) return true;
    return false;
  }

  /** An ICMP error from a host on segment `segIndex`'s link, quoting a datagram routed to that segment. */
  private errorAboutRouted(segIndex: number, ip: Ipv4View): boolean {
    const seg = this.segments[segIndex];
    if (ip.protocol !== PROTO_ICMP || ip.payloadLength < 8 + 20 || seg.prefix === undefined || !inPrefix(ip.src, seg.prefix)) return false;
    const b = ip.buf;
    const icmp = ip.payloadOffset;
    if (!isIcmpError(b[icmp])) return false;
    const quotedDst = readU32(b, icmp + 8 + 16);
    const h = this.lookup(quotedDst);
    return h !== undefined && h.segment === segIndex;
  }

  /** A datagram that would leave with TTL 0 is not forwarded (dropped, counted, reported to the intranet). */
  expired(slot: number, ip: Ipv4View, fromIntranet: boolean): boolean {
    if (ip.ttl > 1) return false;
    // RFC 1812 5.2.7.3: the discard is reported, code 0 (in transit).
    if (fromIntranet) this.icmp.error(ip, ICMP_TIME_EXCEEDED, 0);
    this.drops.drop(slot, 'ttl-exceeded');
    return true;
  }

  /** An ICMP network unreachable about `ip` to the intranet, and the datagram dropped. */
  unreachable(slot: number, ip: Ipv4View): void {
    this.icmp.error(ip, ICMP_UNREACHABLE, UNREACH_NET);
    this.drops.drop(slot, 'no-route');
  }
}
