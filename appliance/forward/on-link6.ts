import { ADDRESSES6 } from '../addr/interner';
import type { PacketPool } from '../device/packet-pool';
import { ON_LINK, type Ipv6Link } from './icmp6';

/** On-link destinations held a number for at once: Linux's neighbour table bound (gc_thresh3). */
const HELD = 1024;

/** What Neighbor Discovery does for the link (neighbours.ts). */
export interface Neighbours6 {
  /** Frames for `nextHop`, an address number; unresolved, drops and solicits. */
  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void;
  /** Forgets what it knows of `a`, whose number is given back. */
  forget(a: number): void;
}

/**
 * The IPv6 link as routes6.ts and icmp6.ts use it: Neighbor Discovery resolves address
 * numbers, and a destination on a segment's own link is often not one yet (no route names it,
 * no connection holds it). Such a destination (ON_LINK) gets a number here, held while it is
 * among the last HELD of them; the oldest is then let go, and forgotten by Neighbor Discovery
 * too, since its number may go to another address. So a scan of an on-link /64 costs a bounded
 * table, not an entry per address (RFC 6583 3.2).
 */
export class OnLink6 implements Ipv6Link {
  private readonly held = new Float64Array(HELD).fill(-1);
  private next = 0;

  constructor(private readonly pool: PacketPool, private readonly nd: Neighbours6) {}

  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void {
    this.nd.sendTo6(segIndex, slot, len, nextHop === ON_LINK ? this.hold(this.pool.buf, this.pool.ipOffset(slot) + 24) : nextHop);
  }

  /** The number of the address at buf[at..at+16), interned and held if nothing holds it yet. */
  private hold(buf: Uint8Array, at: number): number {
    const known = ADDRESSES6.lookup(buf, at);
    if (known >= 0) return known;
    const old = this.held[this.next];
    if (old >= 0) {
      this.nd.forget(old);
      ADDRESSES6.release(old);
    }
    const a = ADDRESSES6.intern(buf, at);
    this.held[this.next] = a;
    this.next = this.next + 1 === HELD ? 0 : this.next + 1;
    return a;
  }
}
