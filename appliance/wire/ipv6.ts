/**
 * IPv6 (RFC 8200): the fixed header and the walk of its extension headers. A library step of
 * the dual stack (issue #14): the data path's IPv6 validator and demux (the step after this one)
 * check the header with `check`, walk it with `readHeaders` to find the upper layer, and turn
 * the walk's errors into ICMPv6 Parameter Problems (icmpv6.ts).
 *
 * Addresses are never copied out of a datagram: `srcOffset` and `dstOffset` are where they lie
 * in `buf`. equal16 and copy16 compare and copy 16 bytes between any two (buffer, offset)
 * pairs, so a datagram's address meets a configured one (a 16-byte array from parseIpv6 in
 * config/address.ts, offset 0) without allocating. A table keyed on addresses reads them as
 * four unsigned words, readU32(buf, at + 4 * i) for i = 0 (most significant) to 3.
 */
import { readU32 } from './ipv4';
import { WireView } from './view';

export const IPV6_HEADER = 40;
export const PROTO_ICMPV6 = 58;
// Extension headers the walk steps over (RFC 8200 4), and "no next header" (4.7).
export const HOP_BY_HOP = 0;
export const ROUTING = 43;
export const FRAGMENT = 44;
export const NO_NEXT_HEADER = 59;
export const DESTINATION_OPTIONS = 60;

/** Why a buffer is not a well-formed IPv6 fixed header; 0 when it is. */
export const enum Ipv6Error {
  None = 0,
  Truncated,
  Version,
  PayloadLength,
}

/**
 * Why the extension headers cannot be passed; 0 when the walk reached the upper layer. Each
 * error but Truncated and OptionDiscard asks for an ICMPv6 Parameter Problem (RFC 4443 3.4)
 * with the code named here and `Ipv6Headers.pointer` as its pointer.
 */
export const enum Ipv6HeaderError {
  None = 0,
  /** A header or an option runs past the payload or its header: dropped (no ICMP). */
  Truncated,
  /** RFC 8200 4: an extension header this node does not process (Mobility, HIP, Shim6, experiments): code 1. */
  NextHeader,
  /** RFC 8200 4.1: hop-by-hop options anywhere but first: code 1 at the field naming it. */
  HopByHopNotFirst,
  /** RFC 8200 4.4: a routing header with segments left, of a type no destination here routes: code 0 at its type. */
  Routing,
  /** RFC 8200 4.2: an unknown option whose type says discard (01, or 11 to a multicast destination). */
  OptionDiscard,
  /** RFC 8200 4.2: an unknown option whose type says discard and report (10, or 11 to unicast): code 2 at its type. */
  OptionIcmp,
}

// Extension headers of IANA's registry that the walk cannot step over (RFC 8200 4 says
// discard and report them): Mobility, HIP, Shim6 and the two experimental values. ESP (50)
// and AH (51) are upper layers here: the walk stops at them.
const MOBILITY = 135;
const HIP = 139;
const SHIM6 = 140;
const EXPERIMENT_1 = 253;
const EXPERIMENT_2 = 254;

const PAD1 = 0;
const PADN = 1;

/**
 * What the walk found, filled in place by `Ipv6View.readHeaders` so it allocates nothing.
 * Offsets named `...At` and `offset` are absolute positions in the buffer; `pointer` is
 * relative to the IPv6 header, as an ICMPv6 Parameter Problem quotes it.
 */
export class Ipv6Headers {
  /** The upper layer's protocol (NO_NEXT_HEADER when there is none), -1 after an error. */
  protocol = -1;
  offset = -1;
  /**
   * After an error, the offending byte. Else the Next Header field naming `protocol`: where a
   * code 1 Parameter Problem points when the caller does not handle that protocol.
   */
  pointer = -1;
  /** The fragment header (RFC 8200 4.5), -1 when none. */
  fragmentAt = -1;
  /** The Next Header field that names the fragment header: reassembly writes the fragment's next header there. */
  fragmentNamedAt = -1;
  /** Fragment offset in bytes. */
  fragmentOffset = 0;
  moreFragments = false;
  identification = 0;

