/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages (RFC 4861) the appliance speaks: the
 * data path's IPv6 step answers echo to a VIP, sends unreachables, Packet Too Big and
 * Parameter Problems (the codes ipv6.ts's walk asks for), and resolves a segment's neighbours
 * with solicitations and advertisements instead of ARP. Router solicitations and
 * advertisements are not read: the segments are configured, not autoconfigured.
 *
 * The checksum covers the IPv6 pseudo-header (RFC 8200 8.1): `pseudo` below is
 * pseudoHeaderSum6(…, PROTO_ICMPV6, message length) over the datagram's addresses.
 */
import { finish, fold, sumWords } from './checksum';
import { readU32, writeU32 } from './ipv4';
import { copy16 } from './ipv6';
import { IcmpHeaderView } from './icmp';
import { WireView } from './view';

export const ICMPV6_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ND_NEIGHBOR_SOLICITATION = 135;
export const ND_NEIGHBOR_ADVERTISEMENT = 136;
/** Neighbor Discovery is types 133 (router solicitation) to 137 (redirect), RFC 4861 4. */
export const ND_ROUTER_SOLICITATION = 133;
export const ND_REDIRECT = 137;
// Codes (RFC 4443 3.1, 3.3, 3.4).
export const UNREACH6_NO_ROUTE = 0;
export const UNREACH6_BEYOND_SCOPE = 2;
export const UNREACH6_ADDRESS = 3;
export const UNREACH6_PORT = 4;
export const TIME_EXCEEDED_HOP_LIMIT = 0;
export const TIME_EXCEEDED_REASSEMBLY = 1;
export const PARAMETER_HEADER = 0;
export const PARAMETER_NEXT_HEADER = 1;
export const PARAMETER_OPTION = 2;
/** RFC 7112 5: a first fragment without the whole header chain (pointer 0). */
export const PARAMETER_HEADER_CHAIN = 3;
// NA flags (RFC 4861 4.4) and the link-layer address options (4.6.1).
export const ND_ROUTER = 0x80;
export const ND_SOLICITED = 0x40;
export const ND_OVERRIDE = 0x20;
export const ND_OPT_SOURCE_LL = 1;
export const ND_OPT_TARGET_LL = 2;
/** Type, code, checksum, reserved or flags, target (RFC 4861 4.3, 4.4). */
export const ND_LENGTH = 24;

/** RFC 4443 2.1: types 0 to 127 are errors, never answered with an error (2.4 e). */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/**
 * A view over an ICMPv6 message. The second word is type-specific: identifier and sequence
 * (echo, 4.1, 4.2), the MTU (Packet Too Big, 3.2), the pointer (Parameter Problem, 3.4), unused
 * otherwise; the body (echo data, or as much of the invoking packet as fits) follows at 8.
 */
export class Icmpv6View extends IcmpHeaderView {
  get identifier(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  get sequence(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  get mtu(): number { return readU32(this.buf, this.off + 4); }
  set mtu(v: number) { writeU32(this.buf, this.off + 4, v); }
  get pointer(): number { return readU32(this.buf, this.off + 4); }
  set pointer(v: number) { writeU32(this.buf, this.off + 4, v); }
  get bodyOffset(): number { return this.off + 8; }

  checksumValid(pseudo: number): boolean {
    return this.len >= 8 && fold(sumWords(this.buf, this.off, this.len, pseudo)) === 0xffff;
  }

  fillChecksum(pseudo: number): void {
    this.checksum = 0;
    this.checksum = finish(sumWords(this.buf, this.off, this.len, pseudo));
  }
}

/** Why a solicitation or advertisement is to be discarded (RFC 4861 7.1.1, 7.1.2); 0 when it is not. */
export const enum NdError {
  None = 0,
  Truncated,
  Code,
  TargetMulticast,
  /** An option of length 0 or running past the message (4.6). */
  OptionLength,
}

/**
 * A view over a neighbor solicitation or advertisement (the ICMPv6 message; its type read
 * first with Icmpv6View). What the IPv6 header must hold (hop limit 255; from the unspecified
 * address, a solicitation to a solicited-node address without a source link-layer option) is
 * the caller's to check.
 */
export class NdView extends WireView {
  /** Where the link-layer address of the message's own option lies (source for NS, target for NA); -1 when absent. Set by `check`. */
  macAt = -1;

  get flags(): number { return this.buf[this.off + 4] & (ND_ROUTER | ND_SOLICITED | ND_OVERRIDE); }
  get router(): boolean { return (this.buf[this.off + 4] & ND_ROUTER) !== 0; }
  get solicited(): boolean { return (this.buf[this.off + 4] & ND_SOLICITED) !== 0; }
  get override(): boolean { return (this.buf[this.off + 4] & ND_OVERRIDE) !== 0; }
  get targetOffset(): number { return this.off + 8; }

  /** Validates the message and walks its options; unknown options are skipped (4.6). */
  check(): NdError {
    this.macAt = -1;
    if (this.len < ND_LENGTH) return NdError.Truncated;
    const b = this.buf;
    const o = this.off;
    if (b[o + 1] !== 0) return NdError.Code;
    if (b[o + 8] === 0xff) return NdError.TargetMulticast;
    const own = b[o] === ND_NEIGHBOR_SOLICITATION ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL;
    const end = o + this.len;
    for (let i = o + ND_LENGTH; i < end;) {
      if (i + 2 > end) return NdError.OptionLength;
      const n = b[i + 1] * 8;
      if (n === 0 || i + n > end) return NdError.OptionLength;
      if (b[i] === own && this.macAt < 0) this.macAt = i + 2;
      i += n;
    }
    return NdError.None;
  }
}

/** A solicitation or advertisement as the appliance sends it. */
export interface NdRepr {
  type: number;
  /** ND_ROUTER, ND_SOLICITED, ND_OVERRIDE (advertisements only). */
  flags: number;
  target: Uint8Array;
  /** ND_OPT_SOURCE_LL or ND_OPT_TARGET_LL with `mac`, or 0 for none. */
  option: number;
  mac: Uint8Array;
}

/**
 * Writes the message at buf[off] and returns its length. The checksum needs the IPv6
 * addresses: Icmpv6View.fillChecksum fills it once they are written.
 */
export function emitNd(r: NdRepr, buf: Uint8Array, off: number): number {
  buf[off] = r.type;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = r.type === ND_NEIGHBOR_ADVERTISEMENT ? r.flags : 0;
  buf[off + 5] = 0;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  copy16(r.target, 0, buf, off + 8);
  if (r.option === 0) return ND_LENGTH;
  buf[off + 24] = r.option;
  buf[off + 25] = 1;
  for (let i = 0; i < 6; i++) buf[off + 26 + i] = r.mac[i];
  return ND_LENGTH + 8;
}

/** The parsed form, for tests and logs; `v` checked first. */
export function parseNd(v: NdView): NdRepr {
  const own = v.buf[v.off] === ND_NEIGHBOR_SOLICITATION ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL;
  return {
    type: v.buf[v.off],
    flags: v.flags,
    target: v.buf.slice(v.targetOffset, v.targetOffset + 16),
    option: v.macAt < 0 ? 0 : own,
    mac: v.macAt < 0 ? new Uint8Array(6) : v.buf.slice(v.macAt, v.macAt + 6),
  };
}
