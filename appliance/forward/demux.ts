import type { PacketPool } from '../device/packet-pool';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER, EthernetView } from '../wire/ethernet';
import type { Demux6 } from './demux6';
import { PROTO_ICMP, PROTO_TCP } from '../wire/ipv4';
import type { Dispatcher } from '../flow/dispatcher';
import type { Diversion } from './diversion';
import type { Drops } from './drops';
import type { ServerEgress } from './egress';
import type { Icmp } from './icmp';
import type { Neighbours } from './neighbours';
import type { Router } from './routes';
import type { Segment } from './segments';
import type { Validator } from './validate';

/**
 * Where each datagram read goes, checked on the way (Validator). From the TUN: TCP to a VIP's
 * SOCKS port to the dispatcher (patent step 702), ICMP to a VIP answered, the rest routed
 * (step 703). From a TAP: ARP to the neighbours; to the appliance's `local` address, TCP from
 * a server's endpoint to the dispatcher and ICMP answered; to any other address, a reply to a
 * routed datagram, routed.
 */
export class Demux {
  private readonly eth = new EthernetView();

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly checks: Validator,
    private readonly neighbours: Neighbours,
    private readonly icmp: Icmp,
    private readonly router: Router,
    private readonly diversion: Diversion,
    private readonly egress: ServerEgress,
    private readonly drops: Drops,
    /** The IPv6 side (demux6.ts): a TUN datagram of version 6, a frame of EtherType 0x86DD. */
    private readonly v6: Demux6,
  ) {}

  get dispatcher(): Dispatcher {
    return this.flow;
  }

  set dispatcher(d: Dispatcher) {
    this.flow = d;
    this.v6.dispatcher = d;
  }

  private flow!: Dispatcher;

  /** A datagram of `n` bytes from the TUN: the intranet's side. */
  fromIntranet(slot: number, n: number): void {
    if (this.pool.buf[this.pool.ipOffset(slot)] >> 4 === 6) {
      this.v6.fromIntranet(slot, n);
      return;
    }
    slot = this.checks.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.checks.ip;
    const len = ip.totalLength;
    const proto = ip.protocol;
    const toVip = this.router.isVip(ip.dst);
    if (proto === PROTO_TCP && toVip) {
      const tcp = this.checks.checkTcp(slot);
      if (tcp === undefined) return;
      if (this.flow.isSocks(tcp.dstPort)) {
        this.flow.fromClient(slot, ip, tcp, this.checks.opts, len);
        return;
      }
    }
    if (proto === PROTO_ICMP && toVip) {
      this.icmp.echo(slot, ip, -1);
      return;
    }
    // Step 703: not SOCKS, so the route table decides, unless the diverted-address table does.
    if (!toVip && this.diversion.fromIntranet(slot, ip)) return;
    this.router.forward(slot, ip, true);
  }

  /** A frame of `n` bytes from the TAP of segment `segIndex`. */
  fromSegment(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    const eth = this.eth.wrap(this.pool.buf, this.pool.frameOffset(slot), n);
    if (!eth.valid) {
      this.drops.dropRead(slot, 'malformed-ethernet', n - ETH_HEADER);
      return;
    }
    if (!eth.isFor(seg.mac) && !(seg.local6 >= 0 && eth.isIpv6Multicast) && !forAnother(eth, seg.alsoMacs) && !forAnother(eth, seg.also6Macs)) {
      this.pool.give(slot); // another host's frame, flooded by the bridge
      return;
    }
    const type = eth.etherType;
    if (type === ETHERTYPE_ARP) {
      this.neighbours.receive(segIndex, slot, n);
      return;
    }
    if (type === ETHERTYPE_IPV6) {
      this.v6.fromSegment(segIndex, slot, n - ETH_HEADER);
      return;
    }
    if (type !== ETHERTYPE_IPV4 || seg.local < 0) {
      this.pool.give(slot);
      return;
    }
    slot = this.checks.checkIp(slot, n - ETH_HEADER);
    if (slot < 0) return;
    const ip = this.checks.ip;
    const len = ip.totalLength;
    if (ip.dst !== seg.local && (seg.also.length === 0 || seg.also.indexOf(ip.dst) < 0)) {
      this.router.fromSegment(segIndex, slot, ip);
      return;
    }
    if (this.diversion.fromSegment(segIndex, slot, ip)) return;
    if (ip.protocol === PROTO_TCP) {
      const tcp = this.checks.checkTcp(slot);
      if (tcp === undefined) return;
      const server = seg.servers.get(ip.src * 65536 + tcp.srcPort);
      if (server === undefined) {
        this.drops.drop(slot, 'not-for-us');
        return;
      }
      const st = this.egress.stats[server];
      st.packetsIn++;
      st.bytesIn += len;
      this.flow.fromServer(server, slot, ip, tcp, this.checks.opts, len);
      return;
    }
    if (ip.protocol === PROTO_ICMP) {
      this.icmp.echo(slot, ip, segIndex);
      return;
    }
    this.drops.drop(slot, 'unsupported');
  }
}

/** Whether the frame is for one of the MACs of the silent ECMP peers answered for here (segments.ts `also`). */
function forAnother(eth: EthernetView, macs: readonly Uint8Array[]): boolean {
  for (let i = 0; i < macs.length; i++) if (eth.isFor(macs[i])) return true;
  return false;
}
