import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, IF_TSRESOL } from '../../../appliance/wire/pcapng';

/**
 * Capture files built by the tests themselves, byte by byte after the formats' specifications
 * (pcap: draft-ietf-opsawg-pcap; pcapng: draft-ietf-opsawg-pcapng), so that replay's reader is
 * checked against the formats rather than against itself: the layout is written here, and
 * only pcapng's numbers come from the one list (wire/pcapng.ts).
 */
export interface Frame {
  /** Seconds since the epoch. */
  time: number;
  /** An IPv4 or IPv6 datagram. */
  ip: Buffer;
}

/** `ipv6`: LINKTYPE_IPV6, IPv6 datagrams only; `null`: BSD loopback as a FreeBSD host writes it (little-endian family). */
export type Link = 'ethernet' | 'sll' | 'sll2' | 'raw' | 'ipv6' | 'null';
const LINKTYPE: Record<Link, number> = { ethernet: 1, sll: 113, sll2: 276, raw: 101, ipv6: 229, null: 0 };

/** The datagram in `link`'s framing: EtherType (and the cooked headers' protocol) 0x0800 or 0x86dd by its version. */
export function frame(link: Link, ip: Buffer): Buffer {
  const v6 = ip[0] >> 4 === 6;
  const type = v6 ? 0x86dd : 0x0800;
  switch (link) {
    case 'raw':
    case 'ipv6':
      return ip;
    case 'null':
      return Buffer.concat([Buffer.from([v6 ? 28 : 2, 0, 0, 0]), ip]);
    case 'ethernet':
      return Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([type >> 8, type & 0xff]), ip]);
    case 'sll': {
      // packet type 4 (sent by us), ARPHRD_ETHER, address length 6, address (8 bytes), protocol.
      const h = Buffer.alloc(16);
      h.writeUInt16BE(4, 0);
      h.writeUInt16BE(1, 2);
      h.writeUInt16BE(6, 4);
      Buffer.from('020000000002', 'hex').copy(h, 6);
      h.writeUInt16BE(type, 14);
      return Buffer.concat([h, ip]);
    }
    case 'sll2': {
      // protocol, reserved, interface index, ARPHRD_ETHER, packet type, address length, address.
      const h = Buffer.alloc(20);
      h.writeUInt16BE(type, 0);
      h.writeUInt32BE(2, 4);
      h.writeUInt16BE(1, 8);
      h[10] = 4;
      h[11] = 6;
      Buffer.from('020000000002', 'hex').copy(h, 12);
      return Buffer.concat([h, ip]);
    }
  }
}

/** A classic pcap file: either byte order, micro- or nanosecond timestamps, an optional snap length that cuts frames. */
export function pcap(frames: Frame[], o: { link?: Link; bigEndian?: boolean; nano?: boolean; snap?: number } = {}): Buffer {
  const link = o.link ?? 'ethernet';
  const be = o.bigEndian ?? false;
  const u32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v >>> 0, at) : b.writeUInt32LE(v >>> 0, at));
  const u16 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const h = Buffer.alloc(24);
  u32(h, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(h, 2, 4);
  u16(h, 4, 6);
  u32(h, o.snap ?? 262144, 16);
  u32(h, LINKTYPE[link], 20);
  const parts: Buffer[] = [h];
  for (const f of frames) {
    const data = frame(link, f.ip);
    const kept = data.subarray(0, Math.min(data.length, o.snap ?? Infinity));
    const r = Buffer.alloc(16);
    const sec = Math.floor(f.time);
    u32(r, sec, 0);
    u32(r, Math.round((f.time - sec) * (o.nano ? 1e9 : 1e6)), 4);
    u32(r, kept.length, 8);
    u32(r, data.length, 12);
    parts.push(r, kept);
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const b = Buffer.alloc(12 + padded.length);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(b.length, 4);
  padded.copy(b, 8);
  b.writeUInt32LE(b.length, b.length - 4);
  return b;
}

/** A pcapng file (little-endian): a section header, one interface with if_tsresol 10^-9, enhanced packet blocks. */
export function pcapng(frames: Frame[], o: { link?: Link } = {}): Buffer {
  const link = o.link ?? 'ethernet';
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const idb = Buffer.alloc(8 + 8 + 4);
  idb.writeUInt16LE(LINKTYPE[link], 0);
  idb.writeUInt32LE(262144, 4);
  idb.writeUInt16LE(IF_TSRESOL, 8);
  idb.writeUInt16LE(1, 10);
  idb[12] = 9; // 10^-9
  // opt_endofopt: 4 zero bytes
  const parts: Buffer[] = [block(BLOCK_SHB, shb), block(BLOCK_IDB, idb)];
  // A custom block (a kind replay does not know) is skipped.
  parts.push(block(0x00000bad, Buffer.from('skip me')));
  for (const f of frames) {
    const data = frame(link, f.ip);
    const ns = BigInt(Math.round(f.time * 1e6)) * 1000n;
    const e = Buffer.alloc(20);
    e.writeUInt32LE(0, 0);
    e.writeUInt32LE(Number(ns >> 32n), 4);
    e.writeUInt32LE(Number(ns & 0xffffffffn), 8);
    e.writeUInt32LE(data.length, 12);
    e.writeUInt32LE(data.length, 16);
    parts.push(block(BLOCK_EPB, Buffer.concat([e, data])));
  }
  return Buffer.concat(parts);
}
