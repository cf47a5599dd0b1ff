import type { ByteReader } from './byte-reader';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_OPB, BLOCK_SHB, BLOCK_SPB, BYTE_ORDER_MAGIC, BYTE_ORDER_MAGIC_SWAPPED, IF_TSRESOL, OPT_ENDOFOPT } from '../wire/pcapng';
import { CaptureError, RECORD_MAX, truncated, type CaptureInfo, type CapturePacket } from './capture-file';

interface Interface {
  linkType: number;
  snapLength: number;
  /** Timestamp units per second (if_tsresol; microseconds by default). */
  perSecond: number;
}

/**
 * pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body, total length again.
 * Section headers (each gives its byte order and starts the interface numbering afresh),
 * interface descriptions (link type, snap length, if_tsresol), and the packet blocks: enhanced
 * (4.3), simple (4.4) and the obsolete packet block; other blocks are skipped. The SHB's type is
 * already taken.
 */
export function readPcapng(r: ByteReader, path: string, p: CapturePacket, onPacket: (p: CapturePacket) => void): CaptureInfo {
  let le = true;
  let interfaces: Interface[] = [];
  const linkTypes: number[] = [];
  let records = 0;
  let blockAt = 0;
  let type = BLOCK_SHB;
  const b = () => r.buf;
  const u32 = (o: number) => (le ? r.buf.readUInt32LE(o) : r.buf.readUInt32BE(o));
  const u16 = (o: number) => (le ? r.buf.readUInt16LE(o) : r.buf.readUInt16BE(o));
  for (;;) {
    if (type === BLOCK_SHB) {
      // The length comes before the byte-order magic that says how to read it.
      const o = r.take(8);
      if (o < 0) throw truncated(path, 'a section header block', blockAt, 12, 4 + r.available(8));
      const magic = b().readUInt32LE(o + 4);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === BYTE_ORDER_MAGIC_SWAPPED) le = false;
      else throw new CaptureError(`${path}: not a pcapng capture: the section header at byte ${blockAt} has no byte-order magic`);
      const length = u32(o);
      if (length < 28 || length % 4 !== 0 || length > RECORD_MAX) throw damaged(path, blockAt, length);
      if (!r.skip(length - 12)) throw truncated(path, 'a section header block', blockAt, length, 12 + r.available(length - 12));
      interfaces = [];
    } else {
      const o = r.take(4);
      if (o < 0) throw truncated(path, 'a block header', blockAt, 8, 4 + r.available(4));
      const length = u32(o);
      if (length < 12 || length % 4 !== 0 || length > RECORD_MAX) throw damaged(path, blockAt, length);
      const body = length - 12;
      const d = r.take(body + 4);
      if (d < 0) throw truncated(path, `block ${blockTypeName(type)}`, blockAt, length, 8 + r.available(body + 4));
      if (type === BLOCK_IDB) {
        if (body < 8) throw damaged(path, blockAt, length);
        const ifc: Interface = { linkType: u16(d), snapLength: u32(d + 4), perSecond: 1e6 };
        // Options: code, length, value padded to 4 bytes; opt_endofopt ends them.
        for (let q = d + 8; q + 4 <= d + body;) {
          const code = u16(q);
          const n = u16(q + 2);
          if (code === OPT_ENDOFOPT) break;
          if (code === IF_TSRESOL && n >= 1) {
            const v = b()[q + 4];
            ifc.perSecond = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
          }
          q += 4 + ((n + 3) & ~3);
        }
        interfaces.push(ifc);
        linkTypes.push(ifc.linkType);
      } else if (type === BLOCK_EPB || type === BLOCK_OPB || type === BLOCK_SPB) {
        let ifc: number;
        let high = 0;
        let low = 0;
        let caplen: number;
        let origlen: number;
        let data: number;
        if (type === BLOCK_SPB) {
          if (body < 4) throw damaged(path, blockAt, length);
          ifc = 0;
          origlen = u32(d);
          caplen = Math.min(origlen, body - 4, interfaces[0]?.snapLength || Infinity);
          data = d + 4;
        } else {
          if (body < 20) throw damaged(path, blockAt, length);
          ifc = type === BLOCK_EPB ? u32(d) : u16(d);
          high = u32(d + 4);
          low = u32(d + 8);
          caplen = u32(d + 12);
          origlen = u32(d + 16);
          data = d + 20;
          if (caplen > body - 20) throw damaged(path, blockAt, length);
        }
        const i = interfaces[ifc];
        if (i === undefined) throw new CaptureError(`${path}: the packet block at byte ${blockAt} names interface ${ifc}, which no interface block described`);
        records++;
        p.buf = b();
        p.off = data;
        p.length = caplen;
        p.originalLength = origlen;
        p.time = (high * 4294967296 + low) / i.perSecond;
        p.linkType = i.linkType;
        p.index = records;
        onPacket(p);
      }
    }
    if (r.atEnd()) break;
    blockAt = r.position;
    const t = r.take(4);
    if (t < 0) throw truncated(path, 'a block header', blockAt, 8, r.available(4));
    type = u32(t);
  }
  return { format: 'pcapng', records, linkTypes };
}

function damaged(path: string, at: number, length: number): CaptureError {
  return new CaptureError(`${path}: the pcapng block at byte ${at} has length ${length}: the file is damaged`);
}

function blockTypeName(type: number): string {
  return type === BLOCK_IDB ? 'interface description' : type === BLOCK_EPB ? 'enhanced packet' : type === BLOCK_SPB ? 'simple packet' : `0x${type.toString(16)}`;
}
