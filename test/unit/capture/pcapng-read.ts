import { expect } from 'chai';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB } from '../../../appliance/capture/pcapng';

export interface Epb { iface: number; micros: number; captured: number; original: number; data: Buffer; comment: string }
export interface Pcapng { interfaces: { linkType: number; snaplen: number; name: string }[]; packets: Epb[] }

/** Options of a block: code -> value; each value's padding checked to be zeros. */
function options(b: Buffer, from: number, to: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let o = from;
  while (o < to) {
    const code = b.readUInt16LE(o);
    const len = b.readUInt16LE(o + 2);
    if (code === 0) {
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
 * A strict reader of what drop-capture.ts writes: one section, little-endian, its interfaces
 * before any packet, every block's length a multiple of 4 and repeated at its end.
 */
export function readPcapng(b: Buffer): Pcapng {
  const r: Pcapng = { interfaces: [], packets: [] };
  let o = 0;
  let first = true;
  while (o < b.length) {
    const type = b.readUInt32LE(o);
    const len = b.readUInt32LE(o + 4);
    expect(len % 4, 'block length is a multiple of 4').to.equal(0);
    expect(o + len, 'block within the file').to.be.at.most(b.length);
    expect(b.readUInt32LE(o + len - 4), 'trailing block length').to.equal(len);
    if (first) {
      expect(type, 'first block is the SHB').to.equal(BLOCK_SHB);
      expect(b.readUInt32LE(o + 8)).to.equal(0x1a2b3c4d);
      first = false;
    } else if (type === BLOCK_IDB) {
      expect(r.packets.length, 'interfaces come before packets').to.equal(0);
      const name = options(b, o + 16, o + len - 4).get(2)?.toString() ?? '';
      r.interfaces.push({ linkType: b.readUInt16LE(o + 8), snaplen: b.readUInt32LE(o + 12), name });
    } else {
      expect(type, 'block type').to.equal(BLOCK_EPB);
      const captured = b.readUInt32LE(o + 20);
      const padded = (captured + 3) & ~3;
      const comment = options(b, o + 28 + padded, o + len - 4).get(1)?.toString() ?? '';
      expect(b.readUInt32LE(o + 8), 'interface id').to.be.below(r.interfaces.length);
      r.packets.push({
        iface: b.readUInt32LE(o + 8),
        micros: b.readUInt32LE(o + 12) * 2 ** 32 + b.readUInt32LE(o + 16),
        captured,
        original: b.readUInt32LE(o + 24),
        data: Buffer.from(b.subarray(o + 28, o + 28 + captured)),
        comment,
      });
    }
    o += len;
  }
  return r;
}
