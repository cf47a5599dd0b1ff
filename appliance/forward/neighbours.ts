import type { ServerRecord } from '../config/tables';
import { formatMac } from '../config/address';
import type { PacketPool } from '../device/packet-pool';
import { ArpView, ARP_LENGTH, ARP_REPLY, ARP_REQUEST, emitArp, type ArpRepr } from '../wire/arp';
import { emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER } from '../wire/ethernet';
import type { Drops } from './drops';
import type { ServerHealth } from './health';
import { sameMac, ServerReachability } from './reachability';
import type { Hop } from './routes';
import type { Segment } from './segments';

/** Seconds before asking again for a MAC not known yet: RFC 1122 2.3.2.1's rate, 1 per second. */
const ARP_RETRY = 1;
/** Seconds before asking again for a known MAC: RFC 1122 2.3.2.1 wants stale entries flushed. */
const ARP_REFRESH = 60;
const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/**
 * ARP on the segments (RFC 826), and the Ethernet framing that needs it. Answers requests for
 * the appliance's `local` address; learns a sender only if it is a server or an address it
 * asked about (a gateway, a next hop), so a segment's chatter cannot fill the table; asks for
 * the MACs it lacks every second and refreshes the known ones every minute. A server whose
 * `mac` servers.ini gives is resolved from the start and never asked about. A server's MAC is
 * kept reachable, and a claim that changes it verified, by reachability.ts.
 */
