import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, IF_NAME, OPT_COMMENT, OPT_ENDOFOPT, SHB_USERAPPL } from '../wire/pcapng';

/**
 * The pcapng blocks the drop capture writes (draft-ietf-opsawg-pcapng, "PCAP Now Generic"),
 * little-endian (the Section Header Block's byte-order magic tells readers so), each encoded
 * into the caller's buffer: a Section Header Block (4.1), one Interface Description Block per
 * device (4.2) and an Enhanced Packet Block (4.3) per packet with an opt_comment (3.5.1)
 * saying why it was dropped. Every block and option value is padded to 32 bits.
 */

/** EPB bytes besides the packet and the comment: the fixed part (28), comment option header (4), end of options (4), trailer (4). */
const EPB_OVERHEAD = 40;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** An option's bytes: code, length, value padded. */
function optionLength(value: Uint8Array): number {
  return 4 + pad4(value.length);
}

function writeOption(b: Buffer, o: number, code: number, value: Uint8Array): number {
  b.writeUInt16LE(code, o);
  b.writeUInt16LE(value.length, o + 2);
  b.set(value, o + 4);
  b.fill(0, o + 4 + value.length, o + optionLength(value));
  return o + optionLength(value);
}

function endOptions(b: Buffer, o: number): number {
  b.writeUInt32LE(OPT_ENDOFOPT, o);
  return o + 4;
}

/** A Section Header Block naming the application; section length unspecified (-1), as a file written as it goes must. */
export function shbLength(userAppl: Uint8Array): number {
  return 24 + optionLength(userAppl) + 4 + 4;
}

export function writeShb(b: Buffer, o: number, userAppl: Uint8Array): number {
  const len = shbLength(userAppl);
  b.writeUInt32LE(BLOCK_SHB, o);
  b.writeUInt32LE(len, o + 4);
  b.writeUInt32LE(BYTE_ORDER_MAGIC, o + 8);
  b.writeUInt16LE(1, o + 12); // major version
  b.writeUInt16LE(0, o + 14); // minor version
  b.writeInt32LE(-1, o + 16); // section length, 64 bits of -1
  b.writeInt32LE(-1, o + 20);
  let p = writeOption(b, o + 24, SHB_USERAPPL, userAppl);
  p = endOptions(b, p);
  b.writeUInt32LE(len, p);
  return o + len;
}

/** An Interface Description Block: link type, snap length, if_name; timestamps in the default microseconds. */
export function idbLength(name: Uint8Array): number {
  return 16 + optionLength(name) + 4 + 4;
}

export function writeIdb(b: Buffer, o: number, linkType: number, snaplen: number, name: Uint8Array): number {
  const len = idbLength(name);
  b.writeUInt32LE(BLOCK_IDB, o);
  b.writeUInt32LE(len, o + 4);
  b.writeUInt16LE(linkType, o + 8);
  b.writeUInt16LE(0, o + 10); // reserved
  b.writeUInt32LE(snaplen, o + 12);
  let p = writeOption(b, o + 16, IF_NAME, name);
  p = endOptions(b, p);
  b.writeUInt32LE(len, p);
  return o + len;
}

/** An EPB's length for `captured` bytes of packet and a `commentLength`-byte comment. */
export function epbLength(captured: number, commentLength: number): number {
  return EPB_OVERHEAD + pad4(captured) + pad4(commentLength);
}

/**
 * Writes an EPB's fixed part at `o` (block type, length, interface, timestamp, captured and
 * original lengths) for a packet of `captured` bytes and a comment of `commentLength`; the
 * caller then puts the packet at `o + 28` and the comment with `writeEpbTail`. Plain integer
 * writes: this runs once per dropped packet.
 */
export function writeEpbHead(b: Buffer, o: number, iface: number, micros: number, captured: number, original: number, commentLength: number): void {
  const len = epbLength(captured, commentLength);
  b.writeUInt32LE(BLOCK_EPB, o);
  b.writeUInt32LE(len, o + 4);
  b.writeUInt32LE(iface, o + 8);
  b.writeUInt32LE(Math.floor(micros / 0x100000000), o + 12);
  b.writeUInt32LE(micros % 0x100000000, o + 16);
  b.writeUInt32LE(captured, o + 20);
  b.writeUInt32LE(original, o + 24);
}

/**
 * After the packet (at `o + 28`, `captured` bytes) and the comment's value (at the offset
 * `commentAt` returns, `commentLength` bytes) are in place: the padding, the comment option's
 * header, the end of options and the trailer. Returns the offset after the block.
 */
export function writeEpbTail(b: Buffer, o: number, captured: number, commentLength: number): number {
  const data = o + 28;
  b.fill(0, data + captured, data + pad4(captured));
  const opt = data + pad4(captured);
  b.writeUInt16LE(OPT_COMMENT, opt);
  b.writeUInt16LE(commentLength, opt + 2);
  b.fill(0, opt + 4 + commentLength, opt + 4 + pad4(commentLength));
  const end = opt + 4 + pad4(commentLength);
  b.writeUInt32LE(OPT_ENDOFOPT, end);
  const len = epbLength(captured, commentLength);
  b.writeUInt32LE(len, end + 4);
  return o + len;
}

/** Where an EPB's comment value goes, for a packet of `captured` bytes. */
export function commentAt(o: number, captured: number): number {
  return o + 28 + pad4(captured) + 4;
}
