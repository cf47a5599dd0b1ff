import type { PacketPool } from '../device/packet-pool';
import type { Dispatcher } from '../flow/dispatcher';
import { ICMPV6_PARAMETER_PROBLEM, ICMPV6_UNREACHABLE, PARAMETER_NEXT_HEADER, UNREACH6_PORT } from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { PROTO_TCP, PROTO_UDP } from '../wire/ipv4';
import { HOP_BY_HOP, Ipv6HeaderError, NO_NEXT_HEADER, PROTO_ICMPV6 } from '../wire/ipv6';
import type { Diversion6 } from './diversion6';
import type { Drops } from './drops';
import type { ServerEgress } from './egress';
import type { Icmp6 } from './icmp6';
import type { Neighbours } from './neighbours';
import type { Router } from './routes';
import type { Router6 } from './routes6';
import type { Segment } from './segments';
import type { Validator6 } from './validate6';

/**
 * demux.ts for IPv6 datagrams. From the TUN: TCP to an IPv6 VIP's SOCKS port goes to the
 * dispatcher (patent step 702), ICMPv6 to a VIP to the appliance's own ICMPv6 (icmp6.ts),
 * anything else to a VIP is answered as a host does (RFC 4443 3.1 port unreachable, RFC 8200
 * 4 unrecognized next header); the rest is routed (step 703, routes6.ts). From a TAP (EtherType
 * 0x86DD): Neighbor Discovery first (ndp.ts), whatever its destination (solicited-node groups,
 * the appliance's addresses); then to the appliance's `local6`, TCP from a server's endpoint to
 * the dispatcher and ICMPv6 to icmp6.ts; other groups freed; anything else is the way back of a
 * routed flow (reverse-path filtered). Fragments are reassembled only when they are for the
 * appliance: a router forwards them as they are (RFC 8200 4.5: only the destination reassembles).
 */
