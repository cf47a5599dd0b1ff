import { emitIpv4, IPV4_MIN_HEADER, PROTO_TCP } from '../../../appliance/wire/ipv4';
import { emitTcp, optionsLength, TCP_MIN_HEADER, type TcpRepr } from '../../../appliance/wire/tcp';
import { finish, pseudoHeaderSum, sumWords } from '../../../appliance/wire/checksum';

export const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

export function tcpRepr(over: Partial<TcpRepr>): TcpRepr {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, mss: -1, wscale: -1, sackPermitted: false, ...over };
}

/** An IPv4+TCP datagram built from scratch, with any raw options appended after the repr's. */
export function segment(src: number, dst: number, t: TcpRepr, payload: Uint8Array = new Uint8Array(0), rawOptions: number[] = [], ttl = 64): Buffer {
  const hl = TCP_MIN_HEADER + optionsLength(t) + rawOptions.length;
  const b = Buffer.alloc(IPV4_MIN_HEADER + hl + payload.length);
  b.set(payload, IPV4_MIN_HEADER + hl);
  emitIpv4({ src, dst, protocol: PROTO_TCP, payloadLength: hl + payload.length, ttl, identification: 1, dontFragment: true }, b, 0);
  emitTcp(t, b, IPV4_MIN_HEADER, src, dst, payload.length);
  if (rawOptions.length) {
    // Put the raw options after the repr's, fix the data offset and the checksum.
    const at = IPV4_MIN_HEADER + TCP_MIN_HEADER + optionsLength(t);
    b.set(rawOptions, at);
    b[IPV4_MIN_HEADER + 12] = (hl / 4) << 4;
    b[IPV4_MIN_HEADER + 16] = 0;
    b[IPV4_MIN_HEADER + 17] = 0;
    const len = hl + payload.length;
    const c = finish(sumWords(b, IPV4_MIN_HEADER, len, pseudoHeaderSum(src, dst, 6, len)));
    b[IPV4_MIN_HEADER + 16] = c >> 8;
    b[IPV4_MIN_HEADER + 17] = c;
  }
  return b;
}

/** An IPv4+UDP datagram built from scratch (checksum computed; `checksum: false` sends none). */
export function udpDatagram(src: number, dst: number, srcPort: number, dstPort: number, payload: Uint8Array, o: { ttl?: number; id?: number; checksum?: boolean } = {}): Buffer {
  const len = 8 + payload.length;
  const b = Buffer.alloc(IPV4_MIN_HEADER + len);
  emitIpv4({ src, dst, protocol: 17, payloadLength: len, ttl: o.ttl ?? 64, identification: o.id ?? 1, dontFragment: true }, b, 0);
  const u = IPV4_MIN_HEADER;
  b.writeUInt16BE(srcPort, u);
  b.writeUInt16BE(dstPort, u + 2);
  b.writeUInt16BE(len, u + 4);
  b.set(payload, u + 8);
  if (o.checksum !== false) b.writeUInt16BE(finish(sumWords(b, u, len, pseudoHeaderSum(src, dst, 17, len))) || 0xffff, u + 6);
  return b;
}

/** An ICMP error (type, code) from `src` to `dst` quoting `about`'s header and first `quote` bytes of data. */
export function icmpError(src: number, dst: number, type: number, code: number, about: Uint8Array, quote = 8, ttl = 64): Buffer {
  const hl = (about[0] & 0x0f) * 4;
  const quoted = about.subarray(0, Math.min(about.length, hl + quote));
  const len = 8 + quoted.length;
  const b = Buffer.alloc(IPV4_MIN_HEADER + len);
  emitIpv4({ src, dst, protocol: 1, payloadLength: len, ttl, identification: 7, dontFragment: false }, b, 0);
  b[IPV4_MIN_HEADER] = type;
  b[IPV4_MIN_HEADER + 1] = code;
  b.set(quoted, IPV4_MIN_HEADER + 8);
  b.writeUInt16BE(finish(sumWords(b, IPV4_MIN_HEADER, len)), IPV4_MIN_HEADER + 2);
  return b;
}
