import { MAX_IP, type PacketPool } from '../device/packet-pool';
import { IPV4_MIN_HEADER, type Ipv4View } from '../wire/ipv4';
import { ETH_HEADER } from '../wire/ethernet';
import type { Drops } from './drops';

/**
 * Why a datagram being reassembled was given up, each counted in `Reassembler.drops`:
 *   overlap             a fragment shares bytes with one already held (RFC 5722 §4, applied to IPv4)
 *   inconsistent        fragments disagree on where the datagram ends, or one that is not the last
 *                       carries no data or data that is not a multiple of 8 bytes (RFC 791 §3.2)
 *   too-big             the datagram would not fit a small slot, or would exceed 65,535 bytes
 *   too-many-fragments  more than MAX_FRAGMENTS fragments
 *   timeout             still incomplete `timeout` seconds after its first fragment
 *   per-source          its source reached its bound and started another datagram
 *   over-cap            the total bound was reached and its source held the most
 *   pool-exhausted      no free slot to start it (counted per fragment refused)
 */
export const REASSEMBLY_DROPS = [
  'overlap', 'inconsistent', 'too-big', 'too-many-fragments', 'timeout', 'per-source', 'over-cap', 'pool-exhausted',
] as const;
export type ReassemblyDrop = (typeof REASSEMBLY_DROPS)[number];

/**
 * Fragments one datagram may come in. 64 covers the largest datagram cut to Ethernet-sized
 * fragments (45) and a 1500-byte one cut at RFC 791's minimum MTU of 68 (31), and bounds the
 * overlap scan, which is linear in the fragments held. Linux's ipfrag_max_dist is 64 too,
 * though it bounds disorder between a peer's fragments rather than their number.
 */
export const MAX_FRAGMENTS = 64;

/** A datagram being reassembled: its slot, and where each fragment held went in it. */
class Pending {
  /** The whole datagram's slot; -1 once dropped, when the entry only discards the rest until it expires. */
  slot = -1;
  owner!: Source;
  /** `(identification << 8) | protocol`, its key in the owner's map; `dst` tells apart those sharing it. */
  key = 0;
  dst = 0;
  expires = 0;
  /** Where payload byte 0 goes after the IP header's start: a minimal header's length until fragment 0 brings its own. */
  place = IPV4_MIN_HEADER;
  /** The payload's length, once the last fragment has said it; -1 until then. */
  total = -1;
  received = 0;
  maxEnd = 0;
  fragments = 0;
  /** [start, end) of each fragment held, in payload bytes. */
  readonly ranges = new Uint16Array(2 * MAX_FRAGMENTS);
  /** The next datagram with the same key (another destination). */
  chain: Pending | undefined;
  /** The owner's datagrams in the order they started. */
  older: Pending | undefined;
  newer: Pending | undefined;
}

/** One source address's datagrams; a member of the list of sources holding as many. */
class Source {
  address = 0;
  readonly datagrams = new Map<number, Pending>();
  count = 0;
  oldest: Pending | undefined;
  newest: Pending | undefined;
  prev: Source | undefined;
  next: Source | undefined;
}

/**
 * IPv4 reassembly (RFC 791 §3.2) before analysis, so that a SOCKS request split into fragments
 * is seen whole. Fragments are copied into one small slot per datagram, which the caller gets
 * back, with the first fragment's header made unfragmented, once every byte has come.
 *
 * Policy. RFC 5722 §4's rule for IPv6 is applied to IPv4: a fragment that shares any byte with
 * one already held drops the whole datagram, and the fragments of it still to come are
 * discarded until its timeout runs out (the entry stays, without its slot). A fragment that
 * repeats one held (same offset, length and bytes) is discarded alone and counted in
 * `duplicates`, as RFC 5722 permits: a network that duplicates packets would otherwise lose
 * every fragmented datagram it duplicates (why Linux's IPv4 stopped treating duplicates as
 * overlaps), and an identical copy cannot make the datagram read two ways. The other drops,
 * and what ends a datagram, are listed at REASSEMBLY_DROPS; this class logs nothing.
 *
 * Memory. A datagram holds one small slot whatever its fragments' sizes, so memory is counted
 * in slots (a dropped datagram's entry counts as one too, which bounds those entries): at most
 * `maxBytes` in all, `perSourceBytes` (an eighth of it by default) for one source address. A
 * source at its bound that starts another datagram gives up its own oldest ('per-source');
 * when the total is reached, the source holding the most gives up its oldest ('over-cap').
 * Sources are kept in lists by how many they hold, so that one is found in constant time.
 * A source loses a datagram to 'over-cap' only when no other holds more: a flood of fragments
 * that never complete, from a few addresses, displaces only itself; it takes about as many
 * flooding addresses as the bound has slots to push out a source holding one datagram.
 * (Linux, for comparison, refuses new datagrams above ipfrag_high_thresh; kernels before 4.17
 * also evicted the oldest down to ipfrag_low_thresh; neither looks at who holds the memory.)
 *
 * Lookup per fragment: the source address, then identification and protocol, then the
 * destination along a chain that is almost always one long, all numbers as Map keys. Entries
 * and sources are recycled: a fragment allocates nothing (beyond the Maps' own tables, which
 * grow and compact as datagrams come and go).
 */
