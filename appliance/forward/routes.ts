import { inPrefix, type Prefix } from '../config/address';
import type { Route } from '../config/tables';
import { ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE, UNREACH_NET } from '../wire/icmp';
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

  constructor(
    private readonly segments: readonly Segment[],
    private readonly neighbours: Neighbours,
    private readonly icmp: Icmp,
    private readonly output: Output,
    private readonly drops: Drops,
  ) {}

  /** The [routes] of a configuration, at start and at each reload. */
  set(routes: readonly Route[]): void {
    this.hops = routes.map((r) => ({ prefix: r.prefix, segment: segmentIndex(this.segments, r.tap), gateway: r.gateway }));
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
