import type { PacketPool } from '../device/packet-pool';
import type { CurrentConnections } from '../divert/current';
import { QuotedFlow6 } from '../divert/translate6';
import { pseudoHeaderSum6 } from '../wire/checksum';
import { Icmpv6View, isIcmpv6Error } from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { PROTO_ICMPV6 } from '../wire/ipv6';
import type { Drops } from './drops';
import type { Link6 } from './diversion6';
import type { Output } from './output';
import type { Segment } from './segments';

/**
 * diversion-icmp.ts for IPv6: ICMPv6 errors (RFC 4443 2.1: types below 128; Packet Too Big
 * above all, which path MTU discovery needs since no router fragments) about the IPv6 flows of
 * the current connections, translated both ways as Linux's NAT does (RFC 5508 4.3, the same
 * for ICMPv6): the quoted datagram is the one its receiver knows, addresses, ports and
 * checksums rewritten; the error comes from the address the client knows. The ICMPv6 checksum
 * covers a pseudo-header (RFC 4443 2.3), so it is computed again over the new addresses.
 */
export class DivertedIcmp6 {
  private readonly quoted = new QuotedFlow6();
  private readonly view = new Icmpv6View();

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly flows: CurrentConnections,
    private readonly link: Link6,
    private readonly output: Output,
    private readonly drops: Drops,
    private readonly stats: { icmpTranslated: number },
  ) {}

  /** An ICMPv6 error from the intranet about a reply it got from a diverted flow: sent on to the diverted destination, about the datagram it sent. */
  fromIntranet(slot: number, ip: Ipv6Datagram): boolean {
    const q = this.quote(ip);
    // The quote is of (original -> client): the row's first pair, reversed.
    if (q === undefined || q.src < 0 || q.dst < 0) return false;
    const f = this.flows;
    const r = f.findClient(q.proto, q.dst, q.dstPort, q.src, q.srcPort);
    if (r < 0) return false;
    if (this.expired(slot, ip)) return true;
    const seg = f.segment[r];
    const own = this.segments[seg].local6;
    q.rewrite(f.divAddr[r], f.divPort[r], own, f.ownPort[r]);
    ip.rewriteSrc(own);
    ip.rewriteDst(f.divAddr[r]);
    this.done(ip);
    this.link.sendTo6(seg, slot, ip.totalLength, f.nextHop[r]);
    return true;
  }

  /** An ICMPv6 error to the appliance's `local6` about a diverted datagram: to the client, about the datagram it sent (RFC 5508 4.3). */
  fromSegment(segIndex: number, slot: number, ip: Ipv6Datagram): boolean {
    const q = this.quote(ip);
    if (q === undefined || q.dst < 0 || q.src !== this.segments[segIndex].local6) return false;
    const f = this.flows;
    const r = f.findServer(q.proto, q.dst, q.dstPort, segIndex, q.srcPort);
    if (r < 0) return false;
    if (this.expired(slot, ip)) return true;
    q.rewrite(f.clientAddr[r], f.clientPort[r], f.origAddr[r], f.origPort[r]);
    // From the diverted server itself: from the original, as the client knows it; from a router on the way: as it is.
    if (ip.src === f.divAddr[r]) ip.rewriteSrc(f.origAddr[r]);
    ip.rewriteDst(f.clientAddr[r]);
    this.done(ip);
    this.output.toIntranet(slot, ip.totalLength);
    return true;
  }

  private quote(ip: Ipv6Datagram): QuotedFlow6 | undefined {
    const b = this.pool.buf;
    const at = ip.upperOffset;
    if (ip.upperLength < 8 || !isIcmpv6Error(b[at])) return undefined;
    return this.quoted.read(b, at, ip.upperLength) ? this.quoted : undefined;
  }

  /** Hop limit spent: dropped without a word (RFC 4443 2.4 e.1: no error about an error). */
  private expired(slot: number, ip: Ipv6Datagram): boolean {
    if (ip.hopLimit > 1) return false;
    this.drops.drop(slot, 'ttl-exceeded');
    return true;
  }

  private done(ip: Ipv6Datagram): void {
    ip.hopLimit = ip.hopLimit - 1;
    const b = this.pool.buf;
    this.view.wrap(b, ip.upperOffset, ip.upperLength).fillChecksum(pseudoHeaderSum6(b, ip.srcOffset, b, ip.dstOffset, PROTO_ICMPV6, ip.upperLength));
    this.stats.icmpTranslated++;
  }
}
