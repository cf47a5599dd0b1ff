import { ADDRESSES6 } from '../addr/interner';
import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, type PacketPool } from '../device/packet-pool';
import { pseudoHeaderSum6 } from '../wire/checksum';
import { emitEthernet, ETHERTYPE_IPV6, ETH_HEADER } from '../wire/ethernet';
import {
  emitNd, Icmpv6View, ND_LENGTH, ND_NEIGHBOR_ADVERTISEMENT, ND_NEIGHBOR_SOLICITATION, ND_OPT_SOURCE_LL, ND_OPT_TARGET_LL, ND_OVERRIDE,
  ND_SOLICITED, NdError, NdView, type NdRepr,
} from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { copy16, equal16, IPV6_HEADER, PROTO_ICMPV6 } from '../wire/ipv6';
import { ALL_NODES, isSolicitedNode, isUnspecified, writeGroupMac, writeSolicitedNode } from '../wire/solicited-node';
import type { Drops } from './drops';
import type { Neighbours } from './neighbours';
import { sameMac } from './reachability';
import type { Segment } from './segments';

/** RFC 4861 4.1 and 4.5: router solicitation (the first ND type) and redirect (the last). */
const ND_ROUTER_SOLICITATION = 133;
const ND_REDIRECT = 137;
/** RFC 4861 7.1: hop limit 255 proves a message was not forwarded from off the link. */
const ND_HOP_LIMIT = 255;
/** A solicitation or advertisement with one link-layer address option: what the appliance sends. */
const ND_SENT = ND_LENGTH + 8;

/**
 * Neighbor Discovery (RFC 4861), the IPv6 side of neighbours.ts, on each segment where the
 * appliance has an IPv6 address (`local6`): answers solicitations for `local6` (7.2.3, 7.2.4),
 * including duplicate address detection's from ::, so that no other host takes it; asks for
 * the IPv6 addresses the table wants by solicitations to their solicited-node groups (7.2.2),
 * and hands it what the advertisements answer (7.2.5) and what the solicitations from servers
 * say of their senders. An unsolicited advertisement (7.2.6) is learned from nobody: for a
 * server whose MAC it would override, it is a claim reachability.ts verifies, as a gratuitous
 * ARP is. Router solicitations, router advertisements and redirects are not taken: the
 * segments are configured, not autoconfigured, and the appliance is nobody's default router.
 */
