import type { Config, Route } from '../config/tables';
import { formatMac, inPrefix } from '../config/address';
import { Device } from '../device/device';
import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, type PacketPool } from '../device/packet-pool';
import { ArpView, ARP_LENGTH, ARP_REPLY, ARP_REQUEST, emitArp, type ArpRepr } from '../wire/arp';
import { emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, EthernetView } from '../wire/ethernet';
import { IcmpView, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE, UNREACH_NET } from '../wire/icmp';
import { emitIpv4, Ipv4Error, Ipv4View, IPV4_MIN_HEADER, PROTO_ICMP, PROTO_TCP } from '../wire/ipv4';
import { TcpOptions, TcpView } from '../wire/tcp';
import type { Dispatcher, Sink, Stages } from '../flow/dispatcher';
import { OutputQueue } from './output-queue';
import { ServerEgress } from './egress';
import type { ServerHealth } from './health';
import { Reassembler } from './reassembly';

/** One TAP: the segment behind it and the appliance's own address and MAC there. */
export interface Segment {
  tap: string;
  device: Device;
  local: number;
  mac: Uint8Array;
  /** Servers on this segment by endpoint (address * 65536 + port). */
  servers: Map<number, number>;
  /** Servers on this segment by address alone: several may share a host. */
  hosts: Map<number, number[]>;
}

/** Packets read per device per wake-up before the others get their turn. */
const BATCH = 256;
const ARP_RETRY = 1;
const ARP_REFRESH = 60;

