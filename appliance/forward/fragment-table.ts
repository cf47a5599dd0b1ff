import type { PacketPool } from '../device/packet-pool';
import { ETH_HEADER } from '../wire/ethernet';
import type { Drops } from './drops';

/**
 * Why a datagram being reassembled was given up, each counted in the reassembler's `drops`:
 *   overlap             a fragment shares bytes with one already held (RFC 5722 §4; applied to IPv4 too)
 *   inconsistent        fragments disagree on where the datagram ends, or one that is not the last
 *                       carries no data or data that is not a multiple of 8 bytes (RFC 791 §3.2)
 *   too-big             the datagram would not fit a small slot, or would exceed what IP allows
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
export class Datagram<D extends Datagram<D>> {
  /** The whole datagram's slot; -1 once dropped, when the entry only discards the rest until it expires. */
  slot = -1;
  owner!: Group<D>;
  /** Its key in the owner's map; the subclass's own fields tell apart those sharing it. */
  key = 0;
  expires = 0;
  /** Where payload byte 0 goes after the IP header's start: a minimal header's length until fragment 0 brings its own. */
  place = 0;
  /** The payload's length, once the last fragment has said it; -1 until then. */
  total = -1;
  received = 0;
  maxEnd = 0;
  fragments = 0;
  /** [start, end) of each fragment held, in payload bytes. */
  readonly ranges = new Uint16Array(2 * MAX_FRAGMENTS);
  /** The next datagram with the same key. */
  chain: D | undefined;
  /** The owner's datagrams in the order they started. */
  older: D | undefined;
  newer: D | undefined;
}

/** One source's datagrams; a member of the list of sources holding as many. */
export class Group<D extends Datagram<D>> {
  readonly datagrams = new Map<number, D>();
  count = 0;
  oldest: D | undefined;
  newest: D | undefined;
  prev: Group<D> | undefined;
  next: Group<D> | undefined;
}

/**
 * What IPv4 and IPv6 reassembly share (reassembly.ts, reassembly6.ts): the slot a datagram is
 * copied into, the ranges held and the overlap policy, and the memory bounds, per source and
 * in all. The subclass finds a fragment's datagram by its own key and fixes the header of a
 * completed one. The policy and the bounds are described at `Reassembler` (reassembly.ts).
 */
export abstract class FragmentTable<D extends Datagram<D>, R extends string> {
  readonly drops: Record<R | ReassemblyDrop, number>;
  /** Datagrams handed back whole. */
  completed = 0;
  /** Fragments discarded as exact repeats of one held; their datagram goes on. */
  duplicates = 0;
  /** IP length of the datagram `add` returned last. */
  lastLength = 0;
  /** Where a fragment that is thrown away is captured (set by the forwarder; its `capture` may be off). */
  lost: Drops | undefined;
  private live = 0;
  private entries = 0;
  private readonly maxEntries: number;
  private readonly perSource: number;
  /** byCount[n]: the first of the sources holding n entries; `top` is the largest n held. */
  private readonly byCount: (Group<D> | undefined)[];
  private top = 0;
  private readonly spare: D[] = [];

  /**
   * `limit`: the longest datagram reassembled (header included); `minHeader`: where payload goes
   * until the first fragment has brought its header.
   */
  constructor(
    protected readonly pool: PacketPool,
    reasons: readonly (R | ReassemblyDrop)[],
    maxBytes: number,
    private readonly timeout: number,
    perSourceBytes: number,
    private readonly limit: number,
    private readonly minHeader: number,
  ) {
    this.drops = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R | ReassemblyDrop, number>;
    this.maxEntries = Math.max(1, Math.floor(maxBytes / pool.smallSize));
    this.perSource = Math.min(this.maxEntries, Math.max(1, Math.floor(perSourceBytes / pool.smallSize)));
    this.byCount = new Array<Group<D> | undefined>(this.perSource + 1).fill(undefined);
  }

  /** Datagrams waiting for fragments (not counting dropped ones still discarding theirs). */
  get pending(): number {
    return this.live;
  }

  /** A recycled or new datagram entry. */
  protected abstract create(): D;
  /** Forgets a source that holds nothing any more. */
  protected abstract release(s: Group<D>): void;

  /**
   * Makes room for a datagram of the source `held` (undefined when it holds none): the slot
   * for it, or -1 when none is free.
   */
  protected reserve(held: Group<D> | undefined): number {
    if (held !== undefined && held.count >= this.perSource) this.evict(held.oldest!, 'per-source');
    else if (this.entries >= this.maxEntries) this.evict(this.byCount[this.top]!.oldest!, 'over-cap');
    const slot = this.pool.take();
    if (slot < 0) this.drops['pool-exhausted']++;
    return slot;
  }

