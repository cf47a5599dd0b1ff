import { writeU32 } from './ipv4';
import { WireView } from './view';

/** RFC 1035 4.1.1: the header is 12 bytes. */
export const DNS_HEADER = 12;
/** RFC 1035 2.3.4: a label is at most 63 bytes, a name at most 255 wire bytes (length bytes and the root's 0 included). */
export const LABEL_MAX = 63;
export const NAME_WIRE_MAX = 255;

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
/** RFC 1035 3.2.3 QTYPE "*", RFC 8482. */
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const OPCODE_QUERY = 0;
/** RFC 6891 6.1.3: 16, so the OPT's extended RCODE byte holds 1 and the header's RCODE 0. */
export const RCODE_BADVERS = 16;
/** RFC 3225 3: the DO bit, the top bit of the OPT's 16 flag bits. */
export const EDNS_DO = 0x8000;

/** An OPT record without options: root name (1), type, class, TTL, RDLENGTH (RFC 6891 6.1.2). */
export const OPT_LENGTH = 11;
/** An A record whose name is a compression pointer: pointer, type, class, TTL, RDLENGTH, address. */
export const A_RECORD_LENGTH = 16;
/** An AAAA record with a compressed name (RFC 3596 2.2: 16 bytes of data). */
export const AAAA_RECORD_LENGTH = 28;
/** RFC 1035 4.1.4: a pointer to offset 12 of the message, where the question's name starts. */
export const POINTER_TO_QNAME = 0xc00c;

/** Why a question or an OPT record was not read; 0 when it was. */
export const enum DnsError {
  None = 0,
  /** It runs past the end of the message. */
  Truncated,
  /** A compression pointer (RFC 1035 4.1.4): a query's question has nothing before it to point to. */
  Pointer,
  /** A length byte over 63: the reserved label types 01 and 10 (RFC 6891 5) as well. */
  LabelLength,
  /** Over 255 wire bytes. */
  NameLength,
  /** A byte that is neither letter, digit, '-' nor '_'. */
  LabelByte,
  /** The record is not an OPT: its name is not the root, or its type is not 41. */
  NotOpt,
  /** The OPT's options do not fill its RDATA exactly (RFC 6891 6.1.2). */
  OptOptions,
}

/**
 * Bytes a question's labels may hold: RFC 1123 2.1 host names (letters, digits, '-'; where a
 * '-' stands is not checked) and '_', which RFC 8552 service labels (_dmarc, _sip._tcp) and
 * real hosts use, so that such queries are read, not counted malformed. DNS itself allows any
 * byte (RFC 2181 11); a name with others cannot be in the diverted-address table.
 */
const LABEL_BYTES = (() => {
  const t = new Uint8Array(256);
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_') t[c.charCodeAt(0)] = 1;
  return t;
})();

/** A question (RFC 1035 4.1.2) as read by `DnsView.readQuestion`, filled in place so reading allocates nothing. */
export class DnsQuestion {
  /** Absolute offset of QNAME's first length byte, and its wire length (root byte included). */
  nameOffset = 0;
  nameLength = 0;
  type = 0;
  class = 0;
  /** Absolute offset just past QCLASS. */
  end = 0;
}

/** An OPT pseudo-record (RFC 6891 6.1.2-6.1.3) as read by `DnsView.readOpt`. */
export class DnsOpt {
  /** The requestor's UDP payload size, from CLASS. */
  udpPayloadSize = 0;
  /** The upper 8 bits of the 12-bit RCODE, then VERSION, then DO and Z: the TTL field. */
  extendedRcode = 0;
  version = 0;
  flags = 0;
  /** Absolute offset and length of the options in RDATA. */
  optionsOffset = 0;
  optionsLength = 0;
  /** Absolute offset just past RDATA. */
  end = 0;

  get dnssecOk(): boolean { return (this.flags & EDNS_DO) !== 0; }
}

/** Where decoded names are put together: one string is made from it, nothing else. 253 bytes of text at most. */
const NAME_SCRATCH = Buffer.alloc(NAME_WIRE_MAX);

/**
 * A view over a DNS message (RFC 1035 4.1), re-pointed per datagram like Ipv4View. The header
 * getters and setters read and write RFC 1035 4.1.1's fields; `len` bounds every read of the
 * sections, which never throws whatever the bytes.
 */
