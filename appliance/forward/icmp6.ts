import { isV6 } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import type { PacketPool } from '../device/packet-pool';
import { pseudoHeaderSum6 } from '../wire/checksum';
import {
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAMETER_PROBLEM, Icmpv6View, isIcmpv6Error, ND_REDIRECT,
  PARAMETER_HEADER, PARAMETER_NEXT_HEADER, PARAMETER_OPTION,
} from '../wire/icmpv6';
import type { Ipv6Datagram } from '../wire/ip6-datagram';
import { copy16, IPV6_HEADER, Ipv6HeaderError, Ipv6Headers, Ipv6View, PROTO_ICMPV6 } from '../wire/ipv6';
import { isLinkLocal6, notUnique6 } from '../wire/ipv6-scope';
import type { Drops } from './drops';
import type { Output } from './output';
import type { RouteTable6 } from './route-table6';
import type { Segment } from './segments';
import { TokenBucket } from './token-bucket';

/** `nextHop` for a destination on the segment's own link that is not interned (an address lookup's -1): read it from the datagram. */
export const ON_LINK = -1;

/** Framing for a next hop on a segment: Neighbor Discovery's side (the NDP step provides it). */
export interface Ipv6Link {
  /**
   * Frames the datagram of `len` bytes in `slot` for `nextHop` on segment `segIndex` and sends
   * it; unresolved, drops it (counted) and solicits the next hop. `nextHop` is an address
   * number, or ON_LINK: the datagram's own destination, at pool.ipOffset(slot) + 24.
   */
  sendTo6(segIndex: number, slot: number, len: number, nextHop: number): void;
}

/** Errors a second and saved up: Linux's icmp_msgs_per_sec and icmp_msgs_burst. */
const ERROR_RATE = 1000;
const ERROR_BURST = 50;
/** An error is at most IPv6's minimum MTU long (RFC 4443 2.4 c). */
const MAX_ERROR = 1280;
const ICMPV6_HEADER = 8;
/** Hop limit of what the appliance sends: Linux's default. */
const HOP_LIMIT = 64;

/**
 * The appliance's own ICMPv6 (RFC 4443): echo replies from its addresses (4.2), and the errors
 * routing and the extension-header walk send (3). An error about a datagram from the TUN comes
 * from the first IPv6 VIP and goes back into the TUN; one about a datagram from a segment
 * comes from the appliance's address there and goes back onto that segment (or along the
 * route to its source): where the offending datagram came from is where its source is.
 */
export class Icmp6 {
  /** Where errors toward the intranet come from: the first IPv6 VIP, -1 when there is none (then none are sent). */
  source = -1;
  /** Seconds, for the rate limit: set by the forwarder at each wake-up. */
  now = 0;
  readonly stats = { echoReplies: 0, errors: 0, errorsLimited: 0 };
  /** RFC 4443 2.4 f: errors are rate-limited; Packet Too Big has a bucket of its own, so a flood of other errors cannot starve path MTU discovery. */
  private readonly errorBucket = new TokenBucket(ERROR_RATE, ERROR_BURST);
  private readonly tooBigBucket = new TokenBucket(ERROR_RATE, ERROR_BURST);
  private readonly view = new Icmpv6View();
  private readonly offending = new Ipv6View();
  private readonly headers = new Ipv6Headers();

  constructor(
    private readonly pool: PacketPool,
    private readonly segments: readonly Segment[],
    private readonly table: RouteTable6,
    private readonly link: Ipv6Link,
    private readonly output: Output,
    private readonly drops: Drops,
    private readonly log: (message: string) => void,
  ) {}

  /** The VIPs of a configuration: errors toward the intranet come from the first IPv6 one. */
  setVips(vips: readonly number[]): void {
    this.source = -1;
    for (let i = 0; i < vips.length && this.source < 0; i++) if (isV6(vips[i])) this.source = vips[i];
  }

