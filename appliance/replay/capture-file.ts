import { BLOCK_SHB } from '../wire/pcapng';
import { ByteReader } from './byte-reader';
import { readPcap } from './pcap';
import { readPcapng } from './pcapng';

/** Why a file cannot be read as a capture, worded for the operator (file first). */
export class CaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}

/** One record, re-pointed at each packet: its captured bytes are `buf[off, off + length)`. */
export class CapturePacket {
  buf: Buffer = Buffer.alloc(0);
  off = 0;
  length = 0;
  /** The packet's length on the wire; more than `length` when the snap length cut it. */
  originalLength = 0;
  /** Seconds since the epoch. */
  time = 0;
  /** The link type of the interface it was captured on (LINKTYPE_* of the tcpdump.org list). */
  linkType = 0;
  /** Its number in the file, from 1, as tcpdump and Wireshark count. */
  index = 0;
}

export interface CaptureInfo {
  format: 'pcap' | 'pcapng';
  records: number;
  /** The link types of the file's interfaces, in the order they were described. */
  linkTypes: number[];
}

/** Bigger than any snap length a capture tool writes (tcpdump's largest is 256 KiB): a damaged length field. */
export const RECORD_MAX = 1 << 26;

/**
 * Reads a capture file, pcap (either byte order, micro- or nanosecond timestamps) or pcapng
 * (every section, interface and packet block kind), calling `onPacket` with each record in
 * file order; the packet object is reused. Throws CaptureError for a missing or unreadable
 * file, one that is no capture, and one that ends inside a record (truncated).
 */
export function readCapture(path: string, onPacket: (p: CapturePacket) => void): CaptureInfo {
  let r: ByteReader;
  try {
    r = new ByteReader(path);
  } catch (e) {
    throw new CaptureError(`${path}: ${fileProblem(e)}`);
  }
  try {
    const have = r.available(4);
    if (have === 0) throw new CaptureError(`${path}: the file is empty, not a capture`);
    if (have < 4) throw new CaptureError(`${path}: ${have} bytes are too few for a capture's header`);
    const o = r.take(4);
    const first = Buffer.from(r.buf.subarray(o, o + 4));
    const magic = first.readUInt32LE(0);
    const packet = new CapturePacket();
    if (magic === BLOCK_SHB) return readPcapng(r, path, packet, onPacket);
    const pcap = readPcap(r, path, magic, packet, onPacket);
    if (pcap) return pcap;
    const head = [...first].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const gz = first[0] === 0x1f && first[1] === 0x8b ? ' (gzip-compressed: gunzip it first)' : '';
    throw new CaptureError(`${path}: not a pcap or pcapng capture: it begins with ${head}${gz}`);
  } catch (e) {
    if (e instanceof CaptureError) throw e;
    throw new CaptureError(`${path}: ${fileProblem(e)}`);
  } finally {
    r.close();
  }
}

/** The end of a file inside a record: where, and what was wanted. */
export function truncated(path: string, what: string, at: number, need: number, have: number): CaptureError {
  return new CaptureError(
    `${path}: truncated: ${what} at byte ${at} needs ${need} bytes, the file has ${have} more ` +
      '(was it copied while the capture was still being written?)',
  );
}

function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a capture file';
  return (e as Error).message ?? String(e);
}
