import { isV6 } from '../addr/address';
import type { ServerRecord } from '../config/tables';
import { formatMac } from '../config/address';
import type { PacketPool } from '../device/packet-pool';
import { emitEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER } from '../wire/ethernet';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { Arp } from './arp';
import type { DropReason, Drops } from './drops';
import type { ServerHealth } from './health';
import { NeighbourDiscovery } from './ndp';
import { sameMac, ServerReachability } from './reachability';
import type { Hop } from './routes';
import type { Segment } from './segments';

/** Seconds before asking again for a MAC not known yet: RFC 1122 2.3.2.1's rate, 1 per second (RFC 4861 7.2.2's RetransTimer). */
const RETRY = 1;
/** Seconds before asking again for a known MAC: RFC 1122 2.3.2.1 wants stale entries flushed. */
const REFRESH = 60;

/**
 * The neighbours on the segments, of both families, and the Ethernet framing that needs them:
 * one table of MACs keyed by address number (an IPv4 address and an IPv6 one never share a
 * number, addr/interner.ts), filled by ARP (RFC 826, arp.ts) for IPv4 addresses and by
 * Neighbor Discovery (RFC 4861, ndp.ts) for IPv6 ones. Learns an address only if it is a
 * server's or one it asked about (a gateway, a next hop), so a segment's chatter cannot fill
 * the table; asks for the MACs it lacks every second and refreshes the known ones every
 * minute. A server whose `mac` servers.ini gives is resolved from the start and never asked
 * about. A server's MAC is kept reachable, and a claim that changes it verified, by
 * reachability.ts, whichever protocol made the claim.
 */