/** Why packets were dropped, counted by reason; one log line the first time each happens. */
export const DROP_REASONS = [
  'malformed-ethernet', 'not-ipv4', 'malformed-ip', 'bad-ip-checksum', 'malformed-tcp', 'bad-tcp-checksum', 'malformed-arp', 'malformed-icmp',
  'no-route', 'ttl-exceeded', 'no-arp', 'queue-full', 'pool-exhausted', 'not-for-us', 'unsupported',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * The forwarder: the device side of the appliance. Reads the TUN and the TAPs, checks every
 * datagram once through the wire views, answers ARP and ICMP echo, hands SOCKS segments to the
 * dispatcher, routes the rest (patent step 703), and writes what comes back through per-server
 * output queues (with congestion control) and Ethernet framing onto the TAPs, or onto the TUN.
 */
export class Forwarder implements Sink {
  readonly tun: Device;
  readonly segments: Segment[] = [];
  /** Server index -> segment index. */
  readonly serverSegment: number[];
  /** The servers' output queues with congestion control, and their counters. */
  readonly egress: ServerEgress;
  private readonly tunQueue: OutputQueue;
  private readonly macs = new Map<number, Uint8Array>();
  /** Each server's MAC, as `macs` has it for its address: read per packet, so no lookup. */
  private readonly serverMac: (Uint8Array | undefined)[] = [];
  private readonly arpNext = new Map<number, number>();
  private routes: Route[];
  private vips: number[];
  dispatcher!: Dispatcher;
  readonly reassembler: Reassembler;

  // Views, re-pointed at each packet.
  private readonly eth = new EthernetView();
  private readonly ip = new Ipv4View();
  private readonly tcp = new TcpView();
  private readonly opts = new TcpOptions();
  private readonly arp = new ArpView();
  private readonly icmp = new IcmpView();
  private readonly arpRepr: ArpRepr = { operation: 0, senderMac: new Uint8Array(6), senderIp: 0, targetMac: new Uint8Array(6), targetIp: 0 };

  readonly drops: Record<DropReason, number>;
  /** Packets a bug of ours met (each dropped, the first of each kind logged). */
  internalErrors = 0;
  private readonly logged = new Set<string>();
  now = 0;
  /** Per device, the big slot the next read lands in. */
  private readonly landing: number[] = [];
  /** The device `flush` is draining a server queue into, for `writeTap`. */
  private drainDevice: Device | undefined;
  private readonly writeTun = (slot: number, len: number): boolean => this.tun.write(slot, len);
  private readonly writeTap = (slot: number, len: number): boolean => this.drainDevice!.write(slot, len);

  constructor(
    readonly pool: PacketPool,
    private readonly config: Config,
    stages: Stages,
    readonly health: ServerHealth,
    private readonly log: (message: string) => void,
  ) {
    this.tun = new Device(config.intranet.tun, 'tun', pool);
    this.serverSegment = [];
    for (const [i, s] of config.servers.entries()) {
      let seg = this.segments.findIndex((g) => g.tap === s.tap);
      if (seg < 0) {
        const l = s.local.address;
        this.segments.push({
          tap: s.tap,
          device: new Device(s.tap, 'tap', pool),
          local: l,
          // Locally administered, unique per segment address: 02:53:41 ("SA") + low 24 bits.
          mac: Uint8Array.of(0x02, 0x53, 0x41, (l >>> 16) & 255, (l >>> 8) & 255, l & 255),
          servers: new Map(),
          hosts: new Map(),
        });
        seg = this.segments.length - 1;
      }
      const g = this.segments[seg];
      g.servers.set(s.address * 65536 + s.port, i);
      g.hosts.set(s.address, [...(g.hosts.get(s.address) ?? []), i]);
      this.serverSegment.push(seg);
      this.serverMac.push(s.mac);
      if (s.mac) {
        this.macs.set(s.address, s.mac);
        health.resolved[i] = true;
      }
    }
    this.egress = new ServerEgress(config.servers, pool, stages.alps.size);
    this.tunQueue = new OutputQueue(pool.smallSlots + pool.bigSlots, pool);
    this.routes = config.routes;
    this.vips = config.intranet.vips;
    this.drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
    this.reassembler = new Reassembler(pool, 4 << 20, 30);
    for (let i = 0; i <= this.segments.length; i++) this.landing.push(-1);
  }

  /** Releases the landing slots (stop, or a device set that changes). */
  private releaseLanding(): void {
    for (const s of this.landing) if (s >= 0) this.pool.give(s);
    this.landing.length = 0;
  }

  get devices(): Device[] {
    return [this.tun, ...this.segments.map((s) => s.device)];
  }

  reconfigure(stages: Stages, routes: Route[], vips: number[]): void {
    this.egress.growAlps(stages.alps.size);
    this.routes = routes;
    this.vips = vips;
  }

  private drop(slot: number, reason: DropReason): void {
    this.drops[reason]++;
    if (!this.logged.has(reason)) {
      this.logged.add(reason);
      this.log(`dropping packets: ${reason} (counted from now on, logged once)`);
    }
    if (slot >= 0) this.pool.give(slot);
  }

  // ---------------------------------------------------------------- reading

  /** Drains device `index` (0: the TUN, then one per segment); returns packets read. */
  readDevice(index: number): number {
    const dev = index === 0 ? this.tun : this.segments[index - 1].device;
    const l2 = index === 0 ? 0 : ETH_HEADER;
    let got = 0;
    while (got < BATCH) {
      // Read into the device's big landing slot; an ordinary packet moves to a small one.
      let landing = this.landing[index];
      if (landing < 0 && (landing = this.landing[index] = this.pool.takeBig()) < 0) {
        this.drop(-1, 'pool-exhausted');
        break;
      }
      const n = dev.read(landing);
      if (n === 0) {
        if (dev.failure && !this.logged.has(dev.name)) {
          this.logged.add(dev.name);
          this.log(`device ${dev.name} failed (${dev.failure}); the others go on`);
        }
        break;
      }
      got++;
      let slot = landing;
      if (n - l2 <= this.pool.smallMaxIp) {
        slot = this.pool.take();
        if (slot < 0) {
          this.drop(-1, 'pool-exhausted');
          continue;
        }
        this.pool.copy(landing, slot, n - l2);
      } else {
        this.landing[index] = -1;
      }
      try {
        if (index === 0) this.fromIntranet(slot, n);
        else this.fromSegment(index - 1, slot, n);
      } catch (e) {
        this.internalError(e);
      }
    }
    return got;
  }

  /**
   * A bug met by one packet must not stop the others: the packet is lost (its slot too, since
   * where it stood is unknown), counted, and the first one of each kind logged.
   */
  internalError(e: unknown): void {
    this.internalErrors++;
    const what = (e as Error)?.message ?? String(e);
    if (!this.logged.has(`internal:${what}`)) {
      this.logged.add(`internal:${what}`);
      this.log(`internal error, packet dropped (counted, logged once): ${what}${process.env.SOCKSALP_DEBUG ? `\n${(e as Error)?.stack}` : ''}`);
    }
  }

  /** The kernel left the TCP checksum partial (IFF_VNET_HDR NEEDS_CSUM): it fills it in on output. */
  private tcpPartial(slot: number): boolean {
    return (this.pool.vnetFlags[slot] & VNET_F_NEEDS_CSUM) !== 0;
  }

  /** Whether the TCP checksum needs no check: the kernel checked it, or will fill it in. */
  private tcpTrusted(slot: number): boolean {
    return (this.pool.vnetFlags[slot] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0;
  }

  private isVip(a: number): boolean {
    const v = this.vips;
    for (let i = 0; i < v.length; i++) if (v[i] === a) return true;
    return false;
  }

  /**
   * Points `this.ip` at the datagram of `slot` (`n` bytes) and checks it; a fragment goes to
   * reassembly. Returns the slot holding the whole datagram, or -1 when it was dropped
   * (counted) or is waiting for more fragments.
   */
  private checkIp(slot: number, n: number): number {
    const ip = this.ip.wrap(this.pool.buf, this.pool.ipOffset(slot), n);
    const err = ip.check();
    if (err !== Ipv4Error.None) {
      this.drop(slot, err === Ipv4Error.Checksum ? 'bad-ip-checksum' : err === Ipv4Error.Version ? 'not-ipv4' : 'malformed-ip');
      return -1;
    }
    if (!ip.isFragment) return slot;
    const whole = this.reassembler.add(slot, ip, this.now);
    if (whole >= 0) ip.wrap(this.pool.buf, this.pool.ipOffset(whole), this.reassembler.lastLength);
    return whole;
  }

  /**
   * Points `this.tcp` and `this.opts` at the segment in `this.ip` and checks header, options
   * and (unless the kernel vouches for it) the checksum; undefined when dropped (counted).
   */
  private checkTcp(slot: number): TcpView | undefined {
    const ip = this.ip;
    const tcp = this.tcp.wrap(this.pool.buf, ip.payloadOffset, ip.payloadLength, this.tcpPartial(slot));
    if (tcp.check() !== 0 || !tcp.readOptions(this.opts)) {
      this.drop(slot, 'malformed-tcp');
      return undefined;
    }
    if (!this.tcpTrusted(slot) && !tcp.checksumValid(ip.src, ip.dst)) {
      this.drop(slot, 'bad-tcp-checksum');
      return undefined;
    }
    return tcp;
  }

  /** A datagram from the TUN: the intranet's side. */
  fromIntranet(slot: number, n: number): void {
    slot = this.checkIp(slot, n);
    if (slot < 0) return;
    const ip = this.ip;
    const len = ip.totalLength;
    const proto = ip.protocol;
    const toVip = this.isVip(ip.dst);
    if (proto === PROTO_TCP && toVip) {
      const tcp = this.checkTcp(slot);
      if (tcp === undefined) return;
      if (this.dispatcher.isSocks(tcp.dstPort)) {
        this.dispatcher.fromClient(slot, ip, tcp, this.opts, len);
        return;
      }
    }
    if (proto === PROTO_ICMP && toVip) {
      this.answerEcho(slot, ip, 'intranet');
      return;
    }
    // Step 703: not SOCKS, so the forwarder's route table decides.
    this.route(slot, ip, true);
  }

  /** A frame from TAP `seg`: ARP, or a datagram from a server (or a routed reply). */
  private fromSegment(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    const eth = this.eth.wrap(this.pool.buf, this.pool.frameOffset(slot), n);
    if (!eth.valid) {
      this.drop(slot, 'malformed-ethernet');
      return;
    }
    if (!eth.isFor(seg.mac)) {
      this.pool.give(slot); // another host's frame, flooded by the bridge
      return;
    }
    const type = eth.etherType;
    if (type === ETHERTYPE_ARP) {
      this.handleArp(seg, slot, n);
      return;
    }
    if (type !== ETHERTYPE_IPV4) {
      this.pool.give(slot);
      return;
    }
    slot = this.checkIp(slot, n - ETH_HEADER);
    if (slot < 0) return;
    const ip = this.ip;
    const len = ip.totalLength;
    if (ip.dst !== seg.local) {
      this.route(slot, ip, false);
      return;
    }
    if (ip.protocol === PROTO_TCP) {
      const tcp = this.checkTcp(slot);
      if (tcp === undefined) return;
      const server = seg.servers.get(ip.src * 65536 + tcp.srcPort);
      if (server === undefined) {
        this.drop(slot, 'not-for-us');
        return;
      }
      const st = this.egress.stats[server];
      st.packetsIn++;
      st.bytesIn += len;
      this.dispatcher.fromServer(server, slot, ip, tcp, this.opts, len);
      return;
    }
    if (ip.protocol === PROTO_ICMP) {
      this.answerEcho(slot, ip, seg.tap);
      return;
    }
    this.drop(slot, 'unsupported');
  }

  // ---------------------------------------------------------------- ARP

  private handleArp(seg: Segment, slot: number, n: number): void {
    const a = this.arp.wrap(this.pool.buf, this.pool.ipOffset(slot), n - ETH_HEADER);
    if (!a.valid) {
      this.drop(slot, 'malformed-arp');
      return;
    }
    const sender = a.senderIp;
    const servers = seg.hosts.get(sender);
    if (servers !== undefined || this.arpNext.has(sender)) this.learn(sender, a.senderMac, servers);
    if (a.operation !== ARP_REQUEST || a.targetIp !== seg.local) {
      this.pool.give(slot);
      return;
    }
    // Reply in place: to the asker, from the appliance's address on this segment.
    const r = this.arpRepr;
    r.operation = ARP_REPLY;
    r.targetMac.set(a.senderMac);
    r.targetIp = sender;
    r.senderMac.set(seg.mac);
    r.senderIp = seg.local;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, r.targetMac, seg.mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.writeFrame(seg, slot, ETH_HEADER + ARP_LENGTH);
  }

  private learn(ip: number, mac: Uint8Array, servers: number[] | undefined): void {
    const known = this.macs.get(ip);
    if (known === undefined || known.some((b, i) => b !== mac[i])) {
      const copy = Uint8Array.from(mac);
      this.macs.set(ip, copy);
      for (const server of servers ?? []) this.serverMac[server] = copy;
    }
    for (const server of servers ?? []) {
      if (this.health.resolved[server]) continue;
      this.health.resolved[server] = true;
      this.log(`server ${this.config.servers[server].name} is at ${formatMac(mac)}`);
    }
    this.arpNext.set(ip, this.now + ARP_REFRESH);
  }

  /** Asks for the MACs not yet known (every second) and refreshes the known ones (every minute). */
  private resolve(): void {
    for (const [i, s] of this.config.servers.entries()) {
      if (s.mac) continue;
      this.solicit(this.serverSegment[i], s.address);
    }
    for (const r of this.routes) {
      if (r.gateway === undefined) continue;
      const seg = this.segments.findIndex((g) => g.tap === r.tap);
      if (seg >= 0) this.solicit(seg, r.gateway);
    }
  }

  private solicit(segIndex: number, target: number): void {
    const due = this.arpNext.get(target) ?? 0;
    if (this.now < due) return;
    this.arpNext.set(target, this.now + (this.macs.has(target) ? ARP_REFRESH : ARP_RETRY));
    const seg = this.segments[segIndex];
    const slot = this.pool.take();
    if (slot < 0) return;
    const r = this.arpRepr;
    r.operation = ARP_REQUEST;
    r.senderMac.set(seg.mac);
    r.senderIp = seg.local;
    r.targetMac.fill(0);
    r.targetIp = target;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, BROADCAST, seg.mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.writeFrame(seg, slot, ETH_HEADER + ARP_LENGTH);
  }

  private writeFrame(seg: Segment, slot: number, len: number): void {
    if (seg.device.write(slot, len)) this.pool.give(slot);
    else this.drop(slot, 'queue-full');
  }

  // ---------------------------------------------------------------- ICMP and routes

  /** Echo requests to a VIP or to the appliance's own address are answered in place. */
  private answerEcho(slot: number, ip: Ipv4View, from: string): void {
    const icmp = this.icmp.wrap(this.pool.buf, ip.payloadOffset, ip.payloadLength);
    if (!icmp.checksumValid) {
      this.drop(slot, 'malformed-icmp');
      return;
    }
    if (icmp.type !== ICMP_ECHO_REQUEST) {
      this.pool.give(slot);
      return;
    }
    const src = ip.src;
    ip.rewriteSrc(ip.dst);
    ip.rewriteDst(src);
    icmp.type = ICMP_ECHO_REPLY;
    icmp.fillChecksum();
    const len = ip.totalLength;
    if (from === 'intranet') this.toIntranet(slot, len);
    else this.toSegmentHost(this.segments.findIndex((s) => s.tap === from), slot, len, src);
  }

  private lookupRoute(dst: number): Route | undefined {
    let best: Route | undefined;
    for (const r of this.routes) {
      if (inPrefix(dst, r.prefix) && (!best || r.prefix.length > best.prefix.length)) best = r;
    }
    return best;
  }

  /**
   * Non-SOCKS datagrams, with the TTL decremented. From the intranet: the [routes] entry for
   * the destination, or an ICMP network unreachable. From a segment (a reply to a routed
   * datagram): another segment's route if one matches, else back to the intranet.
   */
  private route(slot: number, ip: Ipv4View, fromIntranet: boolean): void {
    if (ip.ttl <= 1) {
      if (fromIntranet) this.icmpError(ip, ICMP_TIME_EXCEEDED, 0);
      this.drop(slot, 'ttl-exceeded');
      return;
    }
    const r = this.lookupRoute(ip.dst);
    if (r === undefined) {
      if (fromIntranet) {
        this.icmpError(ip, ICMP_UNREACHABLE, UNREACH_NET);
        this.drop(slot, 'no-route');
        return;
      }
      ip.decrementTtl();
      this.toIntranet(slot, ip.totalLength);
      return;
    }
    ip.decrementTtl();
    const seg = this.segments.findIndex((g) => g.tap === r.tap);
    this.toSegmentHost(seg, slot, ip.totalLength, r.gateway ?? ip.dst);
  }

  /** ICMP error about `ip` to its sender (RFC 792: the header and 8 bytes of the datagram). */
  private icmpError(ip: Ipv4View, type: number, code: number): void {
    // Never about an ICMP error (RFC 1122 3.2.2); an echo request may get one.
    if (ip.protocol === PROTO_ICMP && ip.payloadLength > 0 && ICMP_ERRORS.includes(this.pool.buf[ip.payloadOffset])) return;
    const slot = this.pool.take();
    if (slot < 0) return;
    const quoted = Math.min(ip.totalLength, ip.headerLength + 8);
    const base = this.pool.ipOffset(slot);
    const buf = this.pool.buf;
    const at = base + IPV4_MIN_HEADER;
    buf.fill(0, at, at + 8);
    buf[at] = type;
    buf[at + 1] = code;
    this.pool.buf.copy(buf, at + 8, ip.off, ip.off + quoted);
    const icmp = this.icmp.wrap(buf, at, 8 + quoted);
    icmp.fillChecksum();
    const from = this.vips[0];
    emitIpv4({ src: from, dst: ip.src, protocol: PROTO_ICMP, payloadLength: 8 + quoted, ttl: 64, identification: 0, dontFragment: false }, buf, base);
    this.toIntranet(slot, IPV4_MIN_HEADER + 8 + quoted);
  }

  // ---------------------------------------------------------------- writing

  toIntranet(slot: number, len: number): void {
    if (!this.tunQueue.push(slot, len, 0, 0, false, true)) this.drop(slot, 'queue-full');
  }

  /** Frames a datagram for `nextHop` on segment `seg` and sends it (ARP permitting). */
  private toSegmentHost(segIndex: number, slot: number, len: number, nextHop: number): void {
    const seg = this.segments[segIndex];
    const mac = this.macs.get(nextHop);
    if (seg === undefined || mac === undefined) {
      if (seg !== undefined) this.solicit(segIndex, nextHop);
      this.drop(slot, 'no-arp');
      return;
    }
    emitEthernet(this.pool.buf, this.pool.frameOffset(slot), mac, seg.mac, ETHERTYPE_IPV4);
    this.writeFrame(seg, slot, ETH_HEADER + len);
  }

  /**
   * Figure 9 then the queue: the datagram is framed for its server and queued with its
   * connection's ALP, priority and discard eligibility; over the bound, congestion control
   * discards. The appliance's own segments are protected.
   */
  toServer(server: number, slot: number, len: number, alp: number, priority: number, discardEligible: boolean, own: boolean): void {
    const mac = this.serverMac[server];
    if (mac === undefined) {
      this.drop(slot, 'no-arp');
      return;
    }
    const seg = this.segments[this.serverSegment[server]];
    emitEthernet(this.pool.buf, this.pool.frameOffset(slot), mac, seg.mac, ETHERTYPE_IPV4);
    if (!this.egress.enqueue(server, slot, ETH_HEADER + len, alp, priority, discardEligible, own)) {
      this.drop(slot, 'queue-full');
      return;
    }
    const st = this.egress.stats[server];
    st.packetsOut++;
    st.bytesOut += len;
  }

  /** Writes what the batch queued; true when a device would block and still holds some. */
  flush(): boolean {
    let waiting = false;
    this.tunQueue.drain(this.writeTun);
    if (this.tunQueue.length > 0) waiting = true;
    const queues = this.egress.queues;
    for (let s = 0; s < queues.length; s++) {
      const q = queues[s];
      if (q.length === 0) continue;
      this.drainDevice = this.segments[this.serverSegment[s]].device;
      q.drain(this.writeTap);
      if (q.length > 0) waiting = true;
    }
    return waiting;
  }


  /** Device `index` has something waiting to be written (for POLLOUT). */
  wantsWrite(index: number): boolean {
    if (index === 0) return this.tunQueue.length > 0;
    const seg = index - 1;
    return this.egress.queues.some((q, s) => this.serverSegment[s] === seg && q.length > 0);
  }

  /** Timers: ARP, reassembly, then the dispatcher's; writes what they produced. */
  tick(now: number): void {
    this.now = now;
    this.health.now = now;
    try {
      this.resolve();
      this.reassembler.expire(now);
      this.dispatcher.tick(now);
    } catch (e) {
      this.internalError(e);
    }
    this.flush();
  }

  close(): void {
    this.releaseLanding();
    for (const d of this.devices) d.close();
  }
}

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
/** Destination unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERRORS = [3, 4, 5, 11, 12];

