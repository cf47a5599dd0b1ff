import type { PacketPool } from '../device/packet-pool';
import type { CurrentConnections } from '../divert/current';
import { QuotedFlow } from '../divert/translate';
import { IcmpView, isIcmpError } from '../wire/icmp';
import type { Ipv4View } from '../wire/ipv4';
import type { Neighbours } from './neighbours';
import type { Output } from './output';
import type { Router } from './routes';
import type { Segment } from './segments';

/**
 * ICMP errors about the flows of the current connections (forward/diversion.ts), translated both
 * ways as Linux's NAT does (RFC 5508 4.3): the quoted datagram is the one its receiver knows,
 * addresses, ports and checksums rewritten; the error comes from the address the client knows.
 */
export class DivertedIcmp {
  private readonly quoted = new QuotedFlow();
  private readonly view = new IcmpView();

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly router: Router,
    private readonly neighbours: Neighbours,
    private readonly output: Output,
    private readonly flows: CurrentConnections,
    private readonly stats: { icmpTranslated: number },
  ) {}

  /** An ICMP error from the intranet about a reply it got from a diverted flow: sent on to the diverted destination, about the datagram it sent. */
  fromIntranet(slot: number, ip: Ipv4View): boolean {
    const q = this.quote(ip);
    if (q === undefined) return false;
    // The quote is of (original -> client): the row's first pair, reversed.
    const f = this.flows;
    const r = f.findClient(q.proto, q.dst, q.dstPort, q.src, q.srcPort);
    if (r < 0) return false;
    if (this.router.expired(slot, ip, true)) return true;
    const seg = f.segment[r];
    const own = this.segments[seg].local;
    q.rewrite(f.divAddr[r], f.divPort[r], own, f.ownPort[r]);
    ip.rewriteSrc(own);
    ip.rewriteDst(f.divAddr[r]);
    this.done(ip);
    this.neighbours.sendTo(seg, slot, ip.totalLength, f.nextHop[r]);
    return true;
  }

  /** An ICMP error to the appliance's own address about a diverted datagram: to the client, about the datagram it sent (RFC 5508 4.3). */
  fromSegment(segIndex: number, slot: number, ip: Ipv4View): boolean {
    const q = this.quote(ip);
    if (q === undefined || q.src !== this.segments[segIndex].local) return false;
    const f = this.flows;
    const r = f.findServer(q.proto, q.dst, q.dstPort, segIndex, q.srcPort);
    if (r < 0) return false;
    if (this.router.expired(slot, ip, false)) return true;
    q.rewrite(f.clientAddr[r], f.clientPort[r], f.origAddr[r], f.origPort[r]);
    // From the diverted server itself: from the original, as the client knows it; from a router on the way: as it is.
    if (ip.src === f.divAddr[r]) ip.rewriteSrc(f.origAddr[r]);
    ip.rewriteDst(f.clientAddr[r]);
    this.done(ip);
    this.output.toIntranet(slot, ip.totalLength);
    return true;
  }

  private quote(ip: Ipv4View): QuotedFlow | undefined {
    const b = this.pool.buf;
    if (ip.payloadLength < 8 || !isIcmpError(b[ip.payloadOffset])) return undefined;
    return this.quoted.read(b, ip.payloadOffset, ip.payloadLength) ? this.quoted : undefined;
  }

  private done(ip: Ipv4View): void {
    ip.decrementTtl();
    this.view.wrap(this.pool.buf, ip.payloadOffset, ip.payloadLength).fillChecksum();
    this.stats.icmpTranslated++;
  }
}
