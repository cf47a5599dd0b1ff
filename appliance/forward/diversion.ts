import type { DiversionSettings } from '../config/tables';
import type { PacketPool } from '../device/packet-pool';
import { isV6 } from '../addr/address';
import { CurrentConnections, FLOW_CLOSING, FLOW_REPLIED } from '../divert/current';
import { EnhancedNameServer } from '../divert/ens';
import type { DivertedAddresses } from '../divert/table';
import type { Endpoint } from '../divert/endpoint';
import { tcpSeen } from '../divert/tcp-seen';
import { rewriteFlow } from '../divert/translate';
import { SegmentBuilder } from '../flow/segment-builder';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, type Ipv4View } from '../wire/ipv4';
import { ACK, RST, SYN } from '../wire/tcp';
import type { Drops } from './drops';
import type { Neighbours } from './neighbours';
import type { Output } from './output';
import type { Router } from './routes';
import type { Segment } from './segments';
import { answerInPlace } from './dns-answer';
import { DivertedIcmp } from './diversion-icmp';
import type { Hop6, Link6 } from './diversion6';

/** Seconds a closed TCP flow's row stays for the last ACK and retransmitted FINs. */
const LINGER = 10;
/** Rows the expiry sweep examines per tick: the whole table in a few seconds, a bounded cost per tick. */
const SWEEP = 4096;

/**
 * The network-management patent's own mode on the appliance's routed traffic (step 703 of the
 * dispatch patent): a TCP or UDP datagram from the intranet whose destination the diverted-
 * address table diverts leaves, as in figure 3, from the appliance's own address on the egress
 * segment with a port of its own, to the diverted destination; the pair of pairs goes into the
 * current connections (divert/current.ts), and replies are rewritten back, so the client sees
 * them come from the address it sent to. ICMP errors about such a flow are translated both
 * ways (diversion-icmp.ts). DNS queries for diverted names are answered by the enhanced name server (figure 5).
 *
 * A TCP flow is diverted from its SYN only: segments of a connection that began before the
 * diversion keep their path (drain). UDP has no beginning: a datagram with no row follows the
 * table as it is now.
 *
 * The current connections hold IPv6 flows too (diversion6.ts takes their datagrams, `v6`); the
 * operator's paths here (move, rerouted, the resets) serve rows of both families. A routed flow
 * keeps its family: an entry to the other family diverts SOCKS connections only (counted).
 */
