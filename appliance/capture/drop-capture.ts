import { performance } from 'node:perf_hooks';
import type { CaptureSettings } from '../config/capture-ini';
import { DROP_REASONS } from '../forward/drops';
import { REASSEMBLY6_DROPS } from '../forward/reassembly6';
import { ETHERTYPE_IPV4, ETH_HEADER } from '../wire/ethernet';
import { LINKTYPE_ETHERNET } from '../wire/pcapng';
import { commentAt, epbLength, idbLength, shbLength, writeEpbHead, writeEpbTail, writeIdb, writeShb } from './pcapng';
import { RingFile } from './ring-file';

/**
 * Each of the two staging buffers: some 3,000 drops at the default snaplen, 900 whole 1,100-byte
 * frames (a tenth of a second of a 10,000-a-second flood while a write is in flight), and
 * the longest record (snaplen 65535) many times over.
 */
const STAGING = 1 << 20;
const ETHERTYPE_IPV6 = 0x86dd;
const USER_APPL = Buffer.from('socksalp');
/**
 * A datagram's fate beyond the drop reasons: a fragment dropped with its datagram (IPv6's reasons
 * are IPv4's and a few more), or one of a datagram dropped before.
 */
const FRAGMENT_REASONS = [...REASSEMBLY6_DROPS, 'rest-of-dropped'] as const;
export type FragmentReason = (typeof FRAGMENT_REASONS)[number];

/**
 * The ring of dropped datagrams (appliance.ini [capture] drops): pcapng, one interface per
 * device (the TUN first, then each segment's TAP, in `ctl status` devices' order), an
 * Enhanced Packet Block per datagram with a comment saying why, e.g. "drop: bad-tcp-checksum",
 * "discard: congestion server=sa alp=bulk priority=1".
 *
 * Every interface is Ethernet: libpcap (tcpdump) refuses a section whose interfaces have
 * different link types, so a datagram from the TUN, and one dropped before its Ethernet
 * header was written, gets a header of zero MACs and its IP version's EtherType.
 *
 * Never in the way of the data path: a drop copies at most `snaplen` bytes into a staging
 * buffer allocated at start, with a comment of precomputed bytes; the buffer is written by one
 * asynchronous write at a time while the other fills. When both are busy the datagram is
 * counted `lost` and not kept. Nothing is allocated per datagram: the ALPs' names are encoded
 * at start and when the registry grows (growAlps).
 */
export class DropCapture {
  readonly snaplen: number;
  /** Datagrams in the files, and those that could not be kept (staging full, or a failed write). */
  captured = 0;
  lost = 0;
  readonly dropComments: Record<(typeof DROP_REASONS)[number], Buffer>;
  readonly fragmentComments: Record<FragmentReason, Buffer>;
  private readonly ring: RingFile;
  private readonly staging: Buffer[];
  private fill = 0;
  private fillLen = 0;
  private fillCount = 0;
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  /** Per server: "discard: congestion server=NAME alp=", and its device's interface. */
  private readonly discardPrefix: Buffer[];
  private readonly serverIface: number[];
  /** The ALPs' names by id, encoded. */
  private readonly alpBytes: Buffer[] = [];
  private static readonly PRIORITY = Buffer.from(' priority=');

  /**
   * `devices`: the interfaces' names (the TUN, then the TAPs); `serverIface[s]`: server s's
   * TAP's interface; `alpNames`: the ALP registry's names by id (it only grows).
   */
  constructor(
    readonly settings: CaptureSettings,
    devices: readonly string[],
    serverNames: readonly string[],
    serverIface: readonly number[],
    private readonly alpNames: readonly string[],
    log: (message: string) => void,
  ) {
    this.snaplen = settings.snaplen;
    this.dropComments = Object.fromEntries(DROP_REASONS.map((r) => [r, Buffer.from(`drop: ${r}`)])) as DropCapture['dropComments'];
    this.fragmentComments = Object.fromEntries(FRAGMENT_REASONS.map((r) => [r, Buffer.from(`drop: reassembly-${r}`)])) as DropCapture['fragmentComments'];
    this.discardPrefix = serverNames.map((n) => Buffer.from(`discard: congestion server=${n} alp=`));
    this.serverIface = [...serverIface];
    const names = devices.map((d) => Buffer.from(d));
    const header = Buffer.alloc(shbLength(USER_APPL) + names.reduce((sum, n) => sum + idbLength(n), 0));
    let o = writeShb(header, 0, USER_APPL);
    for (const n of names) o = writeIdb(header, o, LINKTYPE_ETHERNET, this.snaplen, n);
    this.ring = new RingFile(settings.drops, settings.maxBytes, header, log);
    this.staging = [Buffer.allocUnsafeSlow(STAGING), Buffer.allocUnsafeSlow(STAGING)];
    this.growAlps();
  }

