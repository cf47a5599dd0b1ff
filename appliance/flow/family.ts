import type { PacketPool } from '../device/packet-pool';
import { finish, sumWords } from '../wire/checksum';
import type { IpDatagram } from '../wire/ip';
import { IPV4_MIN_HEADER, PROTO_TCP, writeU32 } from '../wire/ipv4';
import { emitIpv6Header } from './segment-builder';
import { IPV6_HEADER } from '../wire/ipv6';
import type { TcpView } from '../wire/tcp';

// virtio-net's GSO types (linux/virtio_net.h); the ECN bit rides along.
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_ECN = 0x80;

/**
 * A connection whose legs are of different families (an IPv6 client carried by a server
 * reached over IPv4, or the other way): each segment the splice forwards gets the other
 * family's header in place of its own, as a stateful translator (RFC 7915 4 and 5, for TCP
 * only) would write it: traffic class and TOS, hop limit and TTL carried over, DF set, no
 * extension headers or options. The TCP checksum was already moved to the new addresses
 * (splice.ts: the pseudo-header sums the same words whichever family holds them), so only
 * the segment moves: 20 bytes later or earlier in its slot.
 */
export class Reframer {
  private identification = 0;

  constructor(private readonly pool: PacketPool) {}

  /**
   * Rewrites the datagram in `slot` (viewed by `ip`, its TCP segment by `tcp`) as one of
   * `dst`'s family from `src` to `dst`; returns its new IP length, or -1 when the slot cannot
   * hold the longer header (the caller drops it).
   */
  reframe(slot: number, ip: IpDatagram, tcp: TcpView, src: number, dst: number): number {
    const pool = this.pool;
    const b = pool.buf;
    const base = pool.ipOffset(slot);
    const at = tcp.off;
    const n = tcp.len;
    const oldHeader = at - base;
    let header: number;
    if (!ip.v6) {
      header = IPV6_HEADER;
      if (header + n > pool.ipRoom(slot)) return -1;
      const tos = b[base + 1];
      const ttl = b[base + 8];
      b.copyWithin(base + header, at, at + n);
      emitIpv6Header(b, base, src, dst, PROTO_TCP, n, tos, ttl);
    } else {
      header = IPV4_MIN_HEADER;
      const tc = ((b[base] & 0x0f) << 4) | (b[base + 1] >> 4);
      const hops = b[base + 7];
      b.copyWithin(base + header, at, at + n);
      const total = header + n;
      const id = (this.identification = (this.identification + 1) & 0xffff);
      b[base] = 0x45;
      b[base + 1] = tc;
      b[base + 2] = total >> 8;
      b[base + 3] = total;
      b[base + 4] = id >> 8;
      b[base + 5] = id;
      b[base + 6] = 0x40; // DF: RFC 7915 5.1, the IPv6 sender did path MTU discovery
      b[base + 7] = 0;
      b[base + 8] = hops;
      b[base + 9] = PROTO_TCP;
      b[base + 10] = 0;
      b[base + 11] = 0;
      writeU32(b, base + 12, src);
      writeU32(b, base + 16, dst);
      const c = finish(sumWords(b, base, IPV4_MIN_HEADER));
      b[base + 10] = c >> 8;
      b[base + 11] = c;
    }
    // The offload metadata is relative to the IP header: the transport moved with it.
    const shift = header - oldHeader;
    if (pool.vnetFlags[slot] !== 0) pool.csumStart[slot] += shift;
    const gso = pool.gsoType[slot];
    if (gso !== 0) {
      pool.hdrLen[slot] += shift;
      pool.gsoType[slot] = (gso & GSO_ECN) | (header === IPV6_HEADER ? GSO_TCPV6 : GSO_TCPV4);
    }
    return header + n;
  }
}
