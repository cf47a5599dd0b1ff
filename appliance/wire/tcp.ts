import { finish, fold, pseudoHeaderSum, sumWords, update16, update32 } from './checksum';
import { readU32, writeU32 } from './ipv4';
import { WireView } from './view';
import { addressSum } from '../addr/address';

export const TCP_MIN_HEADER = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** The later of two sequence numbers (RFC 9293 3.4: compared modulo 2^32); `b` undefined: `a`. */
export function seqLater(a: number, b: number | undefined): number {
  return b === undefined || ((a - b) | 0) > 0 ? a : b;
}

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMP = 8;

export const enum TcpError {
  None = 0,
  Truncated,
  DataOffset,
}

/**
 * What a segment's options say, filled in place by `TcpView.readOptions` so parsing allocates
 * nothing. Offsets are absolute positions in the buffer, for in-place rewriting; -1 when absent.
 */
export class TcpOptions {
  mss = -1;
  wscale = -1;
  sackPermitted = false;
  /** Offset of the first SACK block (8 bytes each) and how many there are. */
  sackOffset = -1;
  sackBlocks = 0;
  /** Offset of the timestamp option's kind byte. */
  timestampOffset = -1;

  reset(): void {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.sackOffset = -1;
    this.sackBlocks = 0;
    this.timestampOffset = -1;
  }
}

/** A view over a TCP header (RFC 9293), re-pointed per segment like Ipv4View. */
export class TcpView extends WireView {
  /**
   * The checksum field is partial (offloaded: CHECKSUM_PARTIAL): it holds the folded
   * pseudo-header sum, not complemented, and the kernel sums header and payload later. Then
   * only address changes touch it, and with the sign the other way round.
   */
  partial = false;

  /** `len` is the segment length (header and payload), from the IP header. */
  override wrap(buf: Uint8Array, off: number, len: number, partial = false): this {
    super.wrap(buf, off, len);
    this.partial = partial;
    return this;
  }

