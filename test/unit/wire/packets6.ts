import { emitTcp, optionsLength, TCP_MIN_HEADER, type TcpRepr } from '../../../appliance/wire/tcp';

/**
 * IPv6 datagrams built from scratch for the wire tests, with a reference checksum of their own
 * (refChecksum over an explicit pseudo-header) rather than the library's sums under test.
 */

/** 16 bytes from IPv6 text, by plain expansion of `::` (an implementation apart from config/address.ts). */
export function a6(text: string): Buffer {
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

/** RFC 1071 done the obvious way: 16-bit words added with the end-around carry folded in at each step. */
export function refChecksum(...parts: Uint8Array[]): number {
  const bytes = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

/** RFC 8200 8.1's pseudo-header, byte by byte. */
export function pseudo6(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): Buffer {
  const b = Buffer.alloc(40);
  b.set(src, 0);
  b.set(dst, 16);
  b.writeUInt32BE(length, 32);
  b[39] = nextHeader;
  return b;
}

/** A 40-byte header followed by `payload` (extension headers included), hop limit 64, no traffic class or flow label. */
export function datagram6(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array, hopLimit = 64): Buffer {
  const b = Buffer.alloc(40 + payload.length);
  b[0] = 0x60;
  b.writeUInt16BE(payload.length, 4);
  b[6] = nextHeader;
  b[7] = hopLimit;
  b.set(src, 8);
  b.set(dst, 24);
  b.set(payload, 40);
  return b;
}

/** An options, routing or fragment header: next header, then `rest`, whose length makes it a multiple of 8. */
export function ext(nextHeader: number, rest: number[]): number[] {
  if ((2 + rest.length) % 8 !== 0) throw new Error(`extension header of ${2 + rest.length} bytes`);
  return [nextHeader, (2 + rest.length) / 8 - 1, ...rest];
}

/** An upper-layer message (TCP, UDP, ICMPv6) with its checksum, at `checksumAt` in it, set by the reference. */
export function withChecksum(src: Uint8Array, dst: Uint8Array, nextHeader: number, message: Uint8Array, checksumAt: number): Buffer {
  const m = Buffer.from(message);
  m.writeUInt16BE(0, checksumAt);
  m.writeUInt16BE(refChecksum(pseudo6(src, dst, nextHeader, m.length), m), checksumAt);
  return m;
}

/** IPv6 + TCP: the header laid out by emitTcp, the checksum by the reference. */
export function tcp6(src: Uint8Array, dst: Uint8Array, t: TcpRepr, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const hl = TCP_MIN_HEADER + optionsLength(t);
  const seg = Buffer.alloc(hl + payload.length);
  seg.set(payload, hl);
  emitTcp(t, seg, 0, 0, 0, payload.length);
  return datagram6(src, dst, 6, withChecksum(src, dst, 6, seg, 16));
}

/** IPv6 + UDP with the reference checksum. */
export function udp6(src: Uint8Array, dst: Uint8Array, srcPort: number, dstPort: number, payload: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(srcPort, 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(u.length, 4);
  u.set(payload, 8);
  return datagram6(src, dst, 17, withChecksum(src, dst, 17, u, 6));
}