export class Neighbours {
  /** Each server's MAC, as `macs` has it for its address: read per packet, so no lookup. */
  readonly serverMac: (Uint8Array | undefined)[] = [];
  private readonly macs = new Map<number, Uint8Array>();
  /** When to ask next, per address asked about (also: whose answers are worth learning). */
  private readonly askNext = new Map<number, number>();
  private readonly arp: Arp;
  private readonly nd: NeighbourDiscovery;
  readonly reach: ServerReachability;
  /** Per server, its packets out at the last tick: whether it is in use. */
  private readonly lastOut: number[];
  now = 0;
  /**
   * A worker other than the first (appliance/workers/): ARP and ND answers reach the first
   * worker only (no port to steer them by, device/steering.ts), so this one asks nothing and
   * takes the first worker's table (`adopt`).
   */
  follower = false;

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
    this.arp = new Arp(pool, segments, drops, this);
    this.nd = new NeighbourDiscovery(pool, segments, drops, this);
    this.lastOut = servers.map(() => 0);
    const prober = {
      probe: (server: number, mac: Uint8Array | undefined) => this.ask(serverSegment[server], servers[server].address, mac),
      adopt: (server: number, mac: Uint8Array) => this.use(servers[server].address, Uint8Array.from(mac), segments[serverSegment[server]].hosts.get(servers[server].address)),
      setResolved: (server: number, resolved: boolean) => { health.resolved[server] = resolved; },
    };
    const via = servers.map((s) => (isV6(s.address) ? 'ND' : 'ARP'));
    this.reach = new ServerReachability(servers.map((s) => s.name), servers.map((s) => s.mac !== undefined), health.progressAt, prober, log, via);
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i];
      this.serverMac.push(s.mac);
      if (s.mac) {
        this.macs.set(s.address, s.mac);
        health.resolved[i] = true;
      }
    }
  }

  /** An ARP frame of `n` bytes from segment `segIndex` (arp.ts). */
  receive(segIndex: number, slot: number, n: number): void {
    this.arp.receive(segIndex, slot, n);
  }

  /**
   * An ICMPv6 datagram from segment `segIndex`, checked as IPv6 (validate6.ts): taken when it
   * is Neighbor Discovery (ndp.ts), which may be multicast; false, and the slot still the
   * caller's, when it is not. `reassembled`: it came in fragments.
   */
  receive6(segIndex: number, slot: number, ip: Ipv6Datagram, reassembled: boolean): boolean {
    return this.nd.receive(segIndex, slot, ip, reassembled);
  }

  /**
   * For arp.ts and ndp.ts: `ip` on segment `segIndex` is at `mac` (a view, copied if kept),
   * learned if it is a server's address or one asked about; `answer`: a reply to the appliance.
   */
  heard(segIndex: number, ip: number, mac: Uint8Array, answer: boolean): void {
    const servers = this.segments[segIndex].hosts.get(ip);
    if (servers !== undefined || this.askNext.has(ip)) this.learn(ip, mac, servers, answer);
  }

  /** Forgets `ip` (an on-link host on-link6.ts let go): its number may name another address next. */
  forget(ip: number): void {
    this.macs.delete(ip);
    this.askNext.delete(ip);
  }

  /** The MAC in use for `ip`, undefined when none is. */
  known(ip: number): Uint8Array | undefined {
    return this.macs.get(ip);
  }

  /** Whether `ip` is a server's address on segment `segIndex`. */
  isServer(segIndex: number, ip: number): boolean {
    return this.segments[segIndex].hosts.has(ip);
  }

  /**
   * `ip` is at `mac`; `servers`: the servers at `ip`, whose MAC changes only as reachability.ts
   * decides; `answer`: a reply to the appliance. A gateway's is taken as it comes.
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
    this.askNext.set(ip, this.now + REFRESH);
  }

  /** From now on `ip` (and the servers at it) is reached at `mac`. */
  private use(ip: number, mac: Uint8Array, servers: number[] | undefined): void {
    this.macs.set(ip, mac);
    if (servers !== undefined) for (let i = 0; i < servers.length; i++) this.serverMac[servers[i]] = mac;
  }

  /**
   * Server `server` is at `mac` as an HA peer knew it (sync/promotion.ts): used while this
   * appliance has learned none, so that a connection taken over is forwarded at once; the
   * refresh and reachability.ts check it as any other.
   */
  seed(server: number, mac: Uint8Array): void {
    if (this.serverMac[server] !== undefined || mac.every((b) => b === 0)) return;
    const s = this.servers[server];
    this.use(s.address, Uint8Array.from(mac), this.segments[this.serverSegment[server]].hosts.get(s.address));
    this.health.resolved[server] = true;
  }

  /**
   * This appliance now answers for the segments' own addresses (an HA takeover, sync/pair.ts):
   * an ARP announcement (RFC 5227 3) of each IPv4 one and an unsolicited Neighbor
   * Advertisement (RFC 4861 7.2.6) of each IPv6 one, so that the switches learn the port the
   * segment's MAC is on now, and hosts that cached another MAC take this one.
   */
  announce(): void {
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i];
      if (seg.local >= 0) this.arp.ask(i, seg.local, undefined);
      if (seg.local6 >= 0) this.nd.announce(i);
    }
  }

  /** An ARP announcement, or an unsolicited NA, of `address` at `mac` on segment `segIndex` (a silent ECMP peer's, answered for here: sync/members.ts). */
  announceFor(segIndex: number, address: number, mac: Uint8Array): void {
    if (isV6(address)) this.nd.announceFor(segIndex, address, mac);
    else this.arp.announce(segIndex, address, mac);
  }

  /** The MACs in use, by address number: what the other workers adopt. */
  table(): [number, Uint8Array][] {
    return [...this.macs];
  }

  /** A follower takes the first worker's table: new and changed MACs, and the servers they resolve. */
  adopt(entries: readonly [number, Uint8Array][]): void {
    for (const [ip, mac] of entries) {
      const known = this.macs.get(ip);
      if (known !== undefined && sameMac(known, mac)) continue;
      const servers = this.segments.flatMap((seg) => seg.hosts.get(ip) ?? []);
      this.use(ip, Uint8Array.from(mac), servers.length > 0 ? servers : undefined);
      for (const server of servers) this.health.resolved[server] = true;
    }
  }

  /** Each tick: asks for the servers' MACs, then the gateways' of `hops` (either family), when due. */
  resolve(hops: readonly Hop[]): void {
    if (this.follower) return;
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
   * Frames an IPv4 datagram of `len` bytes for `nextHop` on segment `segIndex` and sends it.
   * Without the next hop's MAC the datagram is dropped (no-arp) and the MAC asked for, when due.
   */
  sendTo(segIndex: number, slot: number, len: number, nextHop: number): void {
    this.frame(segIndex, slot, len, nextHop, ETHERTYPE_IPV4, 'no-arp');
  }

  /** sendTo for an IPv6 datagram: `nextHop` an IPv6 address number, resolved by ND (no-ndp when not yet). */
  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void {
    this.frame(segIndex, slot, len, nextHop, ETHERTYPE_IPV6, 'no-ndp');
  }

  private frame(segIndex: number, slot: number, len: number, nextHop: number, etherType: number, unresolved: DropReason): void {
    const seg = this.segments[segIndex];
    const mac = this.macs.get(nextHop);
    if (seg === undefined || mac === undefined) {
      if (seg === undefined) this.drops.dropRead(slot, unresolved, len); // the route's TAP is not there: kept as received
      else {
        this.solicit(segIndex, nextHop);
        this.drops.dropOut(slot, unresolved, segIndex + 1, len, false);
      }
      return;
    }
    emitEthernet(this.pool.buf, this.pool.frameOffset(slot), mac, seg.mac, etherType);
    this.write(segIndex, slot, ETH_HEADER + len);
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

  /**
   * A request for `target`'s MAC on segment `segIndex` to everyone (ARP's broadcast, ND's
   * solicited-node group), unless one went out too recently. Also the hook for next hops the
   * appliance needs but `resolve`'s hops do not name.
   */
  solicit(segIndex: number, target: number): void {
    if (this.follower) return;
    const due = this.askNext.get(target) ?? 0;
    if (this.now < due) return;
    this.askNext.set(target, this.now + (this.macs.has(target) ? REFRESH : RETRY));
    this.ask(segIndex, target, undefined);
  }

  /** Asks for `target`'s MAC at `mac` (a probe) or of everyone, in its family's protocol. */
  private ask(segIndex: number, target: number, mac: Uint8Array | undefined): void {
    if (isV6(target)) this.nd.ask(segIndex, target, mac);
    else this.arp.ask(segIndex, target, mac);
  }

  /**
   * Straight to the TAP: ARP, ND, echo replies and routed datagrams belong to no server's
   * queue, so when the TAP would block they are dropped (queue-full) rather than kept.
   */
  write(segIndex: number, slot: number, len: number): void {
    if (this.segments[segIndex].device.write(slot, len)) this.pool.give(slot);
    else this.drops.dropOut(slot, 'queue-full', segIndex + 1, len - ETH_HEADER, true);
  }
}