export class Reassembler {
  readonly drops = Object.fromEntries(REASSEMBLY_DROPS.map((r) => [r, 0])) as Record<ReassemblyDrop, number>;
  /** Datagrams handed back whole. */
  completed = 0;
  /** Fragments discarded as exact repeats of one held; their datagram goes on. */
  duplicates = 0;
  /** IP length of the datagram `add` completed last. */
  lastLength = 0;
  private live = 0;
  private entries = 0;
  private readonly maxEntries: number;
  private readonly perSource: number;
  /** The longest datagram reassembled: a small slot's, and never more than IP allows. */
  private readonly limit: number;
  private readonly sources = new Map<number, Source>();
  /** byCount[n]: the first of the sources holding n entries; `top` is the largest n held. */
  private readonly byCount: (Source | undefined)[];
  private top = 0;
  private readonly spare: Pending[] = [];
  private readonly spareSources: Source[] = [];
  /** Where a fragment that is thrown away is captured (set by the forwarder; its `capture` may be off). */
  lost: Drops | undefined;

  constructor(private readonly pool: PacketPool, maxBytes: number, private readonly timeout: number, perSourceBytes = maxBytes / 8) {
    this.maxEntries = Math.max(1, Math.floor(maxBytes / pool.smallSize));
    this.perSource = Math.min(this.maxEntries, Math.max(1, Math.floor(perSourceBytes / pool.smallSize)));
    this.byCount = new Array<Source | undefined>(this.perSource + 1).fill(undefined);
    this.limit = Math.min(pool.smallMaxIp, MAX_IP);
  }

  /** Datagrams waiting for fragments (not counting dropped ones still discarding theirs). */
  get pending(): number {
    return this.live;
  }

  /**
   * Takes a fragment (its slot is consumed). Returns the slot of the whole datagram, with its
   * header rewritten as unfragmented, or -1 while it is incomplete or once it was dropped.
   */
  add(slot: number, ip: Ipv4View, now: number): number {
    const src = ip.src | 0;
    const key = (ip.identification << 8) | ip.protocol;
    const dst = ip.dst;
    let p = this.sources.get(src)?.datagrams.get(key);
    while (p !== undefined && p.dst !== dst) p = p.chain;
    p ??= this.open(src, key, dst, now);
    if (p !== undefined && p.slot >= 0) {
      const drop = this.place(p, ip);
      if (drop !== undefined) {
        this.kill(p, drop);
        this.lost?.fragment(slot, drop);
      }
    } else this.lost?.fragment(slot, p === undefined ? 'pool-exhausted' : 'rest-of-dropped');
    this.pool.give(slot);
    if (p === undefined || p.slot < 0 || p.received !== p.total) return -1;
    return this.finish(p, ip);
  }

  /** Gives up datagrams whose timeout has run out, and forgets dropped ones'. `now` never goes back. */
  expire(now: number): void {
    for (const s of this.sources.values()) {
      while (s.oldest !== undefined && now >= s.oldest.expires) this.evict(s.oldest, 'timeout');
    }
  }

  /** Starts a datagram, making room first if a bound is reached; undefined when no slot is free. */
  private open(src: number, key: number, dst: number, now: number): Pending | undefined {
    const held = this.sources.get(src);
    if (held !== undefined && held.count >= this.perSource) this.evict(held.oldest!, 'per-source');
    else if (this.entries >= this.maxEntries) this.evict(this.byCount[this.top]!.oldest!, 'over-cap');
    const slot = this.pool.take();
    if (slot < 0) {
      this.drops['pool-exhausted']++;
      return undefined;
    }
    let s = this.sources.get(src); // the eviction may have emptied it
    if (s === undefined) {
      s = this.spareSources.pop() ?? new Source();
      s.address = src;
      this.sources.set(src, s);
    }
    const p = this.spare.pop() ?? new Pending();
    p.slot = slot;
    p.owner = s;
    p.key = key;
    p.dst = dst;
    p.expires = now + this.timeout;
    p.place = IPV4_MIN_HEADER;
    p.total = -1;
    p.received = 0;
    p.maxEnd = 0;
    p.fragments = 0;
    p.chain = s.datagrams.get(key);
    s.datagrams.set(key, p);
    p.older = s.newest;
    p.newer = undefined;
    if (s.newest !== undefined) s.newest.newer = p;
    else s.oldest = p;
    s.newest = p;
    this.entries++;
    this.live++;
    this.recount(s, 1);
    return p;
  }

