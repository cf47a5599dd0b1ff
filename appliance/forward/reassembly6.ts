import { MAX_IP, type PacketPool } from '../device/packet-pool';
import { PARAMETER_HEADER, PARAMETER_HEADER_CHAIN } from '../wire/icmpv6';
import { PROTO_TCP, PROTO_UDP, readU32, writeU32 } from '../wire/ipv4';
import { DESTINATION_OPTIONS, FRAGMENT, HOP_BY_HOP, IPV6_HEADER, NO_NEXT_HEADER, PROTO_ICMPV6, ROUTING, type Ipv6Headers, type Ipv6View } from '../wire/ipv6';
import { TCP_MIN_HEADER } from '../wire/tcp';
import { Datagram, FragmentTable, Group, REASSEMBLY_DROPS } from './fragment-table';

/**
 * IPv4's drops (fragment-table.ts), and three refusals of one fragment that ask for an ICMPv6
 * Parameter Problem (add returns PARAMETER_PROBLEM); its datagram goes on without it:
 *   unaligned         M set and a length that is not a multiple of 8 (RFC 8200 4.5): code 0, pointer 4
 *   too-long          offset and length past a payload of 65,535 bytes (RFC 8200 4.5): code 0, at the offset
 *   incomplete-chain  a first fragment without every header through the upper layer's (RFC 7112 5): code 3, pointer 0
 */
export const REASSEMBLY6_DROPS = [...REASSEMBLY_DROPS, 'unaligned', 'too-long', 'incomplete-chain'] as const;
export type Reassembly6Drop = (typeof REASSEMBLY6_DROPS)[number];

/** RFC 8200 4.5: sixty seconds from a datagram's first-arriving fragment. */
export const REASSEMBLY6_TIMEOUT = 60;

/** What `add` returns for a fragment refused with a Parameter Problem: the slot is still the caller's. */
export const PARAMETER_PROBLEM = -2;

const FRAGMENT_HEADER = 8;
/** The Fragment Offset field, from the fragment header's start. */
const OFFSET_FIELD = 2;

/** A datagram being reassembled; `key` is the identification. */
class Pending6 extends Datagram<Pending6> {
  /** The rest of the key, as int32 words: the source's interface identifier (its words 2 and 3), then the destination. */
  readonly words = new Int32Array(6);
  /** The first fragment's: where its Next Header field that names the fragment header is (from the IPv6 header) … */
  named = 0;
  /** … the value to put there (the fragment header's Next Header), and its fragmentable bytes; 0 until it came. */
  nextHeader = 0;
  firstLength = 0;
}

/** The datagrams of one /64 (`hi`, `lo`: the prefix's two words). */
class Prefix extends Group<Pending6> {
  hi = 0;
  lo = 0;
}

/**
 * IPv6 reassembly (RFC 8200 4.5), with the slots, overlap policy and bounds of IPv4's
 * (reassembly.ts, fragment-table.ts): a fragment that shares a byte with one held drops the
 * whole datagram and the rest of it is discarded until its timeout would have run out
 * (RFC 5722 4); an exact repeat (same offset, length and bytes) is discarded alone, counted
 * in `duplicates`, which RFC 5722 permits. The reassembled datagram is the first fragment's
 * unfragmentable part, its last Next Header set to the fragment header's, the payload length
 * recomputed, then the fragmentable part: the fragment header is gone, and `readHeaders` walks
 * the rest of the chain again. Only the first fragment's unfragmentable part and Next Header
 * count; the others' are not compared (RFC 8200 4.5). A repeat of the first fragment is a
 * duplicate only if its fragment header names the same Next Header too; else it is an overlap
 * (the datagram would read two ways); the first one held keeps its unfragmentable part (a
 * repeat's may differ in the hop limit, as any copy's).
 *
 * A "source" of the bounds is a /64, not an address: a host may use every address of its /64
 * (temporary addresses, RFC 8981), which a per-address bound would let it multiply. Lookup:
 * the /64's two words, then the identification, then the source's interface identifier and the
 * destination (int32 words, compared in place) along a chain that is almost always one long.
 *
 * `add` returns:
 *   a slot            the whole datagram (`lastLength` bytes). For an atomic fragment (offset
 *                     0, M clear: RFC 6946) the slot given, untouched, fragment header and all:
 *                     readHeaders has walked past it already. The validator need not call
 *                     add for one (`!h.isFragment`).
 *   -1                the slot was consumed: held, or dropped (counted in `drops`).
 *   PARAMETER_PROBLEM the fragment is refused (counted, captured); its slot is still the
 *                     caller's, to answer with a Parameter Problem of `problemCode` at
 *                     `problemPointer` (RFC 4443 3.4) and give back. Whether one may be sent
 *                     (RFC 4443 2.4 e, f) is the sender's call, as for the walk's errors.
 * A datagram that times out after its first fragment came is handed to `timeExceeded`, the
 * slot holding that first fragment rebuilt (fragment header and all), for an ICMPv6 Time
 * Exceeded code 1 (RFC 8200 4.5) quoting it; this class sends nothing and logs nothing.
 */