  get srcPort(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  set srcPort(v: number) { this.buf[this.off] = v >> 8; this.buf[this.off + 1] = v; }
  get dstPort(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  set dstPort(v: number) { this.buf[this.off + 2] = v >> 8; this.buf[this.off + 3] = v; }
  get seq(): number { return readU32(this.buf, this.off + 4); }
  set seq(v: number) { writeU32(this.buf, this.off + 4, v); }
  get ack(): number { return readU32(this.buf, this.off + 8); }
  set ack(v: number) { writeU32(this.buf, this.off + 8, v); }
  get headerLength(): number { return (this.buf[this.off + 12] >> 4) * 4; }
  get flags(): number { return this.buf[this.off + 13] & 0x3f; }
  get window(): number { return (this.buf[this.off + 14] << 8) | this.buf[this.off + 15]; }
  set window(v: number) { this.buf[this.off + 14] = v >> 8; this.buf[this.off + 15] = v; }
  get checksum(): number { return (this.buf[this.off + 16] << 8) | this.buf[this.off + 17]; }
  set checksum(v: number) { this.buf[this.off + 16] = v >> 8; this.buf[this.off + 17] = v; }
  get payloadOffset(): number { return this.off + this.headerLength; }
  get payloadLength(): number { return this.len - this.headerLength; }
  /** Sequence space the segment occupies: payload, plus one each for SYN and FIN. */
  get seqLength(): number {
    const f = this.flags;
    return this.payloadLength + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);
  }

  check(): TcpError {
    if (this.len < TCP_MIN_HEADER) return TcpError.Truncated;
    const hl = this.headerLength;
    if (hl < TCP_MIN_HEADER || hl > this.len) return TcpError.DataOffset;
    return TcpError.None;
  }

  /** Verifies the checksum over pseudo-header, header and payload. */
  checksumValid(src: number, dst: number): boolean {
    return fold(sumWords(this.buf, this.off, this.len, pseudoHeaderSum(src, dst, 6, this.len))) === 0xffff;
  }

  fillChecksum(src: number, dst: number): void {
    this.checksum = 0;
    this.checksum = finish(sumWords(this.buf, this.off, this.len, pseudoHeaderSum(src, dst, 6, this.len)));
  }

  // Over IPv6 the pseudo-header is summed by the caller (pseudoHeaderSum6 over the datagram's
  // addresses, protocol 6, this.len), so the IPv4 methods above stay as they are.

  checksumValid6(pseudo: number): boolean {
    return fold(sumWords(this.buf, this.off, this.len, pseudo)) === 0xffff;
  }

  fillChecksum6(pseudo: number): void {
    this.checksum = 0;
    this.checksum = finish(sumWords(this.buf, this.off, this.len, pseudo));
  }

  /** Reads the options into `o`; false when they are malformed (truncated, bad lengths). */
  readOptions(o: TcpOptions): boolean {
    o.reset();
    const b = this.buf;
    const end = this.off + this.headerLength;
    let i = this.off + TCP_MIN_HEADER;
    while (i < end) {
      const kind = b[i];
      if (kind === OPT_END) break;
      if (kind === OPT_NOP) { i++; continue; }
      if (i + 1 >= end) return false;
      const len = b[i + 1];
      if (len < 2 || i + len > end) return false;
      switch (kind) {
        case OPT_MSS:
          if (len !== 4) return false;
          o.mss = (b[i + 2] << 8) | b[i + 3];
          break;
        case OPT_WSCALE:
          if (len !== 3) return false;
          o.wscale = Math.min(b[i + 2], 14);
          break;
        case OPT_SACK_PERMITTED:
          if (len !== 2) return false;
          o.sackPermitted = true;
          break;
        case OPT_SACK:
          if ((len - 2) % 8 !== 0 || len === 2) return false;
          o.sackOffset = i + 2;
          o.sackBlocks = (len - 2) / 8;
          break;
        case OPT_TIMESTAMP:
          if (len !== 10) return false;
          o.timestampOffset = i;
          break;
      }
      i += len;
    }
    return true;
  }

  // Incremental rewrites: each keeps the checksum right by RFC 1624 without re-summing.

  rewriteSrcPort(v: number): void {
    if (!this.partial) this.checksum = update16(this.checksum, this.srcPort, v);
    this.srcPort = v;
  }

  rewriteDstPort(v: number): void {
    if (!this.partial) this.checksum = update16(this.checksum, this.dstPort, v);
    this.dstPort = v;
  }

  rewriteSeq(v: number): void {
    if (!this.partial) this.checksum = update32(this.checksum, this.seq, v);
    this.seq = v;
  }

  rewriteAck(v: number): void {
    if (!this.partial) this.checksum = update32(this.checksum, this.ack, v);
    this.ack = v;
  }

  rewriteWindow(v: number): void {
    if (!this.partial) this.checksum = update16(this.checksum, this.window, v);
    this.window = v;
  }

  /**
   * Addresses are covered only through the pseudo-header; the IP layer rewrites them. A partial
   * field P is the complement of a full one, so P' = ~update(~P).
   */
  pseudoAddressChanged(from: number, to: number): void {
    this.checksum = this.partial ? ~update32(~this.checksum & 0xffff, from, to) & 0xffff : update32(this.checksum, from, to);
  }

  /**
   * The pseudo-header's addresses changed from words summing to `from` to words summing to
   * `to` (any number of words: the sums fold to the same ones' complement value).
   */
  pseudoSumChanged(from: number, to: number): void {
    const f = fold(from);
    const t = fold(to);
    this.checksum = this.partial ? ~update16(~this.checksum & 0xffff, f, t) & 0xffff : update16(this.checksum, f, t);
  }

  /** Adds `delta` to every edge of the SACK blocks at `o.sackOffset`. */
  shiftSack(o: TcpOptions, delta: number): void {
    let c = this.checksum;
    for (let k = 0, at = o.sackOffset; k < o.sackBlocks * 2; k++, at += 4) {
      const from = readU32(this.buf, at);
      const to = (from + delta) >>> 0;
      writeU32(this.buf, at, to);
      if (!this.partial) c = update32(c, from, to);
    }
    this.checksum = c;
  }

  /** Overwrites an option with NOPs: how a timestamp is stripped without moving the payload. */
  nopOut(at: number, length: number): void {
    if (this.partial) {
      this.buf.fill(OPT_NOP, at, at + length);
      return;
    }
    let c = this.checksum;
    const b = this.buf;
    // Update per aligned 16-bit word, relative to the header start.
    const start = at - ((at - this.off) & 1);
    const end = at + length;
    for (let w = start; w < end; w += 2) {
      const before = (b[w] << 8) | b[w + 1];
      if (w >= at) b[w] = OPT_NOP;
      if (w + 1 >= at && w + 1 < end) b[w + 1] = OPT_NOP;
      c = update16(c, before, (b[w] << 8) | b[w + 1]);
    }
    this.checksum = c;
  }
}

/** A segment the appliance writes itself: its own SYN-ACKs, ACKs, SOCKS replies, RSTs. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Options for SYN segments; -1/false leaves one out. */
  mss: number;
  wscale: number;
  sackPermitted: boolean;
}

