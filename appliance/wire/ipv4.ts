import { finish, fold, sumWords, update16, update32 } from './checksum';
import { WireView } from './view';

export const IPV4_MIN_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

/** Why a buffer is not a well-formed IPv4 datagram; 0 when it is. */
export const enum Ipv4Error {
  None = 0,
  Truncated,
  Version,
  HeaderLength,
  TotalLength,
  Checksum,
}

/**
 * A view over an IPv4 header at a fixed offset in a buffer: getters and setters at the RFC 791
 * offsets, never throwing, never copying. `check()` validates before anything else is read.
 * One instance is re-pointed at each datagram with `wrap`, so the per-packet path allocates nothing.
 */
export class Ipv4View extends WireView {
  /** The family, as Ipv6Datagram says it: the connection path takes either. */
  readonly v6 = false;
  get version(): number { return this.buf[this.off] >> 4; }
  get headerLength(): number { return (this.buf[this.off] & 0x0f) * 4; }
  get totalLength(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  set totalLength(v: number) { this.buf[this.off + 2] = v >> 8; this.buf[this.off + 3] = v; }
  get identification(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  set identification(v: number) { this.buf[this.off + 4] = v >> 8; this.buf[this.off + 5] = v; }
  get dontFragment(): boolean { return (this.buf[this.off + 6] & 0x40) !== 0; }
  get moreFragments(): boolean { return (this.buf[this.off + 6] & 0x20) !== 0; }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number { return (((this.buf[this.off + 6] & 0x1f) << 8) | this.buf[this.off + 7]) * 8; }
  get isFragment(): boolean { return this.moreFragments || this.fragmentOffset !== 0; }
  get ttl(): number { return this.buf[this.off + 8]; }
  set ttl(v: number) { this.buf[this.off + 8] = v; }
  get protocol(): number { return this.buf[this.off + 9]; }
  get checksum(): number { return (this.buf[this.off + 10] << 8) | this.buf[this.off + 11]; }
  set checksum(v: number) { this.buf[this.off + 10] = v >> 8; this.buf[this.off + 11] = v; }
  get src(): number { return readU32(this.buf, this.off + 12); }
  set src(v: number) { writeU32(this.buf, this.off + 12, v); }
  get dst(): number { return readU32(this.buf, this.off + 16); }
  set dst(v: number) { writeU32(this.buf, this.off + 16, v); }
  get payloadOffset(): number { return this.off + this.headerLength; }
  get payloadLength(): number { return this.totalLength - this.headerLength; }

  check(verifyChecksum = true): Ipv4Error {
    if (this.len < IPV4_MIN_HEADER) return Ipv4Error.Truncated;
    if (this.version !== 4) return Ipv4Error.Version;
    const hl = this.headerLength;
    if (hl < IPV4_MIN_HEADER || hl > this.len) return Ipv4Error.HeaderLength;
    const tl = this.totalLength;
    if (tl < hl || tl > this.len) return Ipv4Error.TotalLength;
    if (verifyChecksum && fold(sumWords(this.buf, this.off, hl)) !== 0xffff) return Ipv4Error.Checksum;
    return Ipv4Error.None;
  }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finish(sumWords(this.buf, this.off, this.headerLength));
  }

  /** The source as a connection holds it: IPv4 addresses need no reference (ip6-datagram.ts does). */
  holdSrc(): number {
    return this.src;
  }

  /** The sum of both addresses' words: their share of the pseudo-header (as Ipv6Datagram's). */
  addressSum(): number {
    const s = this.src;
    const d = this.dst;
    return (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff);
  }

  /** Rewrites the source address, keeping the header checksum right without summing the header. */
  rewriteSrc(v: number): void {
    this.checksum = update32(this.checksum, this.src, v);
    this.src = v;
  }

  rewriteDst(v: number): void {
    this.checksum = update32(this.checksum, this.dst, v);
    this.dst = v;
  }

  /** TTL shares a 16-bit word with the protocol number. */
  decrementTtl(): void {
    const before = (this.ttl << 8) | this.protocol;
    this.ttl = this.ttl - 1;
    this.checksum = update16(this.checksum, before, (this.ttl << 8) | this.protocol);
  }
}

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** The parsed form of an IPv4 header without options: what tests and generated datagrams need. */
export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  payloadLength: number;
  ttl: number;
  identification: number;
  dontFragment: boolean;
}

export function parseIpv4(v: Ipv4View): Ipv4Repr {
  return {
    src: v.src,
    dst: v.dst,
    protocol: v.protocol,
    payloadLength: v.payloadLength,
    ttl: v.ttl,
    identification: v.identification,
    dontFragment: v.dontFragment,
  };
}

/** Writes a 20-byte header at buf[off] and returns its length. */
export function emitIpv4(r: Ipv4Repr, buf: Uint8Array, off: number): number {
  buf[off] = 0x45;
  buf[off + 1] = 0;
  const tl = IPV4_MIN_HEADER + r.payloadLength;
  buf[off + 2] = tl >> 8;
  buf[off + 3] = tl;
  buf[off + 4] = r.identification >> 8;
  buf[off + 5] = r.identification;
  buf[off + 6] = r.dontFragment ? 0x40 : 0;
  buf[off + 7] = 0;
  buf[off + 8] = r.ttl;
  buf[off + 9] = r.protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeU32(buf, off + 12, r.src);
  writeU32(buf, off + 16, r.dst);
  const c = finish(sumWords(buf, off, IPV4_MIN_HEADER));
  buf[off + 10] = c >> 8;
  buf[off + 11] = c;
  return IPV4_MIN_HEADER;
}
