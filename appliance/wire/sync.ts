import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readU32, writeU32 } from './ipv4';
import { WireView } from './view';

/**
 * Issue 16, connection-state sync: one UDP datagram from the active appliance to its peers,
 * a header, a batch of entries (wire/sync-entry.ts), and an HMAC-SHA256 over everything before it cut to 16 bytes
 * (RFC 2104 5 allows truncation to half the hash; RFC 4868 2.3's HMAC-SHA-256-128 is what
 * IPsec's ESP carries: 128 bits leave a forger no chance online, and 16 more bytes of room per
 * datagram for entries). Big-endian throughout. Addresses are 16 bytes, an IPv4 one as
 * IPv4-mapped (RFC 4291 2.5.5.2), never this process's interner index.
 */
export const SYNC_MAGIC = 0x53414c53; // "SALS"
export const SYNC_VERSION = 2;
export const SYNC_HEADER = 32;
export const SYNC_MAC = 16;
/** UDP payload of one datagram at most: under any path's MTU with IP and UDP headers. */
export const SYNC_MAX_DATAGRAM = 1400;

/** The header: magic, version, entry count, sender, epoch and sequence (a 64-bit number in two words), time (ms since 1970), the servers' list hash. */
export class SyncHeaderView extends WireView {
  get magic(): number { return readU32(this.buf, this.off); }
  set magic(v: number) { writeU32(this.buf, this.off, v); }
  get version(): number { return this.buf[this.off + 4]; }
  set version(v: number) { this.buf[this.off + 4] = v; this.buf[this.off + 5] = 0; }
  get count(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  set count(v: number) { this.buf[this.off + 6] = v >> 8; this.buf[this.off + 7] = v; }
  get sender(): number { return readU32(this.buf, this.off + 8); }
  set sender(v: number) { writeU32(this.buf, this.off + 8, v); }
  get epoch(): number { return readU32(this.buf, this.off + 12); }
  set epoch(v: number) { writeU32(this.buf, this.off + 12, v); }
  get seq(): number { return readU32(this.buf, this.off + 16); }
  set seq(v: number) { writeU32(this.buf, this.off + 16, v); }
  get timeMs(): number { return readU32(this.buf, this.off + 20) * 4294967296 + readU32(this.buf, this.off + 24); }
  set timeMs(v: number) { writeU64(this.buf, this.off + 20, v); }
  get serverHash(): number { return readU32(this.buf, this.off + 28); }
  set serverHash(v: number) { writeU32(this.buf, this.off + 28, v); }
  get valid(): boolean { return this.len >= SYNC_HEADER + SYNC_MAC && this.magic === SYNC_MAGIC; }
}

export interface SyncHeaderRepr {
  version: number;
  count: number;
  sender: number;
  epoch: number;
  seq: number;
  timeMs: number;
  serverHash: number;
}

export function parseSyncHeader(v: SyncHeaderView): SyncHeaderRepr {
  return { version: v.version, count: v.count, sender: v.sender, epoch: v.epoch, seq: v.seq, timeMs: v.timeMs, serverHash: v.serverHash };
}

export function emitSyncHeader(r: SyncHeaderRepr, v: SyncHeaderView): number {
  v.magic = SYNC_MAGIC;
  v.version = r.version;
  v.count = r.count;
  v.sender = r.sender;
  v.epoch = r.epoch;
  v.seq = r.seq;
  v.timeMs = r.timeMs;
  v.serverHash = r.serverHash;
  return SYNC_HEADER;
}

/** Writes the trailer over buf[off, off + len): the datagram is then len + SYNC_MAC bytes. */
export function signSync(key: Buffer, buf: Buffer, off: number, len: number): void {
  createHmac('sha256', key).update(buf.subarray(off, off + len)).digest().copy(buf, off + len, 0, SYNC_MAC);
}

/** Whether the last SYNC_MAC bytes of buf[off, off + len) are the MAC of the rest, compared in constant time. */
export function verifySync(key: Buffer, buf: Buffer, off: number, len: number): boolean {
  if (len < SYNC_HEADER + SYNC_MAC) return false;
  const mac = createHmac('sha256', key).update(buf.subarray(off, off + len - SYNC_MAC)).digest().subarray(0, SYNC_MAC);
  return timingSafeEqual(mac, buf.subarray(off + len - SYNC_MAC, off + len));
}

/** The servers as servers.ini lists them ("name address:port" each), as 32 bits of SHA-256: a peer with another list is told apart. */
export function serverListHash(servers: readonly string[]): number {
  return createHash('sha256').update(servers.join('\n')).digest().readUInt32BE(0);
}

/** A count of ms (below 2^53) as two words. */
export function writeU64(b: Uint8Array, o: number, v: number): void {
  writeU32(b, o, Math.floor(v / 4294967296) >>> 0);
  writeU32(b, o + 4, v >>> 0);
}
