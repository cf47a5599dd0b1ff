import { DEFENCES } from '../defences';
import type { PacketPool } from '../device/packet-pool';
import {
  ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_UNREACHABLE, isIcmpv6Error, TIME_EXCEEDED_HOP_LIMIT, UNREACH6_BEYOND_SCOPE,
  UNREACH6_NO_ROUTE,
} from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { IPV6_HEADER, PROTO_ICMPV6 } from '../wire/ipv6';
import { isLinkLocal6, notUnique6 } from '../wire/ipv6-scope';
import type { Drops } from './drops';
import type { Icmp6, Ipv6Link } from './icmp6';
import type { Output } from './output';
import type { RouteTable6 } from './route-table6';
import type { Segment } from './segments';

/**
 * Patent step 703 for IPv6: what is not SOCKS follows the IPv6 [routes], forwarded as an IPv6
 * router does (RFC 8200, RFC 4443 3): the longest match, the hop limit decremented (there is
 * no header checksum), never fragmented. From a segment, a datagram no route takes goes back
 * into the TUN (the replies of routed flows), reverse-path filtered as routes.ts does IPv4's.
 * Errors go back where the datagram came from (icmp6.ts).
 */
export class Router6 {
  /** appliance.ini rp_filter: loose accepts a source routed through any segment. */
  loose = false;

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly table: RouteTable6,
    /** The VIPs (routes.ts's Router holds them for both families). */
    private readonly vips: { isVip(a: number): boolean },
    private readonly link: Ipv6Link,
    private readonly icmp6: Icmp6,
    private readonly output: Output,
    private readonly drops: Drops,
    /** [intranet] mtu: the way back into the TUN. */
    private readonly tunMtu: number,
    /** What a TAP's link carries. */
    private readonly tapMtu: number,
  ) {}

  /**
   * Forwards a datagram from the TUN (`from` -1) or from segment `from`. Multicast is not
   * routed (no multicast routing here; freed, uncounted, as RFC 4443 2.4 e.3 wants no error);
   * link-local addresses never leave their link (RFC 4291 2.5.6).
   */
  forward(slot: number, ip: Ipv6Datagram, from: number): void {
    const b = ip.buf;
    if (ip.dstMulticast) {
      this.pool.give(slot);
      return;
    }
    if (notUnique6(b, ip.srcOffset)) {
      // RFC 4291 2.5.2, 2.7: neither the unspecified address nor a group is a source.
      this.drops.drop(slot, 'malformed-ipv6');
      return;
    }
    // RFC 8200 3: discarded when the hop limit would reach 0; RFC 4443 3.3 code 0.
    if (ip.hopLimit <= 1) {
      this.icmp6.error6(slot, ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_HOP_LIMIT, 0, from);
      this.drops.drop(slot, 'ttl-exceeded');
      return;
    }
    if (isLinkLocal6(b, ip.srcOffset)) {
      this.unreachable(slot, UNREACH6_BEYOND_SCOPE, from); // RFC 4443 3.1 code 2
      return;
    }
    const t = this.table;
    const linkLocal = isLinkLocal6(b, ip.dstOffset);
    const h = linkLocal ? -1 : t.lookup(b, ip.dstOffset);
    // From a segment, no route is the way back into the TUN; from the TUN, no route, or a
    // route whose TAP is not there, is unreachable (code 0).
    if (linkLocal || (h < 0 && from < 0) || (h >= 0 && t.segment[h] < 0)) {
      this.unreachable(slot, UNREACH6_NO_ROUTE, from);
      return;
    }
    const seg = h < 0 ? -1 : t.segment[h];
    const mtu = seg < 0 ? this.tunMtu : this.tapMtu;
    // What each packet on the wire will be: a GSO super-packet is cut into segments of its gso_size.
    const p = this.pool;
    const size = p.gsoType[slot] !== 0 ? p.hdrLen[slot] + p.gsoSize[slot] : ip.totalLength;
    if (size > mtu) {
      // RFC 4443 3.2: an IPv6 router never fragments; the source learns the link's MTU.
      this.icmp6.error6(slot, ICMPV6_PACKET_TOO_BIG, 0, mtu, from);
      this.drops.drop(slot, 'packet-too-big');
      return;
    }
    ip.hopLimit = ip.hopLimit - 1;
    const len = ip.totalLength;
    if (seg < 0) this.output.toIntranet(slot, len);
    else this.link.sendTo6(seg, slot, len, t.gateway[h] >= 0 ? t.gateway[h] : ip.dst);
  }

  /**
   * A datagram from segment `segIndex` to an address not the appliance's: reverse-path
   * filtered as routes.ts's fromSegment does IPv4 (RFC 3704 strict or feasible, as `loose`
   * says): its source must be one the IPv6 [routes] send through that segment (any segment,
   * loose), never a VIP or the appliance's own; the one exception an ICMPv6 error from a host
   * on the segment's own link about a datagram routed to that segment (a gateway's Packet Too
   * Big, Time Exceeded), which that datagram's sender needs.
   */
  fromSegment(segIndex: number, slot: number, ip: Ipv6Datagram): void {
    if (!DEFENCES) return this.forward(slot, ip, segIndex);
    if (this.isOwn(ip.src)) {
      this.drops.drop(slot, 'spoofed-source');
      return;
    }
    const back = this.table.lookup(ip.buf, ip.srcOffset);
    if (back < 0 || (this.table.segment[back] !== segIndex && !this.loose)) {
      if (!this.errorAboutRouted(segIndex, ip)) {
        this.drops.drop(slot, 'rp-filter');
        return;
      }
    }
    this.forward(slot, ip, segIndex);
  }

  private isOwn(a: number): boolean {
    if (a < 0) return false; // the appliance's addresses are interned: an address that is not, is not one
    if (this.vips.isVip(a)) return true;
    const s = this.segments;
    for (let i = 0; i < s.length; i++) if (s[i].local6 === a) return true;
    return false;
  }

  /** An ICMPv6 error from a host on segment `segIndex`'s link, quoting a datagram routed to that segment. */
  private errorAboutRouted(segIndex: number, ip: Ipv6Datagram): boolean {
    const b = ip.buf;
    const at = ip.upperOffset;
    if (ip.headers.protocol !== PROTO_ICMPV6 || ip.upperLength < 8 + IPV6_HEADER || !isIcmpv6Error(b[at])) return false;
    if (!this.table.onLink(segIndex, b, ip.srcOffset)) return false;
    const h = this.table.lookup(b, at + 8 + 24);
    return h >= 0 && this.table.segment[h] === segIndex;
  }

  private unreachable(slot: number, code: number, from: number): void {
    this.icmp6.error6(slot, ICMPV6_UNREACHABLE, code, 0, from);
    this.drops.drop(slot, 'no-route');
  }
}