export class DnsView extends WireView {
  get id(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  set id(v: number) { this.buf[this.off] = v >> 8; this.buf[this.off + 1] = v; }
  /** The 16 bits after the ID: QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE. */
  get flags(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  set flags(v: number) { this.buf[this.off + 2] = v >> 8; this.buf[this.off + 3] = v; }
  get qr(): boolean { return (this.buf[this.off + 2] & 0x80) !== 0; }
  set qr(v: boolean) { this.bit(2, 0x80, v); }
  get opcode(): number { return (this.buf[this.off + 2] >> 3) & 0x0f; }
  set opcode(v: number) { this.buf[this.off + 2] = (this.buf[this.off + 2] & 0x87) | ((v & 0x0f) << 3); }
  get aa(): boolean { return (this.buf[this.off + 2] & 0x04) !== 0; }
  set aa(v: boolean) { this.bit(2, 0x04, v); }
  get tc(): boolean { return (this.buf[this.off + 2] & 0x02) !== 0; }
  set tc(v: boolean) { this.bit(2, 0x02, v); }
  get rd(): boolean { return (this.buf[this.off + 2] & 0x01) !== 0; }
  set rd(v: boolean) { this.bit(2, 0x01, v); }
  get ra(): boolean { return (this.buf[this.off + 3] & 0x80) !== 0; }
  set ra(v: boolean) { this.bit(3, 0x80, v); }
  /** The one bit of RFC 1035's Z left reserved: must be zero. */
  get z(): boolean { return (this.buf[this.off + 3] & 0x40) !== 0; }
  set z(v: boolean) { this.bit(3, 0x40, v); }
  /** RFC 4035 3.2.3 and RFC 6840 5.7-5.8. */
  get ad(): boolean { return (this.buf[this.off + 3] & 0x20) !== 0; }
  set ad(v: boolean) { this.bit(3, 0x20, v); }
  get cd(): boolean { return (this.buf[this.off + 3] & 0x10) !== 0; }
  set cd(v: boolean) { this.bit(3, 0x10, v); }
  /** The lower 4 bits of the RCODE; an OPT holds the upper 8 (RFC 6891 6.1.3). */
  get rcode(): number { return this.buf[this.off + 3] & 0x0f; }
  set rcode(v: number) { this.buf[this.off + 3] = (this.buf[this.off + 3] & 0xf0) | (v & 0x0f); }
  get qdcount(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  set qdcount(v: number) { this.buf[this.off + 4] = v >> 8; this.buf[this.off + 5] = v; }
  get ancount(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  set ancount(v: number) { this.buf[this.off + 6] = v >> 8; this.buf[this.off + 7] = v; }
  get nscount(): number { return (this.buf[this.off + 8] << 8) | this.buf[this.off + 9]; }
  set nscount(v: number) { this.buf[this.off + 8] = v >> 8; this.buf[this.off + 9] = v; }
  get arcount(): number { return (this.buf[this.off + 10] << 8) | this.buf[this.off + 11]; }
  set arcount(v: number) { this.buf[this.off + 10] = v >> 8; this.buf[this.off + 11] = v; }

  /** Whether there is a whole header to read. */
  get valid(): boolean { return this.len >= DNS_HEADER; }

  /** Absolute offset just past the message. */
  get end(): number { return this.off + this.len; }

  /**
   * Reads the question at `at` (the first is right after the header) into `q`: walks QNAME's
   * labels without decoding them, then QTYPE and QCLASS (RFC 1035 4.1.2). Refuses what a
   * query's question cannot be: a pointer, a long label or name, a byte outside LABEL_BYTES.
   */
  readQuestion(q: DnsQuestion, at = this.off + DNS_HEADER): DnsError {
    const b = this.buf;
    const end = this.end;
    let i = at;
    for (;;) {
      if (i >= end) return DnsError.Truncated;
      const n = b[i];
      if (n === 0) break;
      if (n >= 0xc0) return DnsError.Pointer;
      if (n > LABEL_MAX) return DnsError.LabelLength;
      if (i + 1 + n + 1 - at > NAME_WIRE_MAX) return DnsError.NameLength;
      if (i + 1 + n > end) return DnsError.Truncated;
      for (let k = i + 1; k <= i + n; k++) if (LABEL_BYTES[b[k]] === 0) return DnsError.LabelByte;
      i += 1 + n;
    }
    if (i + 5 > end) return DnsError.Truncated;
    q.nameOffset = at;
    q.nameLength = i + 1 - at;
    q.type = (b[i + 1] << 8) | b[i + 2];
    q.class = (b[i + 3] << 8) | b[i + 4];
    q.end = i + 5;
    return DnsError.None;
  }

  /**
   * QNAME of a question read by `readQuestion` as text: lower case, labels joined by '.',
   * without the trailing dot (the root is ''). The one string it makes is the only allocation.
   */
  name(q: DnsQuestion): string {
    const b = this.buf;
    let n = 0;
    for (let i = q.nameOffset; b[i] !== 0; ) {
      if (n > 0) NAME_SCRATCH[n++] = 0x2e;
      const stop = i + 1 + b[i];
      for (i++; i < stop; i++) {
        const c = b[i];
        NAME_SCRATCH[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
      }
    }
    return NAME_SCRATCH.toString('latin1', 0, n);
  }

  /**
   * Reads the resource record at `at` as an OPT (RFC 6891 6.1.2) into `o`. NotOpt when its name
   * is not the root or its type not 41 (a TSIG or SIG(0) record, say); bounds-checked like the
   * question, RDATA included, whose options ({code, length, data}) must fill it exactly.
   */
  readOpt(o: DnsOpt, at: number): DnsError {
    const b = this.buf;
    const end = this.end;
    if (at >= end) return DnsError.Truncated;
    if (b[at] !== 0) return DnsError.NotOpt;
    if (at + OPT_LENGTH > end) return DnsError.Truncated;
    if (((b[at + 1] << 8) | b[at + 2]) !== TYPE_OPT) return DnsError.NotOpt;
    const rdlength = (b[at + 9] << 8) | b[at + 10];
    const rdata = at + OPT_LENGTH;
    if (rdata + rdlength > end) return DnsError.Truncated;
    for (let i = rdata; i < rdata + rdlength; ) {
      if (i + 4 > rdata + rdlength) return DnsError.OptOptions;
      i += 4 + ((b[i + 2] << 8) | b[i + 3]);
      if (i > rdata + rdlength) return DnsError.OptOptions;
    }
    o.udpPayloadSize = (b[at + 3] << 8) | b[at + 4];
    o.extendedRcode = b[at + 5];
    o.version = b[at + 6];
    o.flags = (b[at + 7] << 8) | b[at + 8];
    o.optionsOffset = rdata;
    o.optionsLength = rdlength;
    o.end = rdata + rdlength;
    return DnsError.None;
  }

  private bit(at: number, mask: number, v: boolean): void {
    this.buf[this.off + at] = v ? this.buf[this.off + at] | mask : this.buf[this.off + at] & ~mask;
  }
}

/** Writes an OPT without options at buf[at] (RFC 6891 6.1.2); returns OPT_LENGTH. */
export function encodeOpt(buf: Uint8Array, at: number, udpPayloadSize: number, extendedRcode: number, version: number, flags: number): number {
  buf[at] = 0;
  buf[at + 1] = TYPE_OPT >> 8;
  buf[at + 2] = TYPE_OPT;
  buf[at + 3] = udpPayloadSize >> 8;
  buf[at + 4] = udpPayloadSize;
  buf[at + 5] = extendedRcode;
  buf[at + 6] = version;
  buf[at + 7] = flags >> 8;
  buf[at + 8] = flags;
  buf[at + 9] = 0;
  buf[at + 10] = 0;
  return OPT_LENGTH;
}

/** Writes an IN A record at buf[at] whose name is the 2-byte pointer `namePointer` (RFC 1035 4.1.3-4.1.4); returns A_RECORD_LENGTH. */
export function encodeA(buf: Uint8Array, at: number, namePointer: number, ttl: number, address: number): number {
  buf[at] = namePointer >> 8;
  buf[at + 1] = namePointer;
  buf[at + 2] = TYPE_A >> 8;
  buf[at + 3] = TYPE_A;
  buf[at + 4] = CLASS_IN >> 8;
  buf[at + 5] = CLASS_IN;
  writeU32(buf, at + 6, ttl);
  buf[at + 10] = 0;
  buf[at + 11] = 4;
  writeU32(buf, at + 12, address);
  return A_RECORD_LENGTH;
}

/** encodeA for an IN AAAA record (RFC 3596 2.1, 2.2): the 16 bytes at address[addressAt..]; returns AAAA_RECORD_LENGTH. */
export function encodeAaaa(buf: Uint8Array, at: number, namePointer: number, ttl: number, address: Uint8Array, addressAt: number): number {
  buf[at] = namePointer >> 8;
  buf[at + 1] = namePointer;
  buf[at + 2] = TYPE_AAAA >> 8;
  buf[at + 3] = TYPE_AAAA;
  buf[at + 4] = CLASS_IN >> 8;
  buf[at + 5] = CLASS_IN;
  writeU32(buf, at + 6, ttl);
  buf[at + 10] = 0;
  buf[at + 11] = 16;
  for (let k = 0; k < 16; k++) buf[at + 12 + k] = address[addressAt + k];
  return AAAA_RECORD_LENGTH;
}

/** The header and question of a message, for tests and logs. */
export interface DnsQueryRepr {
  id: number;
  flags: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  name: string;
  type: number;
  class: number;
}

/** The header and first question of `v`, or undefined when the question cannot be read. */
export function parseDnsQuery(v: DnsView, q = new DnsQuestion()): DnsQueryRepr | undefined {
  if (!v.valid || v.qdcount === 0 || v.readQuestion(q) !== DnsError.None) return undefined;
  return { id: v.id, flags: v.flags, qdcount: v.qdcount, ancount: v.ancount, nscount: v.nscount, arcount: v.arcount, name: v.name(q), type: q.type, class: q.class };
}