  /** After a reload that named new ALPs: encodes their names, off the data path. */
  growAlps(): void {
    for (let id = this.alpBytes.length; id < this.alpNames.length; id++) this.alpBytes.push(Buffer.from(this.alpNames[id]));
  }

  /** Rotates an earlier run's file out of the way and creates the ring's file with its headers. */
  start(): void {
    this.ring.start();
    this.flushing = this.ring.append(this.staging[0], 0).then(() => this.flushed());
  }

  /** For `ctl status`. */
  status() {
    return { file: this.settings.drops, maxBytes: this.settings.maxBytes, snaplen: this.snaplen, captured: this.captured, lost: this.lost, ...this.ring.stats };
  }

  /**
   * Keeps `len` bytes at `off` in `src` (a frame; with `synthesize`, an IP datagram that gets
   * a made-up Ethernet header) as a packet of interface `iface`, with `comment`.
   */
  record(iface: number, src: Buffer, off: number, len: number, synthesize: boolean, comment: Uint8Array): void {
    this.put(iface, src, off, len, synthesize, comment, -1, 0);
  }

  /** A datagram congestion control discarded from server `server`'s queue: a frame of `len` bytes. */
  discard(server: number, src: Buffer, off: number, len: number, alp: number, priority: number): void {
    this.put(this.serverIface[server], src, off, len, false, this.discardPrefix[server], alp, priority);
  }

  /** `alp` -1: a drop, `comment` says it all; else a discard, `comment` followed by the ALP and the priority. */
  private put(iface: number, src: Buffer, off: number, len: number, synthesize: boolean, comment: Uint8Array, alp: number, priority: number): void {
    if (this.closed) return;
    const original = synthesize ? len + ETH_HEADER : len;
    const captured = original < this.snaplen ? original : this.snaplen;
    // An id the registry gave after the last growAlps (none should) is written as its number.
    const name = alp < this.alpBytes.length ? this.alpBytes[alp] : undefined;
    const commentLength = alp < 0 ? comment.length : comment.length + (name?.length ?? digitCount(alp)) + DropCapture.PRIORITY.length + digitCount(priority);
    const need = epbLength(captured, commentLength);
    if (this.fillLen + need > STAGING) {
      this.lost++;
      return;
    }
    const b = this.staging[this.fill];
    const o = this.fillLen;
    const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
    writeEpbHead(b, o, iface, micros, captured, original, commentLength);
    let p = o + 28;
    let copy = captured;
    if (synthesize) {
      b.fill(0, p, p + 12);
      b.writeUInt16BE(src[off] >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, p + 12);
      p += ETH_HEADER;
      copy -= ETH_HEADER;
    }
    src.copy(b, p, off, off + copy);
    let c = commentAt(o, captured);
    b.set(comment, c);
    if (alp >= 0) {
      c += comment.length;
      if (name !== undefined) {
        b.set(name, c);
        c += name.length;
      } else c = writeDigits(b, c, alp);
      b.set(DropCapture.PRIORITY, c);
      writeDigits(b, c + DropCapture.PRIORITY.length, priority);
    }
    this.fillLen = writeEpbTail(b, o, captured, commentLength);
    this.fillCount++;
    if (!this.scheduled && this.flushing === undefined) {
      this.scheduled = true;
      setImmediate(this.kick);
    }
  }

  // Bound once: scheduled at most once per turn of the event loop, whatever the drops.
  private readonly kick = (): void => {
    this.scheduled = false;
    if (this.flushing === undefined && this.fillLen > 0) this.flushing = this.drain();
  };

  /** Writes the staging buffers, one write in flight, until both are empty. */
  private async drain(): Promise<void> {
    while (this.fillLen > 0) {
      const b = this.staging[this.fill];
      const len = this.fillLen;
      const count = this.fillCount;
      this.fill ^= 1;
      this.fillLen = 0;
      this.fillCount = 0;
      const written = await this.ring.append(b, len);
      this.captured += written;
      this.lost += count - written;
    }
    this.flushed();
  }

  private flushed(): void {
    this.flushing = undefined;
    if (this.fillLen > 0 && !this.scheduled) this.kick();
  }

  /** Resolves once every datagram staged so far is in the file (or counted lost). */
  async written(): Promise<void> {
    while (this.flushing !== undefined || this.fillLen > 0) {
      if (this.flushing === undefined) this.flushing = this.drain();
      await this.flushing;
    }
  }

  /** Stops taking drops, writes what is staged and closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.written();
    await this.ring.close();
  }
}

function digitCount(v: number): number {
  let n = 1;
  for (; v >= 10; v = (v / 10) | 0) n++;
  return n;
}

/** `v` (a non-negative integer) in decimal at `at`, digit by digit; returns the offset after it. */
function writeDigits(b: Buffer, at: number, v: number): number {
  const end = at + digitCount(v);
  for (let i = end - 1; i >= at; i--, v = (v / 10) | 0) b[i] = 0x30 + (v % 10);
  return end;
}