export function optionsLength(r: TcpRepr): number {
  // MSS 4; NOP + WSCALE 4; NOP NOP SACK-PERMITTED 4.
  return (r.mss >= 0 ? 4 : 0) + (r.wscale >= 0 ? 4 : 0) + (r.sackPermitted ? 4 : 0);
}

/**
 * Writes header and options at buf[off]; the payload (`payloadLength` bytes) must already be
 * in place after the header. The checksum is computed over all of it, with the pseudo-header
 * of `src` and `dst`, address numbers of either family (addr/address.ts; RFC 8200 8.1's
 * pseudo-header sums to the same as IPv4's for the same words). Returns the header length.
 */
export function emitTcp(r: TcpRepr, buf: Uint8Array, off: number, src: number, dst: number, payloadLength: number): number {
  const hl = TCP_MIN_HEADER + optionsLength(r);
  buf[off] = r.srcPort >> 8;
  buf[off + 1] = r.srcPort;
  buf[off + 2] = r.dstPort >> 8;
  buf[off + 3] = r.dstPort;
  writeU32(buf, off + 4, r.seq);
  writeU32(buf, off + 8, r.ack);
  buf[off + 12] = (hl / 4) << 4;
  buf[off + 13] = r.flags;
  buf[off + 14] = r.window >> 8;
  buf[off + 15] = r.window;
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  buf[off + 18] = 0;
  buf[off + 19] = 0;
  let i = off + TCP_MIN_HEADER;
  if (r.mss >= 0) {
    buf[i++] = OPT_MSS; buf[i++] = 4; buf[i++] = r.mss >> 8; buf[i++] = r.mss;
  }
  if (r.wscale >= 0) {
    buf[i++] = OPT_NOP; buf[i++] = OPT_WSCALE; buf[i++] = 3; buf[i++] = r.wscale;
  }
  if (r.sackPermitted) {
    buf[i++] = OPT_NOP; buf[i++] = OPT_NOP; buf[i++] = OPT_SACK_PERMITTED; buf[i++] = 2;
  }
  const len = hl + payloadLength;
  const c = finish(sumWords(buf, off, len, addressSum(src) + addressSum(dst) + 6 + len));
  buf[off + 16] = c >> 8;
  buf[off + 17] = c;
  return hl;
}

/** The parsed form of a TCP header, for tests and logs. */
export function parseTcp(v: TcpView, o: TcpOptions): TcpRepr {
  v.readOptions(o);
  return {
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    seq: v.seq,
    ack: v.ack,
    flags: v.flags,
    window: v.window,
    mss: o.mss,
    wscale: o.wscale,
    sackPermitted: o.sackPermitted,
  };
}