export class Reassembler6 extends FragmentTable<Pending6, Reassembly6Drop> {
  /** Atomic fragments handed back as they came. */
  atomic = 0;
  /** The Parameter Problem `add` asked for last. */
  problemCode = 0;
  problemPointer = 0;
  /**
   * Called by `expire` with a slot (the callee's to give back) holding the first fragment of a
   * datagram that timed out, `length` bytes of it (at most a slot's: the quote of an ICMPv6
   * error is shorter anyway). Set once; unset, the slot is given back. It must not call `add`.
   */
  timeExceeded: ((slot: number, length: number) => void) | undefined;
  private readonly prefixes = new Map<number, Map<number, Prefix>>();
  private readonly spareMaps: Map<number, Prefix>[] = [];
  private readonly spareSources: Prefix[] = [];

  /** The bounds as IPv4's: `maxBytes` in all, `perSourceBytes` for one /64. */
  constructor(pool: PacketPool, maxBytes: number, timeout = REASSEMBLY6_TIMEOUT, perSourceBytes = maxBytes / 8) {
    super(pool, REASSEMBLY6_DROPS, maxBytes, timeout, perSourceBytes, Math.min(pool.smallMaxIp, IPV6_HEADER + MAX_IP), IPV6_HEADER);
  }

  /** Takes the fragment of `slot`, `ip` checked and `h` walked by `ip.readHeaders`; returns as the class says. */
  add(slot: number, ip: Ipv6View, h: Ipv6Headers, now: number): number {
    if (!h.isFragment) {
      this.atomic++;
      this.lastLength = ip.totalLength;
      return slot;
    }
    const b = ip.buf;
    const unfragmentable = h.fragmentAt - ip.off;
    const at = h.fragmentAt + FRAGMENT_HEADER;
    const end = ip.off + ip.totalLength;
    const length = end - at;
    const offset = h.fragmentOffset;
    // RFC 8200 4.5: these discard the fragment, not the datagram (as Linux does).
    if (h.moreFragments && (length & 7) !== 0) return this.refuse(slot, 'unaligned', PARAMETER_HEADER, 4);
    if (unfragmentable - IPV6_HEADER + offset + length > MAX_IP) return this.refuse(slot, 'too-long', PARAMETER_HEADER, unfragmentable + OFFSET_FIELD);
    if (offset === 0 && !chainComplete(b, b[h.fragmentAt], at, end)) return this.refuse(slot, 'incomplete-chain', PARAMETER_HEADER_CHAIN, 0);
    const src = ip.srcOffset;
    const hi = readU32(b, src) | 0;
    const lo = readU32(b, src + 4) | 0;
    const key = h.identification | 0;
    let p = this.prefixes.get(hi)?.get(lo)?.datagrams.get(key);
    while (p !== undefined && !sameRest(p.words, b, src, ip.dstOffset)) p = p.chain;
    p ??= this.open(hi, lo, key, b, src, ip.dstOffset, now);
    if (offset === 0 && p !== undefined && p.slot >= 0) {
      if (p.firstLength === 0) {
        p.named = h.fragmentNamedAt - ip.off;
        p.nextHeader = b[h.fragmentAt];
        p.firstLength = length;
      } else if (b[h.fragmentAt] !== p.nextHeader) {
        // A repeat of the first fragment that names another upper layer: the datagram would read two ways.
        this.kill(p, 'overlap');
        this.lost?.fragment(slot, 'overlap');
        this.pool.give(slot);
        return -1;
      }
    }
    if (!this.take(slot, p, offset, length, !h.moreFragments, unfragmentable, ip.off, at)) return -1;
    return this.finish(p!);
  }

  /** Gives up datagrams whose timeout has run out, and forgets dropped ones'. `now` never goes back. */
  expire(now: number): void {
    for (const m of this.prefixes.values()) for (const s of m.values()) this.sweep(s, now);
  }

  protected override create(): Pending6 {
    return new Pending6();
  }

  protected override release(s: Prefix): void {
    const m = this.prefixes.get(s.hi)!;
    m.delete(s.lo);
    if (m.size === 0) {
      this.prefixes.delete(s.hi);
      this.spareMaps.push(m);
    }
    this.spareSources.push(s);
  }

