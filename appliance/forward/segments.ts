import { isV6 } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import type { Prefix } from '../config/address';
import { inPrefixAny } from '../addr/prefix';
import type { ServerRecord } from '../config/tables';
import type { OpenDevice, PacketDevice } from '../device/device';

/** What a TAP's Ethernet link carries: the IP datagram's largest size there. */
export const TAP_MTU = 1500;

/**
 * One TAP: the segment behind it and the appliance's own addresses and MAC there, one address
 * per family the segment has (a dual-stack segment has both).
 */
export interface Segment {
  tap: string;
  device: PacketDevice;
  /** The appliance's IPv4 address here, -1 on an IPv6-only segment. */
  local: number;
  /** The segment's own IPv4 prefix (`local`'s): its hosts are on the link; undefined when none. */
  prefix: Prefix | undefined;
  /** The appliance's IPv6 address here (an address number), -1 on an IPv4-only segment; and its prefix. */
  local6: number;
  prefix6: Prefix | undefined;
  mac: Uint8Array;
  /** Servers on this segment by endpoint (address * 65536 + port). */
  servers: Map<number, number>;
  /** Servers on this segment by address alone: several may share a host. */
  hosts: Map<number, number[]>;
  /**
   * IPv4 addresses of silent ECMP peers this appliance answers for here (sync/members.ts), each
   * with the MAC its member has (at the same index): the servers keep talking to the address
   * and MAC they know, and the bridge learns the MAC's new port from the announcement.
   */
  also: number[];
  alsoMacs: Uint8Array[];
  /** The same for IPv6 addresses (address numbers), answered by Neighbor Discovery. */
  also6: number[];
  also6Macs: Uint8Array[];
}

/**
 * The segments of the server table, one per TAP in order of first mention (so segment i is
 * device i + 1 of the I/O loop, after the TUN), each TAP opened here; and, per server index,
 * the index of its segment. The appliance's address of each family on a segment is the
 * `local` of its first server of that family (load.ts checks that the others agree).
 */
export function buildSegments(servers: readonly ServerRecord[], open: OpenDevice): { segments: Segment[]; serverSegment: number[] } {
  const segments: Segment[] = [];
  const serverSegment: number[] = [];
  for (let i = 0; i < servers.length; i++) {
    const s = servers[i];
    let seg = segmentIndex(segments, s.tap);
    if (seg < 0) {
      const mac = segmentMac(s.local.address);
      seg = segments.push({ tap: s.tap, device: open(s.tap, 'tap'), local: -1, prefix: undefined, local6: -1, prefix6: undefined, mac, servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [] }) - 1;
    }
    const g = segments[seg];
    if (isV6(s.local.address)) {
      if (g.local6 < 0) {
        g.local6 = s.local.address;
        g.prefix6 = s.local;
      }
    } else if (g.local < 0) {
      g.local = s.local.address;
      g.prefix = s.local;
    }
    g.servers.set(s.address * 65536 + s.port, i);
    const sharing = g.hosts.get(s.address);
    if (sharing === undefined) g.hosts.set(s.address, [i]);
    else sharing.push(i);
    serverSegment.push(seg);
  }
  return { segments, serverSegment };
}

/** The segment on TAP `tap`, -1 when there is none. */
export function segmentIndex(segments: readonly Segment[], tap: string): number {
  for (let i = 0; i < segments.length; i++) if (segments[i].tap === tap) return i;
  return -1;
}

/**
 * Answers (`on`) or stops answering for another member's address (either family) on the
 * segment whose prefix holds it; the segment's index, -1 when no segment's prefix holds it
 * (nothing changed).
 */
export function answerFor(segments: readonly Segment[], address: number, on: boolean): number {
  const v6 = isV6(address);
  for (let i = 0; i < segments.length; i++) {
    const g = segments[i];
    const prefix = v6 ? g.prefix6 : g.prefix;
    if (prefix === undefined || !inPrefixAny(address, prefix) || address === (v6 ? g.local6 : g.local)) continue;
    const list = v6 ? g.also6 : g.also;
    const macs = v6 ? g.also6Macs : g.alsoMacs;
    const at = list.indexOf(address);
    if (on && at < 0) {
      list.push(address);
      macs.push(segmentMac(address));
    } else if (!on && at >= 0) {
      list.splice(at, 1);
      macs.splice(at, 1);
    }
    return i;
  }
  return -1;
}

/** Locally administered, unique per segment address: 02:53:41 ("SA") + the low 24 bits of its first `local`. */
export function segmentMac(local: number): Uint8Array {
  if (isV6(local)) {
    const o = ADDRESSES6.offset(local) + 13;
    const b = ADDRESSES6.bytes;
    return Uint8Array.of(0x02, 0x53, 0x41, b[o], b[o + 1], b[o + 2]);
  }
  return Uint8Array.of(0x02, 0x53, 0x41, (local >>> 16) & 255, (local >>> 8) & 255, local & 255);
}