export class Neighbours {
  /** Each server's MAC, as `macs` has it for its address: read per packet, so no lookup. */
  readonly serverMac: (Uint8Array | undefined)[] = [];
  private readonly macs = new Map<number, Uint8Array>();
  /** When to ask next, per address asked about (also: whose answers are worth learning). */
  private readonly arpNext = new Map<number, number>();
  private readonly arp = new ArpView();
  private readonly repr: ArpRepr = { operation: 0, senderMac: new Uint8Array(6), senderIp: 0, targetMac: new Uint8Array(6), targetIp: 0 };
  readonly reach: ServerReachability;
  /** Per server, its packets out at the last tick: whether it is in use. */
  private readonly lastOut: number[];
  now = 0;

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly serverSegment: readonly number[],
    private readonly servers: readonly ServerRecord[],
    private readonly health: ServerHealth,
    private readonly drops: Drops,
    private readonly log: (message: string) => void,
    /** The servers' output counters (egress.ts): what was sent to each. */
    private readonly sent: readonly { packetsOut: number }[],
  ) {
    this.lastOut = servers.map(() => 0);
    const prober = {
      probe: (server: number, mac: Uint8Array | undefined) => this.request(serverSegment[server], servers[server].address, mac ?? BROADCAST),
      adopt: (server: number, mac: Uint8Array) => this.use(servers[server].address, Uint8Array.from(mac), segments[serverSegment[server]].hosts.get(servers[server].address)),
      setResolved: (server: number, resolved: boolean) => { health.resolved[server] = resolved; },
    };
    this.reach = new ServerReachability(servers.map((s) => s.name), servers.map((s) => s.mac !== undefined), health.progressAt, prober, log);
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i];
      this.serverMac.push(s.mac);
      if (s.mac) {
        this.macs.set(s.address, s.mac);
        health.resolved[i] = true;
      }
    }
  }

  /** An ARP frame of `n` bytes from segment `segIndex`: learned from if worth it, answered if for us. */
  receive(segIndex: number, slot: number, n: number): void {
    const seg = this.segments[segIndex];
    const a = this.arp.wrap(this.pool.buf, this.pool.ipOffset(slot), n - ETH_HEADER);
    if (!a.valid) {
      this.drops.dropRead(slot, 'malformed-arp', n - ETH_HEADER);
      return;
    }
    const sender = a.senderIp;
    const mac = a.senderMac;
    const servers = seg.hosts.get(sender);
    if (servers !== undefined || this.arpNext.has(sender)) this.learn(sender, mac, servers, a.operation === ARP_REPLY && a.targetIp === seg.local);
    if (a.operation !== ARP_REQUEST || a.targetIp !== seg.local) {
      this.pool.give(slot);
      return;
    }
    // Reply in place: to the asker, from the appliance's address on this segment.
    const r = this.repr;
    r.operation = ARP_REPLY;
    r.targetMac.set(mac);
    r.targetIp = sender;
    r.senderMac.set(seg.mac);
    r.senderIp = seg.local;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, r.targetMac, seg.mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.writeFrame(segIndex, slot, ETH_HEADER + ARP_LENGTH);
  }

  /**
   * `ip` is at `mac` (a view into the frame, copied if kept); `servers`: the servers at `ip`,
   * whose MAC changes only as reachability.ts decides; `answer`: a reply to the appliance. A
   * gateway's is taken as it comes.
   */
  private learn(ip: number, mac: Uint8Array, servers: number[] | undefined, answer: boolean): void {
    const known = this.macs.get(ip);
    let adopt = servers === undefined ? known === undefined || !sameMac(known, mac) : false;
    if (servers !== undefined) for (let i = 0; i < servers.length; i++) adopt = this.reach.heard(servers[i], mac, known, answer, this.now) || adopt;
    if (adopt) this.use(ip, Uint8Array.from(mac), servers);
    if (servers !== undefined) {
      for (let i = 0; i < servers.length; i++) {
        const server = servers[i];
        if (this.health.resolved[server] || known !== undefined) continue;
        this.health.resolved[server] = true;
        this.log(`server ${this.servers[server].name} is at ${formatMac(mac)}`);
      }
    }
    this.arpNext.set(ip, this.now + ARP_REFRESH);
  }

  /** From now on `ip` (and the servers at it) is reached at `mac`. */
  private use(ip: number, mac: Uint8Array, servers: number[] | undefined): void {
    this.macs.set(ip, mac);
    if (servers !== undefined) for (let i = 0; i < servers.length; i++) this.serverMac[servers[i]] = mac;
  }

  /** Each tick: asks for the servers' MACs, then the gateways' of `hops`, when due. */
  resolve(hops: readonly Hop[]): void {
    this.reach.tick(this.now, this.used, this.macOf, this.away);
    for (let i = 0; i < this.servers.length; i++) {
      const s = this.servers[i];
      if (s.mac) continue;
      this.solicit(this.serverSegment[i], s.address);
    }
    for (let i = 0; i < hops.length; i++) {
      const h = hops[i];
      if (h.gateway !== undefined && h.segment >= 0) this.solicit(h.segment, h.gateway);
    }
  }

  /**
   * Frames a datagram of `len` bytes for `nextHop` on segment `segIndex` and sends it. Without
   * the next hop's MAC the datagram is dropped (no-arp) and the MAC asked for, when due.
   */
  sendTo(segIndex: number, slot: number, len: number, nextHop: number): void {
    const seg = this.segments[segIndex];
    const mac = this.macs.get(nextHop);
    if (seg === undefined || mac === undefined) {
      if (seg === undefined) this.drops.drop(slot, 'no-arp'); // the route's TAP is not there: kept as received
      else {
        this.solicit(segIndex, nextHop);
        this.drops.dropOut(slot, 'no-arp', segIndex + 1, len, false);
      }
      return;
    }
    emitEthernet(this.pool.buf, this.pool.frameOffset(slot), mac, seg.mac, ETHERTYPE_IPV4);
    this.writeFrame(segIndex, slot, ETH_HEADER + len);
  }

  // For reachability's tick, bound once.
  private readonly used = (server: number): boolean => {
    const out = this.sent[server].packetsOut;
    const was = this.lastOut[server];
    this.lastOut[server] = out;
    return out !== was;
  };
  private readonly macOf = (server: number): Uint8Array | undefined => this.serverMac[server];
  private readonly away = (server: number): boolean => this.health.deviceDown[server];

  /** A broadcast request for `target` on segment `segIndex`, unless one went out too recently. */
  private solicit(segIndex: number, target: number): void {
    const due = this.arpNext.get(target) ?? 0;
    if (this.now < due) return;
    this.arpNext.set(target, this.now + (this.macs.has(target) ? ARP_REFRESH : ARP_RETRY));
    this.request(segIndex, target, BROADCAST);
  }

  /** An ARP request for `target` on segment `segIndex`, to `dst` (a MAC, or the broadcast address). */
  private request(segIndex: number, target: number, dst: Uint8Array): void {
    const seg = this.segments[segIndex];
    const slot = this.pool.take();
    if (slot < 0) return;
    const r = this.repr;
    r.operation = ARP_REQUEST;
    r.senderMac.set(seg.mac);
    r.senderIp = seg.local;
    r.targetMac.fill(0);
    r.targetIp = target;
    const base = this.pool.frameOffset(slot);
    emitEthernet(this.pool.buf, base, dst, seg.mac, ETHERTYPE_ARP);
    emitArp(r, this.pool.buf, base + ETH_HEADER);
    this.writeFrame(segIndex, slot, ETH_HEADER + ARP_LENGTH);
  }

  /**
   * Straight to the TAP: ARP, echo replies and routed datagrams belong to no server's queue,
   * so when the TAP would block they are dropped (queue-full) rather than kept.
   */
  private writeFrame(segIndex: number, slot: number, len: number): void {
    if (this.segments[segIndex].device.write(slot, len)) this.pool.give(slot);
    else this.drops.dropOut(slot, 'queue-full', segIndex + 1, len - ETH_HEADER, true);
  }
}

