import { PROTO_TCP } from '../wire/ipv4';
import { PROTO_ICMPV6 } from '../wire/ipv6';
import type { Dispatcher } from '../flow/dispatcher';
import type { Drops } from './drops';
import type { Neighbours } from './neighbours';
import type { ServerEgress } from './egress';
import type { Router } from './routes';
import type { Segment } from './segments';
import type { Validator6 } from './validate6';

/**
 * demux.ts for IPv6 datagrams: from the TUN, TCP to an IPv6 VIP's SOCKS port goes to the
 * dispatcher (patent step 702); from a TAP (EtherType 0x86DD), Neighbor Discovery goes to the
 * neighbours (ndp.ts), and TCP from a server's endpoint to the appliance's `local6` to the
 * dispatcher. The connection path then takes either family alike (the addresses are numbers:
 * addr/interner.ts).
 */
export class Demux6 {
  dispatcher!: Dispatcher;

  constructor(
    private readonly segments: readonly Segment[],
    private readonly checks: Validator6,
    private readonly router: Router,
    private readonly egress: ServerEgress,
    private readonly drops: Drops,
    private readonly neighbours: Neighbours,
  ) {}

  /** An IPv6 datagram of `n` bytes from the TUN. */
  fromIntranet(slot: number, n: number): void {
    slot = this.checks.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.checks.ip;
    const toVip = ip.dst >= 0 && this.router.isVip(ip.dst);
    if (ip.headers.protocol === PROTO_TCP && toVip) {
      const tcp = this.checks.checkTcp(slot);
      if (tcp === undefined) return;
      if (this.dispatcher.isSocks(tcp.dstPort)) {
        this.dispatcher.fromClient(slot, ip, tcp, this.checks.opts, ip.totalLength);
        return;
      }
    }
    this.drops.drop(slot, 'unsupported');
  }

  /** An IPv6 frame of `n` bytes from the TAP of segment `segIndex`, for the appliance's MAC. */
  fromSegment(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    slot = this.checks.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.checks.ip;
    // Neighbor Discovery first: a solicitation comes to a solicited-node group, not to local6.
    if (ip.headers.protocol === PROTO_ICMPV6 && this.neighbours.receive6(segIndex, slot, ip, this.checks.reassembled)) return;
    if (ip.dst !== seg.local6 || seg.local6 < 0) {
      this.drops.drop(slot, 'not-for-us');
      return;
    }
    if (ip.headers.protocol === PROTO_TCP) {
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
    this.drops.drop(slot, 'unsupported');
  }
}