  /**
   * ICMPv6 to a VIP (`from` -1: from the TUN) or to the appliance's address on segment `from`:
   * an echo request is answered in place (4.2: the same identifier, sequence and data);
   * other messages are freed, uncounted. The reply leaves without the request's extension
   * headers, with hop limit 64.
   */
  echo(slot: number, ip: Ipv6Datagram, from: number): void {
    const buf = ip.buf;
    const at = ip.upperOffset;
    const n = ip.upperLength;
    const v = this.view.wrap(buf, at, n);
    if (!v.checksumValid(pseudoHeaderSum6(buf, ip.srcOffset, buf, ip.dstOffset, PROTO_ICMPV6, n))) {
      this.drops.drop(slot, 'malformed-icmp');
      return;
    }
    if (v.type !== ICMPV6_ECHO_REQUEST || notUnique6(buf, ip.srcOffset)) {
      this.pool.give(slot);
      return;
    }
    const requester = ip.src;
    const base = ip.off + IPV6_HEADER;
    if (at !== base) {
      buf.copyWithin(base, at, at + n);
      ip.nextHeader = PROTO_ICMPV6;
      ip.payloadLength = n;
    }
    swap16(buf, ip.srcOffset, ip.dstOffset);
    ip.hopLimit = HOP_LIMIT;
    const reply = this.view.wrap(buf, base, n);
    reply.type = ICMPV6_ECHO_REPLY;
    reply.fillChecksum(pseudoHeaderSum6(buf, ip.srcOffset, buf, ip.dstOffset, PROTO_ICMPV6, n));
    this.pool.vnetFlags[slot] = 0; // the checksum is whole: nothing for the kernel to fill in
    this.stats.echoReplies++;
    this.send(slot, IPV6_HEADER + n, from, requester);
  }

  /**
   * A Parameter Problem (3.4) about the extension-header error `err` the walk met at
   * `pointer` in the datagram of `slot`, when `err` is one to report (ipv6.ts says which).
   */
  parameterProblem(slot: number, err: Ipv6HeaderError, pointer: number, from: number): void {
    const code = err === Ipv6HeaderError.Routing ? PARAMETER_HEADER
      : err === Ipv6HeaderError.NextHeader || err === Ipv6HeaderError.HopByHopNotFirst ? PARAMETER_NEXT_HEADER
        : err === Ipv6HeaderError.OptionIcmp ? PARAMETER_OPTION : -1;
    if (code >= 0) this.error6(slot, ICMPV6_PARAMETER_PROBLEM, code, pointer, from);
  }

  /**
   * An error of `type` and `code` about the datagram in `slot` (whose fixed header was
   * checked), to its source, in a slot of its own: `slot` stays the caller's. `param` is the
   * second word: the MTU of a Packet Too Big, the pointer of a Parameter Problem, else 0.
   * `from`: where the datagram came from, -1 for the TUN, else its segment. True when sent.
   */
  error6(slot: number, type: number, code: number, param: number, from: number): boolean {
    const buf = this.pool.buf;
    const o = this.pool.ipOffset(slot);
    const d = this.offending.wrap(buf, o, IPV6_HEADER + ((buf[o + 4] << 8) | buf[o + 5]));
    if (!this.mayAnswer(d, type, code)) return false;
    const src = from < 0 ? this.source : this.segments[from].local6;
    if (src < 0) return false;
    const bucket = type === ICMPV6_PACKET_TOO_BIG ? this.tooBigBucket : this.errorBucket;
    if (!bucket.take(this.now)) {
      this.stats.errorsLimited++;
      if (this.drops.first('icmp6-limited')) this.log('ICMPv6 errors over the rate limit are not sent (counted from now on, logged once)');
      return false;
    }
    const e = this.pool.take();
    if (e < 0) {
      this.drops.drop(-1, 'pool-exhausted');
      return false;
    }
    const quoted = Math.min(d.totalLength, MAX_ERROR - IPV6_HEADER - ICMPV6_HEADER, this.pool.ipRoom(slot));
    const len = ICMPV6_HEADER + quoted;
    const eo = this.pool.ipOffset(e);
    buf[eo] = 0x60;
    buf[eo + 1] = 0;
    buf[eo + 2] = 0;
    buf[eo + 3] = 0;
    buf[eo + 4] = len >> 8;
    buf[eo + 5] = len;
    buf[eo + 6] = PROTO_ICMPV6;
    buf[eo + 7] = HOP_LIMIT;
    ADDRESSES6.write(src, buf, eo + 8);
    copy16(buf, o + 8, buf, eo + 24);
    buf.copy(buf, eo + IPV6_HEADER + ICMPV6_HEADER, o, o + quoted);
    const v = this.view.wrap(buf, eo + IPV6_HEADER, len);
    v.type = type;
    v.code = code;
    v.pointer = param;
    v.fillChecksum(pseudoHeaderSum6(buf, eo + 8, buf, eo + 24, PROTO_ICMPV6, len));
    this.stats.errors++;
    this.send(e, IPV6_HEADER + len, from, ADDRESSES6.lookup(buf, eo + 24));
    return true;
  }