export class Diversion {
  table!: DivertedAddresses;
  now = 0;
  readonly flows: CurrentConnections;
  readonly stats = { diverted: 0, returned: 0, icmpTranslated: 0, notAddress: 0, otherFamily: 0, reset: 0, moved: 0, released: 0 };
  /** The IPv6 side (diversion6.ts registers itself): its routes and link, for rows of IPv6 flows. */
  v6: (Hop6 & Link6) | undefined;
  /** ICMP errors about the diverted flows, translated both ways. */
  private readonly icmp: DivertedIcmp;
  private readonly builder: SegmentBuilder;
  private sweepAt = 0;

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly router: Router,
    private readonly neighbours: Neighbours,
    private readonly output: Output,
    private readonly drops: Drops,
    public settings: DiversionSettings,
    private readonly log: (message: string) => void,
  ) {
    this.flows = new CurrentConnections(settings.maxFlows);
    this.builder = new SegmentBuilder(pool);
    this.icmp = new DivertedIcmp(pool, segments, router, neighbours, output, this.flows, this.stats);
    // The name server asks the table in force (a reload replaces it) through this object.
    this.ens = new EnhancedNameServer(this, settings.dnsTtl);
  }

  readonly ens: EnhancedNameServer;

  /** A reload: the table and the settings in force (max_flows excepted: a restart's). */
  configure(table: DivertedAddresses, settings: DiversionSettings): void {
    this.table = table;
    this.settings = settings;
    this.ens.ttl = settings.dnsTtl;
  }

  get hasNames(): boolean {
    return this.table.hasNames;
  }

  nameAddress(name: string): number | undefined {
    return this.table.nameAddress(name);
  }

  /** From the intranet, to no VIP: true when taken here (diverted, answered or dropped), false to route it as ever. */
  fromIntranet(slot: number, ip: Ipv4View): boolean {
    if (this.table.size === 0 && this.flows.size === 0) return false;
    const proto = ip.protocol;
    if (proto === PROTO_ICMP) return this.flows.size > 0 && this.icmp.fromIntranet(slot, ip);
    if ((proto !== PROTO_TCP && proto !== PROTO_UDP) || ip.payloadLength < (proto === PROTO_TCP ? 20 : 8)) return false;
    const b = this.pool.buf;
    const t = ip.payloadOffset;
    const srcPort = (b[t] << 8) | b[t + 1];
    const dstPort = (b[t + 2] << 8) | b[t + 3];
    // Figure 5: a query for a diverted name is answered here; every other passes on.
    if (dstPort === 53 && proto === PROTO_UDP && this.table.hasNames && answerInPlace(this.pool, this.ens, slot, ip, this.output)) return true;
    const f = this.flows;
    let r = f.findClient(proto, ip.src, srcPort, ip.dst, dstPort);
    const syn = proto === PROTO_TCP && (b[t + 13] & (SYN | ACK | RST)) === SYN;
    if (r >= 0 && syn && f.flags[r] & FLOW_CLOSING) {
      f.remove(r); // the client's port again, for a new connection
      r = -1;
    }
    if (r < 0) {
      // Drain: a TCP segment with no row is of a connection from before the diversion.
      if (this.table.size === 0 || (proto === PROTO_TCP && !syn)) return false;
      const to = this.table.lookupAddress(ip.dst, dstPort);
      if (to === undefined) return false;
      if (to.kind !== 'ipv4') return this.notTaken(to);
      if (this.router.expired(slot, ip, true)) return true;
      r = this.open(slot, ip, proto, srcPort, dstPort, to.address, to.port ?? dstPort);
      if (r < 0) return true;
    } else if (this.router.expired(slot, ip, true)) return true;
    // Figure 3, event 3: both addresses and ports rewritten, the datagram sent on.
    const len = ip.totalLength;
    const seg = f.segment[r];
    if (proto === PROTO_TCP) tcpSeen(f, r, b, t, ip.payloadLength, true);
    rewriteFlow(ip, this.pool.checksumPartial(slot), this.segments[seg].local, f.ownPort[r], f.divAddr[r], f.divPort[r]);
    ip.decrementTtl();
    f.lastSeen[r] = this.now;
    f.packetsOut[r]++;
    f.bytesOut[r] += len;
    this.stats.diverted++;
    this.neighbours.sendTo(seg, slot, len, f.nextHop[r]);
    return true;
  }

  /** A datagram to the appliance's own address on segment `segIndex`: a reply of a diverted flow is rewritten back (events 5-7). */
  fromSegment(segIndex: number, slot: number, ip: Ipv4View): boolean {
    const f = this.flows;
    if (f.size === 0) return false;
    const proto = ip.protocol;
    if (proto === PROTO_ICMP) return this.icmp.fromSegment(segIndex, slot, ip);
    if ((proto !== PROTO_TCP && proto !== PROTO_UDP) || ip.payloadLength < (proto === PROTO_TCP ? 20 : 8)) return false;
    const b = this.pool.buf;
    const t = ip.payloadOffset;
    const r = f.findServer(proto, ip.src, (b[t] << 8) | b[t + 1], segIndex, (b[t + 2] << 8) | b[t + 3]);
    if (r < 0) return false;
    if (this.router.expired(slot, ip, false)) return true;
    const len = ip.totalLength;
    if (proto === PROTO_TCP) tcpSeen(f, r, b, t, ip.payloadLength, false);
    f.flags[r] |= FLOW_REPLIED;
    rewriteFlow(ip, this.pool.checksumPartial(slot), f.origAddr[r], f.origPort[r], f.clientAddr[r], f.clientPort[r]);
    ip.decrementTtl();
    f.lastSeen[r] = this.now;
    f.packetsIn[r]++;
    f.bytesIn[r] += len;
    this.stats.returned++;
    this.output.toIntranet(slot, len);
    return true;
  }

  /**
   * A routed flow whose entry diverts it to what it cannot go to as it is: a host name (nothing
   * is resolved here: a name is for a SOCKS server to look up) or the other family (no NAT64
   * here); it goes unchanged (counted, logged once). False: the caller routes it.
   */
  notTaken(to: Endpoint): false {
    if (to.kind === 'name') {
      this.stats.notAddress++;
      if (this.drops.first('divert-name')) this.log(`divert: routed traffic to a destination diverted to a host name goes unchanged (only SOCKS servers resolve names; counted)`);
    } else {
      this.stats.otherFamily++;
      if (this.drops.first('divert-family')) this.log(`divert: routed traffic to a destination diverted to the other address family goes unchanged (only SOCKS connections change family; counted)`);
    }
    return false;
  }

  /** A share of the expiry sweep: idle UDP rows, idle or unanswered TCP rows, closed ones after their linger. */
  expire(now: number): void {
    const f = this.flows;
    if (f.size === 0) return;
    const s = this.settings;
    for (let n = 0; n < SWEEP; n++) {
      const r = this.sweepAt;
      this.sweepAt = r + 1 === f.capacity ? 0 : r + 1;
      if (f.used[r] === 0) continue;
      const flags = f.flags[r];
      const limit = flags & FLOW_CLOSING ? LINGER : f.proto[r] === PROTO_UDP ? s.udpTimeout : flags & FLOW_REPLIED ? s.tcpTimeout : s.unrepliedTimeout;
      if (now - f.lastSeen[r] >= limit) {
        f.remove(r);
        f.stats.expired++;
      }
    }
  }

  /**
   * The mid-connection diversion (the patent: "search the current connections ... and change
   * the destination"), after the table changed: each row whose original destination the table
   * now sends elsewhere is moved. A UDP row is retargeted in place (its own port kept where the
   * segment stays the same) or, when the table no longer diverts it, released, so that the next
   * datagram is routed as the table says. A TCP row cannot move without its state: both ends are
   * reset, each at the exact next sequence number it expects (RFC 5961 3.2), and the row goes.
   */
  move(): { moved: number; reset: number; released: number } {
    const f = this.flows;
    const done = { moved: 0, reset: 0, released: 0 };
    for (let r = 0; r < f.capacity; r++) {
      if (f.used[r] === 0) continue;
      const to = this.table.lookupAddress(f.origAddr[r], f.origPort[r]);
      // Only to the row's own family (an IPv6 row: an IPv6 entry).
      const same = to !== undefined && to.kind !== 'name' && isV6(to.address) === isV6(f.origAddr[r]);
      const div = same ? to.address : -1;
      const divPort = same ? (to.port ?? f.origPort[r]) : -1;
      if (div === f.divAddr[r] && divPort === f.divPort[r]) continue;
      if (f.proto[r] === PROTO_TCP) {
        this.reset(r);
        f.remove(r);
        done.reset++;
        continue;
      }
      const hop = div < 0 ? undefined : this.hop(div);
      if (hop === undefined || hop.segment < 0 || !f.retarget(r, div, divPort, hop.segment, hop.gateway ?? div)) {
        f.remove(r);
        done.released++;
        continue;
      }
      done.moved++;
    }
    this.stats.moved += done.moved;
    this.stats.reset += done.reset;
    this.stats.released += done.released;
    return done;
  }

  /** A reload's [routes]: rows keep their flow, with the next hop the new routes give (none: the row goes). */
  rerouted(): void {
    const f = this.flows;
    for (let r = 0; r < f.capacity; r++) {
      if (f.used[r] === 0) continue;
      const hop = this.hop(f.divAddr[r]);
      if (hop === undefined || hop.segment !== f.segment[r]) f.remove(r);
      else f.setNextHop(r, hop.gateway ?? f.divAddr[r]);
    }
  }

  /** The route to `div` (either family; an IPv6 one when the IPv6 side is there). */
  private hop(div: number): { segment: number; gateway: number | undefined } | undefined {
    if (!isV6(div)) return this.router.lookup(div);
    return this.v6?.hop6(div);
  }

  /** A new row for a diverted flow: its route, its own port; -1 when dropped (no route, table full; counted). */
  private open(slot: number, ip: Ipv4View, proto: number, srcPort: number, dstPort: number, div: number, divPort: number): number {
    const hop = this.router.lookup(div);
    if (hop === undefined || hop.segment < 0) {
      this.router.unreachable(slot, ip);
      return -1;
    }
    const r = this.flows.add(proto, ip.src, srcPort, ip.dst, dstPort, div, divPort, hop.segment, hop.gateway ?? div, this.now);
    if (r < 0) this.drops.drop(slot, 'diverted-flows-full');
    return r;
  }

  /** RST|ACK to both ends of TCP row `r`, each as from the address it knows the other by. */
  private reset(r: number): void {
    const f = this.flows;
    const seg = f.segment[r];
    // An IPv6 row is diversion6.ts's, which is there for it to be.
    const v6 = isV6(f.divAddr[r]);
    const toServer = this.builder.build(v6 ? this.segments[seg].local6 : this.segments[seg].local, f.ownPort[r], f.divAddr[r], f.divPort[r], f.clientNext[r], f.serverNext[r], RST | ACK, 0);
    if (toServer >= 0 && v6) this.v6!.sendTo6(seg, toServer, this.builder.lastLength, f.nextHop[r]);
    else if (toServer >= 0) this.neighbours.sendTo(seg, toServer, this.builder.lastLength, f.nextHop[r]);
    const toClient = this.builder.build(f.origAddr[r], f.origPort[r], f.clientAddr[r], f.clientPort[r], f.serverNext[r], f.clientNext[r], RST | ACK, 0);
    if (toClient >= 0) this.output.toIntranet(toClient, this.builder.lastLength);
  }
}