export class NeighbourDiscovery {
  private readonly icmp = new Icmpv6View();
  private readonly nd = new NdView();
  private readonly repr: NdRepr = { type: 0, flags: 0, target: new Uint8Array(16), option: 0, mac: new Uint8Array(6) };
  /** A MAC out of the frame (the peer's, or a group's), before the frame is overwritten. */
  private readonly peer = new Uint8Array(6);

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly drops: Drops,
    private readonly table: Neighbours,
  ) {}

  /**
   * An ICMPv6 datagram from segment `segIndex`: false when it is not Neighbor Discovery (the
   * slot stays the caller's), else taken: answered, learned from, or dropped (counted).
   * `reassembled`: it came in fragments.
   */
  receive(segIndex: number, slot: number, ip: Ipv6Datagram, reassembled: boolean): boolean {
    const b = ip.buf;
    const at = ip.upperOffset;
    const len = ip.upperLength;
    if (len < 1 || b[at] < ND_ROUTER_SOLICITATION || b[at] > ND_REDIRECT) return false;
    const type = b[at];
    const seg = this.segments[segIndex];
    if (seg.local6 < 0 || (type !== ND_NEIGHBOR_SOLICITATION && type !== ND_NEIGHBOR_ADVERTISEMENT)) {
      this.drops.dropRead(slot, 'unsupported', ip.totalLength);
      return true;
    }
    // RFC 4861 7.1.1, 7.1.2; and RFC 6980 5: never in fragments, nor with an atomic fragment header.
    const nd = this.nd.wrap(b, at, len);
    if (ip.hopLimit !== ND_HOP_LIMIT || reassembled || ip.headers.fragmentAt >= 0 || nd.check() !== NdError.None || !this.checksumValid(slot, ip, at, len)) {
      this.drops.dropRead(slot, 'malformed-nd', ip.totalLength);
      return true;
    }
    if (type === ND_NEIGHBOR_SOLICITATION) this.solicitation(segIndex, slot, ip);
    else this.advertisement(segIndex, slot, ip);
    return true;
  }

  private checksumValid(slot: number, ip: Ipv6Datagram, at: number, len: number): boolean {
    // The kernel's own, unfinished or checked already (IFF_VNET_HDR), as validate6.ts takes TCP.
    if ((this.pool.vnetFlags[slot] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0) return true;
    return this.icmp.wrap(ip.buf, at, len).checksumValid(pseudoHeaderSum6(ip.buf, ip.srcOffset, ip.buf, ip.dstOffset, PROTO_ICMPV6, len));
  }

  /** RFC 4861 7.2.3: a solicitation for `local6` is answered; one for another host's address (flooded to every port) is not ours. */
  private solicitation(segIndex: number, slot: number, ip: Ipv6Datagram): void {
    const nd = this.nd;
    const b = ip.buf;
    const unspecified = isUnspecified(b, ip.srcOffset);
    // 7.1.1: from ::, only to a solicited-node group and without a source link-layer address.
    if (unspecified && (!isSolicitedNode(b, ip.dstOffset) || nd.macAt >= 0)) {
      this.drops.dropRead(slot, 'malformed-nd', ip.totalLength);
      return;
    }
    const seg = this.segments[segIndex];
    // local6, or a silent ECMP peer's address answered for here (segments.ts `also6`) with its MAC.
    let also = -1;
    if (!equal16(ADDRESSES6.bytes, ADDRESSES6.offset(seg.local6), b, nd.targetOffset)) {
      for (let i = 0; i < seg.also6.length && also < 0; i++) if (equal16(ADDRESSES6.bytes, ADDRESSES6.offset(seg.also6[i]), b, nd.targetOffset)) also = i;
      if (also < 0) {
        this.pool.give(slot);
        return;
      }
    }
    if (nd.macAt >= 0) {
      copyMac(b, nd.macAt, this.peer);
      if (ip.src >= 0) this.table.heard(segIndex, ip.src, this.peer, false);
    } else copyMac(b, this.pool.frameOffset(slot) + 6, this.peer);
    if (also < 0) this.advertise(segIndex, slot, unspecified, seg.local6, seg.mac);
    else this.advertise(segIndex, slot, unspecified, seg.also6[also], seg.also6Macs[also]);
  }

  /**
   * RFC 4861 7.2.4, in place: an advertisement of `address` (local6, or one answered for) at
   * `mac`, override set (the address is the appliance's alone), to the soliciter at `peer`; to
   * all-nodes, and not marked solicited, when the soliciter is :: (duplicate address detection).
   */
  private advertise(segIndex: number, slot: number, unspecified: boolean, address: number, mac: Uint8Array): void {
    const b = this.pool.buf;
    const o = this.pool.ipOffset(slot);
    if (unspecified) {
      writeGroupMac(ALL_NODES, 0, this.peer, 0);
      copy16(ALL_NODES, 0, b, o + 24);
    } else copy16(b, o + 8, b, o + 24);
    ADDRESSES6.write(address, b, o + 8);
    const r = this.repr;
    r.type = ND_NEIGHBOR_ADVERTISEMENT;
    r.flags = unspecified ? ND_OVERRIDE : ND_SOLICITED | ND_OVERRIDE;
    ADDRESSES6.write(address, r.target, 0);
    r.option = ND_OPT_TARGET_LL;
    this.send(segIndex, slot, this.peer, mac);
  }

  /** RFC 4861 7.2.6: the segment's own address advertised unsolicited to all nodes, override set. */
  announce(segIndex: number): void {
    const seg = this.segments[segIndex];
    if (seg.local6 >= 0) this.announceFor(segIndex, seg.local6, seg.mac);
  }

  /** The same for `address` at `mac` (a silent ECMP peer's, answered for here: sync/members.ts). */
  announceFor(segIndex: number, address: number, mac: Uint8Array): void {
    const slot = this.pool.take();
    if (slot >= 0) this.advertise(segIndex, slot, true, address, mac);
  }

  /**
   * RFC 4861 7.2.5: an answer to the appliance (solicited, to `local6`) gives the target's
   * MAC, changing a known one only with the override flag; 7.2.6: any other is no answer.
   */
  private advertisement(segIndex: number, slot: number, ip: Ipv6Datagram): void {
    const nd = this.nd;
    const b = ip.buf;
    // 7.1.2: to a multicast group it cannot be an answer.
    if (nd.solicited && ip.dstMulticast) {
      this.drops.dropRead(slot, 'malformed-nd', ip.totalLength);
      return;
    }
    const target = ADDRESSES6.lookup(b, nd.targetOffset);
    const known = target < 0 ? undefined : this.table.known(target);
    const answer = nd.solicited && ip.dst === this.segments[segIndex].local6;
    let taken = false;
    if (nd.macAt < 0) {
      // Without the target's link-layer address an answer only confirms the MAC in use.
      if (answer && known !== undefined) {
        this.table.heard(segIndex, target, known, true);
        taken = true;
      }
    } else if (target >= 0) {
      const mac = copyMac(b, nd.macAt, this.peer);
      const changes = known !== undefined && !sameMac(known, mac);
      if (answer && (!changes || nd.override)) {
        this.table.heard(segIndex, target, mac, true);
        taken = true;
      } else if (!answer && changes && nd.override && this.table.isServer(segIndex, target)) {
        this.table.heard(segIndex, target, mac, false);
        taken = true;
      }
    }
    if (taken) this.pool.give(slot);
    else this.drops.dropRead(slot, 'unsupported', ip.totalLength);
  }

  /**
   * RFC 4861 7.2.2: a solicitation for `target` from `local6` with the segment's MAC as source
   * link-layer address, to its solicited-node group, or to `mac` (reachability's probe, 7.3.3).
   */
  ask(segIndex: number, target: number, mac: Uint8Array | undefined): void {
    const seg = this.segments[segIndex];
    if (seg.local6 < 0) return;
    const slot = this.pool.take();
    if (slot < 0) return;
    const b = this.pool.buf;
    const o = this.pool.ipOffset(slot);
    const r = this.repr;
    ADDRESSES6.write(target, r.target, 0);
    if (mac === undefined) {
      writeSolicitedNode(r.target, 0, b, o + 24);
      writeGroupMac(b, o + 24, this.peer, 0);
    } else {
      copy16(r.target, 0, b, o + 24);
      copyMac(mac, 0, this.peer);
    }
    ADDRESSES6.write(seg.local6, b, o + 8);
    r.type = ND_NEIGHBOR_SOLICITATION;
    r.flags = 0;
    r.option = ND_OPT_SOURCE_LL;
    this.send(segIndex, slot, this.peer, seg.mac);
  }

  /** Writes `repr` after the addresses already in the slot's IPv6 header, the rest of the header, the checksum and the frame, to `dst` from `mac`. */
  private send(segIndex: number, slot: number, dst: Uint8Array, mac: Uint8Array): void {
    const b = this.pool.buf;
    const o = this.pool.ipOffset(slot);
    b[o] = 0x60;
    b[o + 1] = 0;
    b[o + 2] = 0;
    b[o + 3] = 0;
    b[o + 4] = 0;
    b[o + 5] = ND_SENT;
    b[o + 6] = PROTO_ICMPV6;
    b[o + 7] = ND_HOP_LIMIT;
    this.repr.mac = mac;
    emitNd(this.repr, b, o + IPV6_HEADER);
    this.icmp.wrap(b, o + IPV6_HEADER, ND_SENT).fillChecksum(pseudoHeaderSum6(b, o + 8, b, o + 24, PROTO_ICMPV6, ND_SENT));
    emitEthernet(b, this.pool.frameOffset(slot), dst, mac, ETHERTYPE_IPV6);
    // The slot may hold what a read left (an answer in place): nothing for the kernel to finish.
    this.pool.vnetFlags[slot] = 0;
    this.pool.gsoType[slot] = 0;
    this.table.write(segIndex, slot, ETH_HEADER + IPV6_HEADER + ND_SENT);
  }
}

/** Copies 6 bytes from from[at..] into `to` and returns it. */
function copyMac(from: Uint8Array, at: number, to: Uint8Array): Uint8Array {
  for (let i = 0; i < 6; i++) to[i] = from[at + i];
  return to;
}