  /** Copies the fragment into the datagram's slot; or says why the datagram is to be dropped. */
  private place(p: Pending, ip: Ipv4View): ReassemblyDrop | undefined {
    const offset = ip.fragmentOffset;
    const length = ip.payloadLength;
    const end = offset + length;
    const last = !ip.moreFragments;
    if (last ? (p.total >= 0 ? p.total !== end : p.maxEnd >= end) : length === 0 || (length & 7) !== 0 || (p.total >= 0 && end >= p.total)) {
      return 'inconsistent';
    }
    const hl = ip.headerLength;
    if ((offset === 0 ? hl + Math.max(end, p.maxEnd) : p.place + end) > this.limit) return 'too-big';
    const buf = this.pool.buf;
    const base = this.pool.ipOffset(p.slot);
    const r = p.ranges;
    for (let i = 0; i < 2 * p.fragments; i += 2) {
      if (r[i] === offset && r[i + 1] === end) {
        if (buf.compare(buf, base + p.place + offset, base + p.place + end, ip.payloadOffset, ip.payloadOffset + length) !== 0) return 'overlap';
        this.duplicates++;
        return undefined;
      }
      if (offset < r[i + 1] && r[i] < end) return 'overlap';
    }
    if (p.fragments === MAX_FRAGMENTS) return 'too-many-fragments';
    if (offset === 0) {
      // The first fragment's header, options and all, is the datagram's (RFC 791 §3.2): the
      // payload already held moves up to follow it.
      if (hl !== p.place) buf.copy(buf, base + hl, base + p.place, base + p.place + p.maxEnd);
      buf.copy(buf, base, ip.off, ip.off + hl);
      // With a capture on, its link header too: the whole datagram, dropped later, shows who sent it.
      if (this.lost?.capture !== undefined) buf.copy(buf, base - ETH_HEADER, ip.off - ETH_HEADER, ip.off);
      p.place = hl;
    }
    buf.copy(buf, base + p.place + offset, ip.payloadOffset, ip.payloadOffset + length);
    r[2 * p.fragments] = offset;
    r[2 * p.fragments + 1] = end;
    p.fragments++;
    // Ranges are disjoint and within [0, total], so all bytes are in once received === total.
    p.received += length;
    if (end > p.maxEnd) p.maxEnd = end;
    if (last) p.total = end;
    return undefined;
  }

  /** Fixes the header of the completed datagram and hands its slot over. */
  private finish(p: Pending, ip: Ipv4View): number {
    const slot = p.slot;
    const buf = this.pool.buf;
    const base = this.pool.ipOffset(slot);
    const tl = p.place + p.total;
    ip.wrap(buf, base, tl);
    ip.totalLength = tl;
    buf[base + 6] &= 0x40; // keep DF, clear MF and the offset
    buf[base + 7] = 0;
    ip.fillChecksum();
    p.slot = -1;
    this.live--;
    this.remove(p);
    this.completed++;
    this.lastLength = tl;
    return slot;
  }

  /** Drops the datagram: its slot goes back, its entry stays to discard the rest of it. */
  private kill(p: Pending, reason: ReassemblyDrop): void {
    this.drops[reason]++;
    this.pool.give(p.slot);
    p.slot = -1;
    this.live--;
  }

  /** Forgets the entry, dropping its datagram (counted) unless that was dropped already. */
  private evict(p: Pending, reason: ReassemblyDrop): void {
    if (p.slot >= 0) this.kill(p, reason);
    this.remove(p);
  }

  private remove(p: Pending): void {
    const s = p.owner;
    const head = s.datagrams.get(p.key)!;
    if (head === p) {
      if (p.chain !== undefined) s.datagrams.set(p.key, p.chain);
      else s.datagrams.delete(p.key);
    } else {
      let q = head;
      while (q.chain !== p) q = q.chain!;
      q.chain = p.chain;
    }
    if (p.older !== undefined) p.older.newer = p.newer;
    else s.oldest = p.newer;
    if (p.newer !== undefined) p.newer.older = p.older;
    else s.newest = p.older;
    p.chain = p.older = p.newer = undefined;
    this.entries--;
    this.recount(s, -1);
    this.spare.push(p);
  }

  /** Moves the source to the list of those holding one more or one fewer; one holding none is forgotten. */
  private recount(s: Source, delta: 1 | -1): void {
    if (s.count > 0) {
      if (s.prev !== undefined) s.prev.next = s.next;
      else this.byCount[s.count] = s.next;
      if (s.next !== undefined) s.next.prev = s.prev;
    }
    s.count += delta;
    s.prev = undefined;
    if (s.count === 0) {
      s.next = undefined;
      this.sources.delete(s.address);
      this.spareSources.push(s);
    } else {
      s.next = this.byCount[s.count];
      if (s.next !== undefined) s.next.prev = s;
      this.byCount[s.count] = s;
    }
    if (s.count > this.top) this.top = s.count;
    while (this.top > 0 && this.byCount[this.top] === undefined) this.top--;
  }
}
