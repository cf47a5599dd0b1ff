import type { PacketPool } from '../device/packet-pool';
import type { DropCapture, FragmentReason } from '../capture/drop-capture';
import { ETH_HEADER } from '../wire/ethernet';
import { IPV6_HEADER } from '../wire/ipv6';

/** Why packets were dropped, counted by reason; one log line the first time each happens. */
export const DROP_REASONS = [
  'malformed-ethernet', 'not-ipv4', 'malformed-ip', 'bad-ip-checksum', 'malformed-tcp', 'bad-tcp-checksum', 'malformed-arp', 'malformed-icmp',
  'no-route', 'ttl-exceeded', 'no-arp', 'queue-full', 'pool-exhausted', 'not-for-us', 'unsupported',
  'diverted-flows-full', 'rp-filter', 'spoofed-source', 'malformed-ipv6', 'malformed-nd', 'no-ndp', 'packet-too-big',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * What the forwarder loses, and why. A flood of bad packets must cost a counter, not a log
 * line each: every kind of loss (a drop reason, a failed device, an internal error's message)
 * is logged the first time only.
 */
export class Drops {
  readonly byReason: Record<DropReason, number>;
  /** Packets a bug of ours met (each dropped, the first of each kind logged). */
  internalErrors = 0;
  private readonly logged = new Set<string>();
  /** appliance.ini [capture]: the ring the dropped datagrams go to; undefined when off. */
  capture: DropCapture | undefined;
  /**
   * The device being read (0: the TUN, i + 1: segment i's TAP), set by Ingress once per batch:
   * where a datagram dropped on the way in came from, at no cost per datagram.
   */
  device = 0;

  constructor(private readonly pool: PacketPool, private readonly log: (message: string) => void) {
    this.byReason = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  }

  /** True the first time `key` comes, so the caller builds its message only then. */
  first(key: string): boolean {
    if (this.logged.has(key)) return false;
    this.logged.add(key);
    return true;
  }

  /**
   * Counts a drop and gives its slot back (-1: there was none, as when the pool ran out). The
   * slot holds a datagram received from `device` whose IP header was checked, so its total
   * length can be trusted.
   */
  drop(slot: number, reason: DropReason): void {
    this.count(reason);
    if (slot < 0) return;
    if (this.capture !== undefined) this.keep(slot, this.device, this.ipLength(slot), this.device !== 0, this.capture.dropComments[reason]);
    this.pool.give(slot);
  }

  /** A checked datagram's length: IPv4's total length, or IPv6's payload length and fixed header. */
  private ipLength(slot: number): number {
    const at = this.pool.ipOffset(slot);
    const b = this.pool.buf;
    return b[at] >> 4 === 6 ? 40 + b.readUInt16BE(at + 4) : b.readUInt16BE(at + 2);
  }

  /** A drop before the IP header was checked: the slot holds what `device` read, `ipLength` bytes after the link header's place (less than 0 for a runt frame). */
  dropRead(slot: number, reason: DropReason, ipLength: number): void {
    this.count(reason);
    if (this.capture !== undefined) this.keep(slot, this.device, ipLength, this.device !== 0, this.capture.dropComments[reason]);
    this.pool.give(slot);
  }

  /**
   * A drop on the way out to `device`: an IP datagram of `ipLength` bytes, `framed` when its
   * Ethernet header is written already.
   */
  dropOut(slot: number, reason: DropReason, device: number, ipLength: number, framed: boolean): void {
    this.count(reason);
    if (this.capture !== undefined) this.keep(slot, device, ipLength, framed && device !== 0, this.capture.dropComments[reason]);
    this.pool.give(slot);
  }

  /** A fragment reassembly drops (reassembly.ts, reassembly6.ts count it): kept in the capture only; its slot is the caller's. */
  fragment(slot: number, reason: FragmentReason): void {
    if (this.capture === undefined) return;
    const ip = this.pool.ipOffset(slot);
    const b = this.pool.buf;
    // IPv4's total length, or IPv6's payload length and fixed header.
    const length = b[ip] >> 4 === 6 ? IPV6_HEADER + b.readUInt16BE(ip + 4) : b.readUInt16BE(ip + 2);
    this.keep(slot, this.device, length, this.device !== 0, this.capture.fragmentComments[reason]);
  }

  /** A frame of `len` bytes congestion control discarded from `server`'s queue (egress.ts counts it); its slot is the caller's. */
  discarded(server: number, slot: number, len: number, alp: number, priority: number): void {
    this.capture?.discard(server, this.pool.buf, this.pool.frameOffset(slot), len, alp, priority);
  }

  private count(reason: DropReason): void {
    this.byReason[reason]++;
    if (this.first(reason)) this.log(`dropping packets: ${reason} (counted from now on, logged once)`);
  }

  /** Into the capture: the frame (`framed`), else the IP datagram with a made-up Ethernet header. */
  private keep(slot: number, device: number, ipLength: number, framed: boolean, comment: Uint8Array): void {
    const room = this.pool.ipRoom(slot);
    const len = ipLength > room ? room : ipLength;
    if (framed) this.capture!.record(device, this.pool.buf, this.pool.frameOffset(slot), ETH_HEADER + len, false, comment);
    else this.capture!.record(device, this.pool.buf, this.pool.ipOffset(slot), len < 0 ? 0 : len, true, comment);
  }

  /**
   * A bug met by one packet must not stop the others: the packet is lost (its slot too, since
   * where it stood is unknown), counted, and the first one of each kind logged.
   */
  internalError(e: unknown): void {
    this.internalErrors++;
    const what = (e as Error)?.message ?? String(e);
    if (this.first(`internal:${what}`)) {
      this.log(`internal error, packet dropped (counted, logged once): ${what}${process.env.SOCKSALP_DEBUG ? `\n${(e as Error)?.stack}` : ''}`);
    }
  }
}
