import { isV6 } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import type { Prefix } from '../config/address';
import type { Route } from '../config/tables';
import { readU32 } from '../wire/ipv4';
import type { Hop } from './routes';
import { segmentIndex, type Segment } from './segments';

/**
 * The IPv6 [routes] and the segments' own IPv6 prefixes, matched against an address where it
 * lies in a datagram (a routed destination is seldom interned): each prefix is kept as four
 * masked 32-bit words with their masks, so a match reads the address's words once and costs
 * four ANDs per prefix, allocating nothing. Routes are few: a linear scan.
 */
export class RouteTable6 {
  /** The IPv6 routes with their TAPs found, as routes.ts's Hop (NDP resolves their gateways). */
  hops: readonly Hop[] = [];
  /** Per route i: words[4i..4i+4) the prefix's words (masked), masks[4i..4i+4), lengths[i]. */
  private words = new Uint32Array(0);
  private masks = new Uint32Array(0);
  private lengths = new Int32Array(0);
  /** Per route: its segment (-1: no segment has its TAP) and gateway (-1: on the segment's link). */
  segment = new Int32Array(0);
  gateway = new Float64Array(0);
  /** The segments' own prefixes (prefix6), as the routes' (length -1: the segment has none). */
  private readonly linkWords: Uint32Array;
  private readonly linkMasks: Uint32Array;
  private readonly linkLengths: Int32Array;

  constructor(private readonly segments: readonly Segment[]) {
    const n = segments.length;
    this.linkWords = new Uint32Array(4 * n);
    this.linkMasks = new Uint32Array(4 * n);
    this.linkLengths = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const p = segments[i].prefix6;
      if (p !== undefined) this.linkLengths[i] = fill(p, this.linkWords, this.linkMasks, i);
    }
  }

  /** The IPv6 entries of a configuration's [routes], at start and at each reload. */
  set(routes: readonly Route[]): void {
    const v6 = routes.filter((r) => isV6(r.prefix.address));
    const n = v6.length;
    this.hops = v6.map((r) => ({ prefix: r.prefix, segment: segmentIndex(this.segments, r.tap), gateway: r.gateway }));
    this.words = new Uint32Array(4 * n);
    this.masks = new Uint32Array(4 * n);
    this.lengths = new Int32Array(n);
    this.segment = new Int32Array(n);
    this.gateway = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.lengths[i] = fill(v6[i].prefix, this.words, this.masks, i);
      this.segment[i] = this.hops[i].segment;
      this.gateway[i] = v6[i].gateway ?? -1;
    }
  }

  /** The route for the address at buf[at..at+16): the longest prefix holding it, the first listed among equals; -1 when none. */
  lookup(buf: Uint8Array, at: number): number {
    const a0 = readU32(buf, at);
    const a1 = readU32(buf, at + 4);
    const a2 = readU32(buf, at + 8);
    const a3 = readU32(buf, at + 12);
    const w = this.words;
    const m = this.masks;
    const lengths = this.lengths;
    let best = -1;
    let bestLength = -1;
    for (let i = 0; i < lengths.length; i++) {
      const k = 4 * i;
      if (lengths[i] > bestLength && ((a0 & m[k]) >>> 0) === w[k] && ((a1 & m[k + 1]) >>> 0) === w[k + 1]
        && ((a2 & m[k + 2]) >>> 0) === w[k + 2] && ((a3 & m[k + 3]) >>> 0) === w[k + 3]) {
        best = i;
        bestLength = lengths[i];
      }
    }
    return best;
  }

  /** Whether the address at buf[at..at+16) is on segment `segIndex`'s own link (its prefix6). */
  onLink(segIndex: number, buf: Uint8Array, at: number): boolean {
    if (this.linkLengths[segIndex] < 0) return false;
    const w = this.linkWords;
    const m = this.linkMasks;
    const k = 4 * segIndex;
    return ((readU32(buf, at) & m[k]) >>> 0) === w[k] && ((readU32(buf, at + 4) & m[k + 1]) >>> 0) === w[k + 1]
      && ((readU32(buf, at + 8) & m[k + 2]) >>> 0) === w[k + 2] && ((readU32(buf, at + 12) & m[k + 3]) >>> 0) === w[k + 3];
  }
}

/** Writes prefix `p` (an interned IPv6 address and a length) as entry `i` of words and masks; returns its length. */
function fill(p: Prefix, words: Uint32Array, masks: Uint32Array, i: number): number {
  const b = ADDRESSES6.bytes;
  const o = ADDRESSES6.offset(p.address);
  for (let k = 0; k < 4; k++) {
    const bits = Math.min(32, Math.max(0, p.length - 32 * k));
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    masks[4 * i + k] = mask;
    words[4 * i + k] = (readU32(b, o + 4 * k) & mask) >>> 0;
  }
  return p.length;
}
