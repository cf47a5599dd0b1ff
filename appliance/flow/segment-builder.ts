import { randomFillSync } from 'node:crypto';
import type { PacketPool } from '../device/packet-pool';
import { emitIpv4, IPV4_MIN_HEADER, PROTO_TCP, type Ipv4Repr } from '../wire/ipv4';
import { isV6, writeAddress } from '../addr/address';
import { IPV6_HEADER } from '../wire/ipv6';
import { emitTcp, optionsLength, TCP_MIN_HEADER, type TcpRepr } from '../wire/tcp';

/** RFC 8200 3's fixed header, from address numbers: no flow label; by default the hop limit Linux uses (64). */
export function emitIpv6Header(buf: Uint8Array, off: number, src: number, dst: number, nextHeader: number, payloadLength: number, trafficClass = 0, hopLimit = 64): void {
  buf[off] = 0x60 | (trafficClass >> 4);
  buf[off + 1] = (trafficClass & 0x0f) << 4;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = payloadLength >> 8;
  buf[off + 5] = payloadLength;
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  writeAddress(src, buf, off + 8);
  writeAddress(dst, buf, off + 24);
}

/**
 * Builds the segments the appliance sends as a TCP peer itself: its SYN-ACK and ACKs to the
 * client, SOCKS5 method replies and failure replies, its SYN to the server and the replay of
 * the client's handshake, over IPv4 or IPv6 as its addresses are. Each goes into a fresh pool
 * slot; the repr objects are reused.
 */
export class SegmentBuilder {
  private readonly ip: Ipv4Repr = { src: 0, dst: 0, protocol: PROTO_TCP, payloadLength: 0, ttl: 64, identification: 0, dontFragment: true };
  private readonly tcp: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, mss: -1, wscale: -1, sackPermitted: false };
  private readonly random = new Uint32Array(256);
  private randomLeft = 0;
  private identification = 0;
  /** IP length of the segment `build` made last. */
  lastLength = 0;

  constructor(private readonly pool: PacketPool) {}

  /** An initial sequence number (RFC 6528 asks for unpredictable ones). */
  isn(): number {
    if (this.randomLeft === 0) {
      randomFillSync(this.random);
      this.randomLeft = this.random.length;
    }
    return this.random[--this.randomLeft];
  }

  /**
   * Writes a segment into a new slot; returns the slot, or -1 when the pool is exhausted.
   * `length` is left in `lastLength` (IP bytes). SYN options are given by mss/wscale/sack.
   */
  build(
    src: number, srcPort: number, dst: number, dstPort: number,
    seq: number, ack: number, flags: number, window: number,
    payload?: Buffer, payloadOffset = 0, payloadLength = 0,
    mss = -1, wscale = -1, sackPermitted = false,
  ): number {
    const slot = this.pool.take();
    if (slot < 0) return -1;
    const t = this.tcp;
    t.srcPort = srcPort;
    t.dstPort = dstPort;
    t.seq = seq >>> 0;
    t.ack = ack >>> 0;
    t.flags = flags;
    t.window = window;
    t.mss = mss;
    t.wscale = wscale;
    t.sackPermitted = sackPermitted;
    const hl = TCP_MIN_HEADER + optionsLength(t);
    const base = this.pool.ipOffset(slot);
    const buf = this.pool.buf;
    const v6 = isV6(src);
    const iphl = v6 ? IPV6_HEADER : IPV4_MIN_HEADER;
    if (payload && payloadLength > 0) payload.copy(buf, base + iphl + hl, payloadOffset, payloadOffset + payloadLength);
    if (v6) {
      emitIpv6Header(buf, base, src, dst, PROTO_TCP, hl + payloadLength);
    } else {
      const r = this.ip;
      r.src = src;
      r.dst = dst;
      r.payloadLength = hl + payloadLength;
      r.identification = this.identification = (this.identification + 1) & 0xffff;
      emitIpv4(r, buf, base);
    }
    emitTcp(t, buf, base + iphl, src, dst, payloadLength);
    this.lastLength = iphl + hl + payloadLength;
    return slot;
  }
}
