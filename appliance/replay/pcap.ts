import type { ByteReader } from './byte-reader';
import { CaptureError, RECORD_MAX, truncated, type CaptureInfo, type CapturePacket } from './capture-file';

/** The classic pcap magic numbers as read little-endian: this byte order or the other, micro- or nanoseconds. */
const MICRO = 0xa1b2c3d4;
const NANO = 0xa1b23c4d;
const MICRO_SWAPPED = 0xd4c3b2a1;
const NANO_SWAPPED = 0x4d3cb2a1;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;

/**
 * The classic pcap format (what `tcpdump -w` writes; draft-ietf-opsawg-pcap): a 24-byte file
 * header whose magic gives the byte order and the timestamps' unit, then records of a 16-byte
 * header (seconds, fraction, captured length, original length) and the captured bytes.
 * `magic` is the file's first four bytes, already taken; returns undefined when they are not
 * a pcap magic (nothing more is read then).
 */
export function readPcap(r: ByteReader, path: string, magic: number, p: CapturePacket, onPacket: (p: CapturePacket) => void): CaptureInfo | undefined {
  let le: boolean;
  if (magic === MICRO || magic === NANO) le = true;
  else if (magic === MICRO_SWAPPED || magic === NANO_SWAPPED) le = false;
  else return undefined;
  const unit = magic === NANO || magic === NANO_SWAPPED ? 1e-9 : 1e-6;
  const rest = FILE_HEADER - 4;
  const h = r.take(rest);
  if (h < 0) throw truncated(path, 'the pcap file header', 0, FILE_HEADER, 4 + r.available(rest));
  const b = r.buf;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  // Offsets from the file's byte 4: version (4), thiszone (4), sigfigs (4), snaplen (4), link type (4).
  const major = le ? b.readUInt16LE(h) : b.readUInt16BE(h);
  if (major !== 2) throw new CaptureError(`${path}: pcap version ${major} is not 2, the only one there is`);
  // The link type's upper bits say whether frames carry an FCS; the type is the low 16.
  const linkType = u32(h + 16) & 0xffff;
  p.linkType = linkType;
  let records = 0;
  for (;;) {
    if (r.atEnd()) break;
    const at = r.position;
    const o = r.take(RECORD_HEADER);
    if (o < 0) throw truncated(path, `record ${records + 1}'s header`, at, RECORD_HEADER, r.available(RECORD_HEADER));
    const sec = u32(o);
    const frac = u32(o + 4);
    const caplen = u32(o + 8);
    const origlen = u32(o + 12);
    if (caplen > RECORD_MAX) throw new CaptureError(`${path}: record ${records + 1} at byte ${at} claims ${caplen} bytes: the file is damaged`);
    const d = r.take(caplen);
    if (d < 0) throw truncated(path, `record ${records + 1}`, at, RECORD_HEADER + caplen, RECORD_HEADER + r.available(caplen));
    records++;
    p.buf = r.buf;
    p.off = d;
    p.length = caplen;
    p.originalLength = origlen;
    p.time = sec + frac * unit;
    p.index = records;
    onPacket(p);
  }
  return { format: 'pcap', records, linkTypes: [linkType] };
}