  /** Starts a datagram of `s` in `slot`, under `key` in its map. */
  protected start(s: Group<D>, slot: number, key: number, now: number): D {
    const p = this.spare.pop() ?? this.create();
    p.slot = slot;
    p.owner = s;
    p.key = key;
    p.expires = now + this.timeout;
    p.place = this.minHeader;
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

  /**
   * Takes the fragment in `slot` (consumed) into `p`, undefined when no slot was free for it:
   * `length` payload bytes at `payloadAt` in the pool, for payload bytes [offset, offset + length)
   * of the datagram; `hl` header bytes at `headerAt` that are the datagram's if `offset` is 0.
   * True when the datagram is complete.
   */
  protected take(slot: number, p: D | undefined, offset: number, length: number, last: boolean, hl: number, headerAt: number, payloadAt: number): boolean {
    if (p !== undefined && p.slot >= 0) {
      const drop = this.place(p, offset, length, last, hl, headerAt, payloadAt);
      if (drop !== undefined) {
        this.kill(p, drop);
        this.lost?.fragment(slot, drop);
      }
    } else this.lost?.fragment(slot, p === undefined ? 'pool-exhausted' : 'rest-of-dropped');
    this.pool.give(slot);
    return p !== undefined && p.slot >= 0 && p.received === p.total;
  }

  /** Copies the fragment into the datagram's slot; or says why the datagram is to be dropped. */
  private place(p: D, offset: number, length: number, last: boolean, hl: number, headerAt: number, payloadAt: number): ReassemblyDrop | undefined {
    const end = offset + length;
    if (last ? (p.total >= 0 ? p.total !== end : p.maxEnd >= end) : length === 0 || (length & 7) !== 0 || (p.total >= 0 && end >= p.total)) {
      return 'inconsistent';
    }
    if ((offset === 0 ? hl + Math.max(end, p.maxEnd) : p.place + end) > this.limit) return 'too-big';
    const buf = this.pool.buf;
    const base = this.pool.ipOffset(p.slot);
    const r = p.ranges;
    for (let i = 0; i < 2 * p.fragments; i += 2) {
      if (r[i] === offset && r[i + 1] === end) {
        if (buf.compare(buf, base + p.place + offset, base + p.place + end, payloadAt, payloadAt + length) !== 0) return 'overlap';
        this.duplicates++;
        return undefined;
      }
      if (offset < r[i + 1] && r[i] < end) return 'overlap';
    }
    if (p.fragments === MAX_FRAGMENTS) return 'too-many-fragments';
    if (offset === 0) {
      // The first fragment's header (IPv4 options, IPv6's unfragmentable part) is the
      // datagram's (RFC 791 §3.2, RFC 8200 4.5): the payload already held moves up to follow it.
      if (hl !== p.place) buf.copyWithin(base + hl, base + p.place, base + p.place + p.maxEnd);
      buf.copyWithin(base, headerAt, headerAt + hl);
      // With a capture on, its link header too: the whole datagram, dropped later, shows who sent it.
      if (this.lost?.capture !== undefined) buf.copyWithin(base - ETH_HEADER, headerAt - ETH_HEADER, headerAt);
      p.place = hl;
    }
    // copyWithin, not Buffer#copy: the same bytes moved, without the garbage Node's copy makes per call.
    buf.copyWithin(base + p.place + offset, payloadAt, payloadAt + length);
    r[2 * p.fragments] = offset;
    r[2 * p.fragments + 1] = end;
    p.fragments++;
    // Ranges are disjoint and within [0, total], so all bytes are in once received === total.
    p.received += length;
    if (end > p.maxEnd) p.maxEnd = end;
    if (last) p.total = end;
    return undefined;
  }

  /** Hands over the slot of the completed datagram, whose header the caller has fixed: `length` IP bytes. */
  protected complete(p: D, length: number): number {
    const slot = p.slot;
    p.slot = -1;
    this.live--;
    this.remove(p);
    this.completed++;
    this.lastLength = length;
    return slot;
  }

  /** Gives up `s`'s datagrams whose timeout has run out, and forgets dropped ones'. */
  protected sweep(s: Group<D>, now: number): void {
    while (s.oldest !== undefined && now >= s.oldest.expires) {
      const p = s.oldest;
      if (p.slot >= 0) this.timedOut(p);
      this.remove(p);
    }
  }

  /** A datagram still incomplete at its timeout: dropped. */
  protected timedOut(p: D): void {
    this.kill(p, 'timeout');
  }

  /** Drops the datagram, counted, and returns its slot, which is the caller's now; the entry stays to discard the rest. */
  protected detach(p: D, reason: ReassemblyDrop): number {
    this.drops[reason]++;
    const slot = p.slot;
    p.slot = -1;
    this.live--;
    return slot;
  }

  /** Drops the datagram: its slot goes back, its entry stays to discard the rest of it. */
  protected kill(p: D, reason: ReassemblyDrop): void {
    this.pool.give(this.detach(p, reason));
  }

  /** Forgets the entry, dropping its datagram (counted) unless that was dropped already. */
  private evict(p: D, reason: ReassemblyDrop): void {
    if (p.slot >= 0) this.kill(p, reason);
    this.remove(p);
  }

  private remove(p: D): void {
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

  /** Moves the source to the list of those holding one more or one fewer; one holding none is released. */
  private recount(s: Group<D>, delta: 1 | -1): void {
    if (s.count > 0) {
      if (s.prev !== undefined) s.prev.next = s.next;
      else this.byCount[s.count] = s.next;
      if (s.next !== undefined) s.next.prev = s.prev;
    }
    s.count += delta;
    s.prev = undefined;
    if (s.count === 0) {
      s.next = undefined;
      this.release(s);
    } else {
      s.next = this.byCount[s.count];
      if (s.next !== undefined) s.next.prev = s;
      this.byCount[s.count] = s;
    }
    if (s.count > this.top) this.top = s.count;
    while (this.top > 0 && this.byCount[this.top] === undefined) this.top--;
  }
}
