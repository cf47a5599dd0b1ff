import { MAX_IP, type PacketPool } from '../device/packet-pool';
import { IPV4_MIN_HEADER, type Ipv4View } from '../wire/ipv4';
import { Datagram, FragmentTable, Group, REASSEMBLY_DROPS, type ReassemblyDrop } from './fragment-table';

export { MAX_FRAGMENTS, REASSEMBLY_DROPS, type ReassemblyDrop } from './fragment-table';

/** A datagram being reassembled; `key` is `(identification << 8) | protocol`, `dst` tells apart those sharing it. */
class Pending extends Datagram<Pending> {
  dst = 0;
}

/** One source address's datagrams. */
class Source extends Group<Pending> {
  address = 0;
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
 * The bookkeeping is fragment-table.ts's, shared with IPv6 (reassembly6.ts).
 *
 * Lookup per fragment: the source address, then identification and protocol, then the
 * destination along a chain that is almost always one long, all numbers as Map keys. Entries
 * and sources are recycled: a fragment allocates nothing (beyond the Maps' own tables, which
 * grow and compact as datagrams come and go).
 */
export class Reassembler extends FragmentTable<Pending, ReassemblyDrop> {
  private readonly sources = new Map<number, Source>();
  private readonly spareSources: Source[] = [];

  constructor(pool: PacketPool, maxBytes: number, timeout: number, perSourceBytes = maxBytes / 8) {
    // The longest datagram reassembled: a small slot's, and never more than IP allows.
    super(pool, REASSEMBLY_DROPS, maxBytes, timeout, perSourceBytes, Math.min(pool.smallMaxIp, MAX_IP), IPV4_MIN_HEADER);
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
    if (!this.take(slot, p, ip.fragmentOffset, ip.payloadLength, !ip.moreFragments, ip.headerLength, ip.off, ip.payloadOffset)) return -1;
    return this.finish(p!, ip);
  }

  /** Gives up datagrams whose timeout has run out, and forgets dropped ones'. `now` never goes back. */
  expire(now: number): void {
    for (const s of this.sources.values()) this.sweep(s, now);
  }

  protected override create(): Pending {
    return new Pending();
  }

  protected override release(s: Source): void {
    this.sources.delete(s.address);
    this.spareSources.push(s);
  }

  /** Starts a datagram, making room first if a bound is reached; undefined when no slot is free. */
  private open(src: number, key: number, dst: number, now: number): Pending | undefined {
    const slot = this.reserve(this.sources.get(src));
    if (slot < 0) return undefined;
    let s = this.sources.get(src); // the eviction may have emptied it
    if (s === undefined) {
      s = this.spareSources.pop() ?? new Source();
      s.address = src;
      this.sources.set(src, s);
    }
    const p = this.start(s, slot, key, now);
    p.dst = dst;
    return p;
  }

  /** Fixes the header of the completed datagram and hands its slot over. */
  private finish(p: Pending, ip: Ipv4View): number {
    const buf = this.pool.buf;
    const base = this.pool.ipOffset(p.slot);
    const tl = p.place + p.total;
    ip.wrap(buf, base, tl);
    ip.totalLength = tl;
    buf[base + 6] &= 0x40; // keep DF, clear MF and the offset
    buf[base + 7] = 0;
    ip.fillChecksum();
    return this.complete(p, tl);
  }
}
