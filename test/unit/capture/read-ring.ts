import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { readCapture } from '../../../appliance/replay/capture-file';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, IF_NAME, LINKTYPE_ETHERNET, OPT_COMMENT, OPT_ENDOFOPT } from '../../../appliance/wire/pcapng';

export interface Epb { iface: number; micros: number; captured: number; original: number; data: Buffer; comment: string }
export interface Pcapng { interfaces: { linkType: number; snaplen: number; name: string }[]; packets: Epb[] }

/**
 * One file of the drop ring, read by replay's reader (so replay is proved to read what the
 * appliance writes: the packets, their lengths, times and link types), and walked once more
 * for what that reader skips: the options (if_name, opt_comment) and the strict layout of
 * what drop-capture.ts writes, which any reader would tolerate being otherwise.
 */
export function readRing(file: string): Pcapng {
  const packets: Epb[] = [];
  const info = readCapture(file, (p) => {
    packets.push({ iface: -1, micros: Math.round(p.time * 1e6), captured: p.length, original: p.originalLength, data: Buffer.from(p.buf.subarray(p.off, p.off + p.length)), comment: '' });
    // Every interface of the drop capture is Ethernet (drop-capture.ts says why).
    expect(p.linkType, 'link type').to.equal(LINKTYPE_ETHERNET);
  });
  const layout = walk(readFileSync(file));
  expect(info.format).to.equal('pcapng');
  expect(info.linkTypes).to.deep.equal(layout.interfaces.map((i) => i.linkType));
  expect(packets.length, 'the same packets either way').to.equal(layout.packets.length);
  packets.forEach((p, i) => {
    const l = layout.packets[i];
    expect([p.captured, p.original], `packet ${i + 1}'s lengths`).to.deep.equal([l.captured, l.original]);
    p.iface = l.iface;
    p.comment = l.comment;
  });
  return { interfaces: layout.interfaces, packets };
}

/** Options of a block: code -> value; each value's padding checked to be zeros, opt_endofopt last. */
function options(b: Buffer, from: number, to: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let o = from; o < to;) {
    const code = b.readUInt16LE(o);
    const len = b.readUInt16LE(o + 2);
    if (code === OPT_ENDOFOPT) {
      expect(len, 'opt_endofopt length').to.equal(0);
      expect(o + 4, 'opt_endofopt is last').to.equal(to);
      return out;
    }
    out.set(code, b.subarray(o + 4, o + 4 + len));
    const padded = (len + 3) & ~3;
    expect([...b.subarray(o + 4 + len, o + 4 + padded)].every((x) => x === 0), 'option padding is zeros').to.equal(true);
    o += 4 + padded;
  }
  throw new Error('options without opt_endofopt');
}

/**
 * The layout: one section, little-endian, its interfaces before any packet, only IDBs and
 * EPBs after the SHB, every length a multiple of 4 and repeated at the block's end, the
 * packet's padding zeros, and the options (the interface's name, the packet's comment).
 */
function walk(b: Buffer): { interfaces: Pcapng['interfaces']; packets: Omit<Epb, 'micros' | 'data'>[] } {
  const interfaces: Pcapng['interfaces'] = [];
  const packets: Omit<Epb, 'micros' | 'data'>[] = [];
  for (let o = 0; o < b.length;) {
    const type = b.readUInt32LE(o);
    const len = b.readUInt32LE(o + 4);
    expect(len % 4, 'block length is a multiple of 4').to.equal(0);
    expect(o + len, 'block within the file').to.be.at.most(b.length);
    expect(b.readUInt32LE(o + len - 4), 'trailing block length').to.equal(len);
    if (o === 0) {
      expect(type, 'first block is the SHB').to.equal(BLOCK_SHB);
      expect(b.readUInt32LE(o + 8), 'little-endian').to.equal(BYTE_ORDER_MAGIC);
    } else if (type === BLOCK_IDB) {
      expect(packets.length, 'interfaces come before packets').to.equal(0);
      const name = options(b, o + 16, o + len - 4).get(IF_NAME)?.toString() ?? '';
      interfaces.push({ linkType: b.readUInt16LE(o + 8), snaplen: b.readUInt32LE(o + 12), name });
    } else {
      expect(type, 'block type').to.equal(BLOCK_EPB);
      const captured = b.readUInt32LE(o + 20);
      const padded = (captured + 3) & ~3;
      expect([...b.subarray(o + 28 + captured, o + 28 + padded)].every((x) => x === 0), 'packet padding is zeros').to.equal(true);
      const comment = options(b, o + 28 + padded, o + len - 4).get(OPT_COMMENT)?.toString() ?? '';
      const iface = b.readUInt32LE(o + 8);
      expect(iface, 'interface id').to.be.below(interfaces.length);
      packets.push({ iface, captured, original: b.readUInt32LE(o + 24), comment });
    }
    o += len;
  }
  return { interfaces, packets };
}
