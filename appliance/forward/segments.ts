import type { Prefix } from '../config/address';
import type { ServerRecord } from '../config/tables';
import type { OpenDevice, PacketDevice } from '../device/device';

/** One TAP: the segment behind it and the appliance's own address and MAC there. */
export interface Segment {
  tap: string;
  device: PacketDevice;
  local: number;
  /** The segment's own prefix (`local`'s): its hosts are on the link. */
  prefix: Prefix;
  mac: Uint8Array;
  /** Servers on this segment by endpoint (address * 65536 + port). */
  servers: Map<number, number>;
  /** Servers on this segment by address alone: several may share a host. */
  hosts: Map<number, number[]>;
}

/**
 * The segments of the server table, one per TAP in order of first mention (so segment i is
 * device i + 1 of the I/O loop, after the TUN), each TAP opened here; and, per server index,
 * the index of its segment. The appliance's address on a segment is its first server's `local`.
 */
export function buildSegments(servers: readonly ServerRecord[], open: OpenDevice): { segments: Segment[]; serverSegment: number[] } {
  const segments: Segment[] = [];
  const serverSegment: number[] = [];
  for (let i = 0; i < servers.length; i++) {
    const s = servers[i];
    let seg = segmentIndex(segments, s.tap);
    if (seg < 0) {
      const local = s.local.address;
      seg = segments.push({ tap: s.tap, device: open(s.tap, 'tap'), local, prefix: s.local, mac: segmentMac(local), servers: new Map(), hosts: new Map() }) - 1;
    }
    const g = segments[seg];
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

/** Locally administered, unique per segment address: 02:53:41 ("SA") + its low 24 bits. */
function segmentMac(local: number): Uint8Array {
  return Uint8Array.of(0x02, 0x53, 0x41, (local >>> 16) & 255, (local >>> 8) & 255, local & 255);
}
