import { emitIpv4, IPV4_MIN_HEADER, PROTO_TCP } from '../../../appliance/wire/ipv4';
import { emitTcp, optionsLength, TCP_MIN_HEADER, type TcpRepr } from '../../../appliance/wire/tcp';
import { finish, pseudoHeaderSum, sumWords } from '../../../appliance/wire/checksum';

export const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

export function tcpRepr(over: Partial<TcpRepr>): TcpRepr {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, mss: -1, wscale: -1, sackPermitted: false, ...over };
}

/** An IPv4+TCP datagram built from scratch, with any raw options appended after the repr's. */
export function segment(src: number, dst: number, t: TcpRepr, payload: Uint8Array = new Uint8Array(0), rawOptions: number[] = []): Buffer {
  const hl = TCP_MIN_HEADER + optionsLength(t) + rawOptions.length;
  const b = Buffer.alloc(IPV4_MIN_HEADER + hl + payload.length);
  b.set(payload, IPV4_MIN_HEADER + hl);
  emitIpv4({ src, dst, protocol: PROTO_TCP, payloadLength: hl + payload.length, ttl: 64, identification: 1, dontFragment: true }, b, 0);
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