  /** Counted at its timeout; with the first fragment in, that fragment goes to `timeExceeded`. */
  protected override timedOut(p: Pending6): void {
    const slot = this.detach(p, 'timeout');
    if (p.firstLength === 0 || this.timeExceeded === undefined) {
      this.pool.give(slot);
      return;
    }
    // The slot holds the unfragmentable part as the first fragment had it (its Next Header
    // still names the fragment header), then the payload: the fragment header goes back in.
    const b = this.pool.buf;
    const base = this.pool.ipOffset(slot);
    const u = p.place;
    const n = Math.min(p.firstLength, this.pool.ipRoom(slot) - u - FRAGMENT_HEADER);
    b.copyWithin(base + u + FRAGMENT_HEADER, base + u, base + u + n);
    b[base + u] = p.nextHeader;
    b[base + u + 1] = 0;
    b[base + u + 2] = 0;
    b[base + u + 3] = 1; // offset 0, M set
    writeU32(b, base + u + 4, p.key);
    const payload = u - IPV6_HEADER + FRAGMENT_HEADER + p.firstLength;
    b[base + 4] = payload >> 8;
    b[base + 5] = payload;
    this.timeExceeded(slot, u + FRAGMENT_HEADER + n);
  }

  /** Starts a datagram, making room first if a bound is reached; undefined when no slot is free. */
  private open(hi: number, lo: number, key: number, b: Uint8Array, src: number, dst: number, now: number): Pending6 | undefined {
    const slot = this.reserve(this.prefixes.get(hi)?.get(lo));
    if (slot < 0) return undefined;
    let m = this.prefixes.get(hi); // the eviction may have emptied it
    if (m === undefined) {
      m = this.spareMaps.pop() ?? new Map<number, Prefix>();
      this.prefixes.set(hi, m);
    }
    let s = m.get(lo);
    if (s === undefined) {
      s = this.spareSources.pop() ?? new Prefix();
      s.hi = hi;
      s.lo = lo;
      m.set(lo, s);
    }
    const p = this.start(s, slot, key, now);
    const w = p.words;
    w[0] = readU32(b, src + 8);
    w[1] = readU32(b, src + 12);
    for (let i = 0; i < 4; i++) w[2 + i] = readU32(b, dst + 4 * i);
    p.firstLength = 0;
    return p;
  }

  /** RFC 8200 4.5: the unfragmentable part's last Next Header takes the fragment header's, and the payload length is the whole's. */
  private finish(p: Pending6): number {
    const b = this.pool.buf;
    const base = this.pool.ipOffset(p.slot);
    b[base + p.named] = p.nextHeader;
    const payload = p.place - IPV6_HEADER + p.total;
    b[base + 4] = payload >> 8;
    b[base + 5] = payload;
    return this.complete(p, p.place + p.total);
  }

  private refuse(slot: number, reason: Reassembly6Drop, code: number, pointer: number): number {
    this.drops[reason]++;
    this.lost?.fragment(slot, reason);
    this.problemCode = code;
    this.problemPointer = pointer;
    return PARAMETER_PROBLEM;
  }
}

function sameRest(w: Int32Array, b: Uint8Array, src: number, dst: number): boolean {
  return w[0] === (readU32(b, src + 8) | 0) && w[1] === (readU32(b, src + 12) | 0)
    && w[2] === (readU32(b, dst) | 0) && w[3] === (readU32(b, dst + 4) | 0) && w[4] === (readU32(b, dst + 8) | 0) && w[5] === (readU32(b, dst + 12) | 0);
}

/**
 * RFC 7112 5 (RFC 8200 4.5): whether the first fragment's b[at, end), whose first header is
 * `next`, holds every extension header and then the upper layer's header: TCP's with its
 * options, UDP's, ICMPv6's first two words; of another upper layer, at least its first byte
 * (as Linux asks). The headers stepped over are readHeaders's, which checks them once reassembled.
 */
function chainComplete(b: Uint8Array, next: number, at: number, end: number): boolean {
  for (;;) {
    switch (next) {
      case HOP_BY_HOP:
      case ROUTING:
      case DESTINATION_OPTIONS:
        if (at + 2 > end) return false;
        next = b[at];
        at += (b[at + 1] + 1) * 8;
        break;
      case FRAGMENT:
        if (at + FRAGMENT_HEADER > end) return false;
        next = b[at];
        at += FRAGMENT_HEADER;
        break;
      case NO_NEXT_HEADER:
        return at <= end;
      case PROTO_TCP:
        return at + 13 <= end && at + Math.max(TCP_MIN_HEADER, (b[at + 12] >> 4) * 4) <= end;
      case PROTO_UDP:
      case PROTO_ICMPV6:
        return at + 8 <= end;
      default:
        return at < end;
    }
  }
}