  /** A fragment header that is not atomic (RFC 6946: offset 0 and M clear is processed as whole). */
  get isFragment(): boolean {
    return this.fragmentAt >= 0 && (this.fragmentOffset !== 0 || this.moreFragments);
  }

  reset(): void {
    this.protocol = -1;
    this.offset = -1;
    this.pointer = -1;
    this.fragmentAt = -1;
    this.fragmentNamedAt = -1;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.identification = 0;
  }
}

/**
 * A view over an IPv6 header at a fixed offset in a buffer: getters and setters at the RFC
 * 8200 3 offsets, never throwing, never copying; re-pointed per datagram with `wrap`.
 * `check()` validates the fixed header before anything else is read. There is no header
 * checksum: the hop limit and the addresses change by plain writes.
 */
export class Ipv6View extends WireView {
  get version(): number { return this.buf[this.off] >> 4; }
  get trafficClass(): number { return ((this.buf[this.off] & 0x0f) << 4) | (this.buf[this.off + 1] >> 4); }
  get flowLabel(): number { return ((this.buf[this.off + 1] & 0x0f) << 16) | (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  get payloadLength(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  set payloadLength(v: number) { this.buf[this.off + 4] = v >> 8; this.buf[this.off + 5] = v; }
  get nextHeader(): number { return this.buf[this.off + 6]; }
  set nextHeader(v: number) { this.buf[this.off + 6] = v; }
  get hopLimit(): number { return this.buf[this.off + 7]; }
  set hopLimit(v: number) { this.buf[this.off + 7] = v; }
  get srcOffset(): number { return this.off + 8; }
  get dstOffset(): number { return this.off + 24; }
  /** RFC 4291 2.7: ff00::/8. */
  get dstMulticast(): boolean { return this.buf[this.off + 24] === 0xff; }
  get payloadOffset(): number { return this.off + IPV6_HEADER; }
  /** Header and payload: what a TUN write or an Ethernet frame carries. */
  get totalLength(): number { return IPV6_HEADER + this.payloadLength; }

  /** Jumbograms (RFC 2675, payload length 0 and a hop-by-hop option) are not taken: no link here carries one. */
  check(): Ipv6Error {
    if (this.len < IPV6_HEADER) return Ipv6Error.Truncated;
    if (this.version !== 6) return Ipv6Error.Version;
    if (IPV6_HEADER + this.payloadLength > this.len) return Ipv6Error.PayloadLength;
    return Ipv6Error.None;
  }

  /**
   * Walks the extension headers (RFC 8200 4) to the upper layer, within the payload length.
   * Hop-by-hop and destination options are read option by option; a routing header without
   * segments left is stepped over (4.4); a fragment header is recorded and, unless atomic,
   * ends the walk: `protocol` and `offset` are then the fragmentable part's first header,
   * walked again once reassembled. Any other value is the upper layer, for the caller to take
   * or refuse (code 1 at `pointer`).
   */
  readHeaders(h: Ipv6Headers): Ipv6HeaderError {
    h.reset();
    const b = this.buf;
    const base = this.off;
    const end = base + IPV6_HEADER + this.payloadLength;
    let named = base + 6;
    let at = base + IPV6_HEADER;
    for (;;) {
      const next = b[named];
      if (next === HOP_BY_HOP && named !== base + 6) return fail(h, Ipv6HeaderError.HopByHopNotFirst, named - base);
      switch (next) {
        case HOP_BY_HOP:
        case DESTINATION_OPTIONS: {
          if (at + 8 > end) return Ipv6HeaderError.Truncated;
          const len = (b[at + 1] + 1) * 8;
          if (at + len > end) return Ipv6HeaderError.Truncated;
          const e = readOptions(h, b, at + 2, at + len, base, this.dstMulticast);
          if (e !== Ipv6HeaderError.None) return e;
          named = at;
          at += len;
          break;
        }
        case ROUTING: {
          if (at + 8 > end) return Ipv6HeaderError.Truncated;
          const len = (b[at + 1] + 1) * 8;
          if (at + len > end) return Ipv6HeaderError.Truncated;
          if (b[at + 3] !== 0) return fail(h, Ipv6HeaderError.Routing, at + 2 - base);
          named = at;
          at += len;
          break;
        }
        case FRAGMENT: {
          if (at + 8 > end) return Ipv6HeaderError.Truncated;
          h.fragmentAt = at;
          h.fragmentNamedAt = named;
          h.fragmentOffset = ((b[at + 2] << 8) | b[at + 3]) & 0xfff8;
          h.moreFragments = (b[at + 3] & 1) !== 0;
          h.identification = readU32(b, at + 4);
          named = at;
          at += 8;
          if (h.isFragment) return reached(h, b[named], at, named - base);
          break;
        }
        case MOBILITY:
        case HIP:
        case SHIM6:
        case EXPERIMENT_1:
        case EXPERIMENT_2:
          return fail(h, Ipv6HeaderError.NextHeader, named - base);
        default:
          return reached(h, next, at, named - base);
      }
    }
  }
}

function reached(h: Ipv6Headers, protocol: number, offset: number, pointer: number): Ipv6HeaderError {
  h.protocol = protocol;
  h.offset = offset;
  h.pointer = pointer;
  return Ipv6HeaderError.None;
}

function fail(h: Ipv6Headers, e: Ipv6HeaderError, pointer: number): Ipv6HeaderError {
  h.pointer = pointer;
  return e;
}

/**
 * The type-length-value options of b[i, end) (RFC 8200 4.2). Pad1 and PadN pass; an unknown
 * option's two high bits choose: 00 skip it, 01 discard, 10 discard and report, 11 discard and
 * report unless the destination is multicast.
 */
function readOptions(h: Ipv6Headers, b: Uint8Array, i: number, end: number, base: number, multicast: boolean): Ipv6HeaderError {
  while (i < end) {
    const type = b[i];
    if (type === PAD1) { i++; continue; }
    if (i + 2 > end || i + 2 + b[i + 1] > end) return Ipv6HeaderError.Truncated;
    const action = type >> 6;
    if (type !== PADN && action !== 0) {
      const report = action === 2 || (action === 3 && !multicast);
      return fail(h, report ? Ipv6HeaderError.OptionIcmp : Ipv6HeaderError.OptionDiscard, i - base);
    }
    i += 2 + b[i + 1];
  }
  return Ipv6HeaderError.None;
}

export function equal16(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** Copies without the subarray a `set` would need. */
export function copy16(from: Uint8Array, fromAt: number, to: Uint8Array, toAt: number): void {
  for (let i = 0; i < 16; i++) to[toAt + i] = from[fromAt + i];
}

/** The parsed form of a fixed header: what tests and the appliance's own datagrams need. */
export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

export function parseIpv6(v: Ipv6View): Ipv6Repr {
  return {
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    payloadLength: v.payloadLength,
    nextHeader: v.nextHeader,
    hopLimit: v.hopLimit,
    src: v.buf.slice(v.srcOffset, v.srcOffset + 16),
    dst: v.buf.slice(v.dstOffset, v.dstOffset + 16),
  };
}

/** Writes the 40-byte fixed header at buf[off] and returns its length. */
export function emitIpv6(r: Ipv6Repr, buf: Uint8Array, off: number): number {
  buf[off] = 0x60 | (r.trafficClass >> 4);
  buf[off + 1] = ((r.trafficClass & 0x0f) << 4) | ((r.flowLabel >> 16) & 0x0f);
  buf[off + 2] = r.flowLabel >> 8;
  buf[off + 3] = r.flowLabel;
  buf[off + 4] = r.payloadLength >> 8;
  buf[off + 5] = r.payloadLength;
  buf[off + 6] = r.nextHeader;
  buf[off + 7] = r.hopLimit;
  copy16(r.src, 0, buf, off + 8);
  copy16(r.dst, 0, buf, off + 24);
  return IPV6_HEADER;
}