export class Demux6 {
  dispatcher!: Dispatcher;

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly checks: Validator6,
    private readonly router: Router,
    private readonly router6: Router6,
    private readonly icmp6: Icmp6,
    private readonly egress: ServerEgress,
    private readonly drops: Drops,
    private readonly neighbours: Neighbours,
    private readonly diversion6: Diversion6,
  ) {}

  /** An IPv6 datagram of `n` bytes from the TUN. */
  fromIntranet(slot: number, n: number): void {
    slot = this.checks.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.checks.ip;
    const toVip = ip.dst >= 0 && this.router.isVip(ip.dst);
    if (toVip && ip.headers.isFragment && (slot = this.checks.reassemble(slot)) < 0) return;
    if (this.checks.headerError !== Ipv6HeaderError.None) {
      this.badHeaders(slot, ip, toVip, -1);
      return;
    }
    if (!toVip) {
      // Step 703, unless the diverted-address table takes the flow (figure 3; whole datagrams
      // only: a router does not reassemble, so a fragmented flow is routed as it came).
      if (!ip.headers.isFragment && this.diversion6.fromIntranet(slot, ip)) return;
      this.router6.forward(slot, ip, -1);
      return;
    }
    const proto = ip.headers.protocol;
    if (proto === PROTO_TCP) {
      const tcp = this.checks.checkTcp(slot);
      if (tcp === undefined) return;
      if (this.dispatcher.isSocks(tcp.dstPort)) {
        this.dispatcher.fromClient(slot, ip, tcp, this.checks.opts, ip.totalLength);
        return;
      }
    }
    if (proto === PROTO_ICMPV6) this.icmp6.echo(slot, ip, -1);
    else this.notServed(slot, ip, -1);
  }

  /** An IPv6 frame of `n` bytes from the TAP of segment `segIndex`, for the appliance's MAC or an IPv6 group. */
  fromSegment(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    slot = this.checks.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.checks.ip;
    // The appliance is a destination of its local6 and of the groups on its link (not a multicast router).
    // And of a silent ECMP peer's it answers for (segments.ts `also6`, sync/members.ts).
    const own = seg.local6 >= 0 && (ip.dst === seg.local6 || (seg.also6.length > 0 && seg.also6.indexOf(ip.dst) >= 0));
    if ((own || (seg.local6 >= 0 && ip.dstMulticast)) && ip.headers.isFragment && (slot = this.checks.reassemble(slot)) < 0) return;
    const ok = this.checks.headerError === Ipv6HeaderError.None;
    // Neighbor Discovery first: a solicitation comes to a solicited-node group, not to local6.
    // A fragment not put together here is routed: its bytes past the fragment header are no message.
    if (ok && ip.headers.protocol === PROTO_ICMPV6 && !ip.headers.isFragment && this.neighbours.receive6(segIndex, slot, ip, this.checks.reassembled)) return;
    if (seg.local6 < 0) {
      this.drops.drop(slot, 'not-for-us'); // an IPv4-only segment
      return;
    }
    if (!own) {
      if (ip.dstMulticast) this.pool.give(slot); // a group's traffic (MLD and the like): not the appliance's
      else if (!ok) this.badHeaders(slot, ip, false, segIndex);
      else this.router6.fromSegment(segIndex, slot, ip);
      return;
    }
    if (!ok) {
      this.badHeaders(slot, ip, true, segIndex);
      return;
    }
    // A diverted flow's reply comes to local6 (figure 3, events 5-7).
    if (this.diversion6.fromSegment(segIndex, slot, ip)) return;
    const proto = ip.headers.protocol;
    if (proto === PROTO_TCP) {
      const tcp = this.checks.checkTcp(slot);
      if (tcp === undefined) return;
      const server = ip.src < 0 ? undefined : seg.servers.get(ip.src * 65536 + tcp.srcPort);
      if (server === undefined) {
        this.drops.drop(slot, 'not-for-us');
        return;
      }
      const len = ip.totalLength;
      const st = this.egress.stats[server];
      st.packetsIn++;
      st.bytesIn += len;
      this.dispatcher.fromServer(server, slot, ip, tcp, this.checks.opts, len);
      return;
    }
    if (proto === PROTO_ICMPV6) this.icmp6.echo(slot, ip, segIndex);
    else this.notServed(slot, ip, segIndex);
  }

  /**
   * To the appliance, what no part of it takes: UDP, and TCP to no SOCKS port, get a port
   * unreachable (RFC 4443 3.1 code 4); another protocol a Parameter Problem at the field that
   * names it (RFC 8200 4, code 1); "no next header" nothing.
   */
  private notServed(slot: number, ip: Ipv6Datagram, from: number): void {
    const proto = ip.headers.protocol;
    if (proto === PROTO_TCP || proto === PROTO_UDP) this.icmp6.error6(slot, ICMPV6_UNREACHABLE, UNREACH6_PORT, 0, from);
    else if (proto !== NO_NEXT_HEADER) this.icmp6.error6(slot, ICMPV6_PARAMETER_PROBLEM, PARAMETER_NEXT_HEADER, ip.headers.pointer, from);
    this.drops.drop(slot, 'unsupported');
  }

  /**
   * Extension headers the walk could not pass (validate6.ts). To the appliance: a Parameter
   * Problem where ipv6.ts says one is due, and a drop. Routed: only the hop-by-hop header is a
   * router's to read (RFC 8200 4), so an error past it does not stop the datagram; a chain
   * that runs past the payload is dropped all the same, no destination could read it.
   */
  private badHeaders(slot: number, ip: Ipv6Datagram, own: boolean, from: number): void {
    const err = this.checks.headerError;
    const pointer = ip.headers.pointer;
    if (own || this.inHopByHop(ip, err, pointer)) {
      this.icmp6.parameterProblem(slot, err, pointer, from);
      this.drops.drop(slot, 'malformed-ipv6');
    } else if (err === Ipv6HeaderError.Truncated) {
      this.drops.drop(slot, 'malformed-ipv6');
    } else if (from < 0) {
      this.router6.forward(slot, ip, -1);
    } else {
      this.router6.fromSegment(from, slot, ip);
    }
  }

  /** An option error (RFC 8200 4.2) inside the hop-by-hop header itself. */
  private inHopByHop(ip: Ipv6Datagram, err: Ipv6HeaderError, pointer: number): boolean {
    if (err !== Ipv6HeaderError.OptionIcmp && err !== Ipv6HeaderError.OptionDiscard) return false;
    if (ip.nextHeader !== HOP_BY_HOP) return false;
    return pointer < 40 + (ip.buf[ip.off + 41] + 1) * 8;
  }
}
