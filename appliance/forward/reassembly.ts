import type { PacketPool } from '../device/packet-pool';
import type { Ipv4View } from '../wire/ipv4';

interface Pending {
  slot: number;
  /** Bytes of payload received, and the total once the last fragment has said it. */
  received: number;
  total: number;
  headerLength: number;
  expires: number;
  /** Byte ranges already filled, to count overlaps once; 8-byte units as in the header. */
  filled: Uint8Array;
}

/**
 * IPv4 reassembly (RFC 791) before analysis, so a SOCKS request split into fragments is seen
 * whole. Fragments are copied into one slot per datagram; the memory held is capped, and an
 * incomplete datagram is dropped after `timeout` seconds. A datagram larger than a slot, an
 * overlap that changes data, or the cap being reached drops the fragments (counted by caller).
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private held = 0;
  /** IP length of the datagram `add` completed last. */
  lastLength = 0;
  readonly stats = { completed: 0, dropped: 0, timedOut: 0 };

  constructor(private readonly pool: PacketPool, private readonly maxBytes: number, private readonly timeout: number) {}

  /**
   * Takes a fragment (its slot is consumed). Returns the slot of the whole datagram, with its
   * header rewritten as unfragmented, or -1 while it is incomplete or was dropped.
   */
  add(slot: number, ip: Ipv4View, now: number): number {
    const key = `${ip.src}/${ip.dst}/${ip.protocol}/${ip.identification}`;
    const hl = ip.headerLength;
    const offset = ip.fragmentOffset;
    const length = ip.payloadLength;
    const max = this.pool.smallMaxIp;
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.held + this.pool.smallSize > this.maxBytes) {
        this.stats.dropped++;
        this.pool.give(slot);
        return -1;
      }
      const whole = this.pool.take();
      if (whole < 0) {
        this.stats.dropped++;
        this.pool.give(slot);
        return -1;
      }
      p = { slot: whole, received: 0, total: -1, headerLength: hl, expires: now + this.timeout, filled: new Uint8Array(Math.ceil(max / 8)) };
      this.pending.set(key, p);
      this.held += this.pool.smallSize;
    }
    const src = this.pool.buf;
    const base = this.pool.ipOffset(p.slot);
    if (offset === 0) {
      src.copy(src, base, ip.off, ip.off + hl); // the first fragment's header (and options) lead
      p.headerLength = hl;
    }
    if (60 + offset + length > max || (!ip.moreFragments && p.total >= 0 && p.total !== offset + length)) {
      this.abandon(key, p);
      this.pool.give(slot);
      return -1;
    }
    if (!ip.moreFragments) p.total = offset + length;
    // Payload positions are relative to a header of p.headerLength, known once fragment 0 came;
    // until then data is placed after a maximal header and moved when it arrives.
    src.copy(src, base + 60 + offset, ip.payloadOffset, ip.payloadOffset + length);
    for (let u = offset / 8; u < Math.ceil((offset + length) / 8); u++) {
      if (p.filled[u] === 0) {
        p.filled[u] = 1;
        p.received += Math.min(8, offset + length - u * 8);
      }
    }
    this.pool.give(slot);
    if (p.total < 0 || p.received < p.total || p.filled[0] === 0) return -1;
    // Complete: move the payload up against the header, fix the header.
    src.copy(src, base + p.headerLength, base + 60, base + 60 + p.total);
    const tl = p.headerLength + p.total;
    ip.wrap(src, base, tl);
    src[base + 2] = tl >> 8;
    src[base + 3] = tl;
    src[base + 6] = src[base + 6] & 0x40; // keep DF, clear MF and the offset
    src[base + 7] = 0;
    ip.fillChecksum();
    this.pending.delete(key);
    this.held -= this.pool.smallSize;
    this.stats.completed++;
    this.lastLength = tl;
    return p.slot;
  }

  private abandon(key: string, p: Pending): void {
    this.pending.delete(key);
    this.held -= this.pool.smallSize;
    this.pool.give(p.slot);
    this.stats.dropped++;
  }

  expire(now: number): void {
    for (const [key, p] of this.pending) {
      if (now >= p.expires) {
        this.abandon(key, p);
        this.stats.timedOut++;
      }
    }
  }
}