  /**
   * An error about a datagram to one of the appliance's own addresses (reassembly holds only
   * those), sent back where that address is: a VIP's into the TUN, a segment's local6 onto that
   * segment. The slot is taken, and given back.
   */
  aboutOwn(slot: number, type: number, code: number, param: number): void {
    const dst = ADDRESSES6.lookup(this.pool.buf, this.pool.ipOffset(slot) + 24);
    let from = -1;
    const s = this.segments;
    for (let i = 0; i < s.length; i++) if (dst >= 0 && s[i].local6 === dst) from = i;
    this.error6(slot, type, code, param, from);
    this.pool.give(slot);
  }

  /**
   * RFC 4443 2.4 e: never about an ICMPv6 error or a redirect (lest two nodes answer each
   * other forever), nor to a source that is no single node's; to a multicast destination only
   * a Packet Too Big or a code 2 Parameter Problem.
   */
  private mayAnswer(d: Ipv6View, type: number, code: number): boolean {
    if (notUnique6(d.buf, d.srcOffset)) return false;
    if (d.dstMulticast && type !== ICMPV6_PACKET_TOO_BIG && !(type === ICMPV6_PARAMETER_PROBLEM && code === PARAMETER_OPTION)) return false;
    const h = this.headers;
    if (d.readHeaders(h) !== Ipv6HeaderError.None || h.protocol !== PROTO_ICMPV6 || h.fragmentOffset !== 0) return true;
    if (h.offset >= d.off + d.totalLength) return true;
    const t = d.buf[h.offset];
    return !isIcmpv6Error(t) && t !== ND_REDIRECT;
  }

  /**
   * Sends a datagram the appliance made back where `from` says its destination `dst` (an
   * address number, or -1 when not interned) is: into the TUN, or on segment `from`, on its
   * link or through the route to it.
   */
  private send(slot: number, len: number, from: number, dst: number): void {
    if (from < 0) {
      this.output.toIntranet(slot, len);
      return;
    }
    const buf = this.pool.buf;
    const at = this.pool.ipOffset(slot) + 24;
    const t = this.table;
    if (isLinkLocal6(buf, at) || t.onLink(from, buf, at)) {
      this.link.sendTo6(from, slot, len, dst);
      return;
    }
    const h = t.lookup(buf, at);
    if (h < 0 || t.segment[h] < 0) {
      this.drops.drop(slot, 'no-route');
      return;
    }
    this.link.sendTo6(t.segment[h], slot, len, t.gateway[h] >= 0 ? t.gateway[h] : dst);
  }
}

/** Swaps the 16 bytes at `a` and at `b` in place. */
function swap16(buf: Uint8Array, a: number, b: number): void {
  for (let i = 0; i < 16; i++) {
    const x = buf[a + i];
    buf[a + i] = buf[b + i];
    buf[b + i] = x;
  }
}
