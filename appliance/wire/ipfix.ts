/** RFC 7011 3.1: the version of the IPFIX protocol, and the Message Header's length. */
const IPFIX_VERSION = 10;
const MESSAGE_HEADER = 16;
/** RFC 7011 3.3.2: a Set Header is a Set ID and a length. */
export const SET_HEADER = 4;
/** RFC 7011 3.3.2: Set ID 2 is a Template Set; 256 and above, a Data Set of that Template. */
export const TEMPLATE_SET_ID = 2;
export const FIRST_DATA_SET_ID = 256;
/** RFC 7011 3.2: the Enterprise bit of a Field Specifier's Information Element identifier. */
const ENTERPRISE_BIT = 0x8000;
/** RFC 7011 7: a Field Specifier of this length means a variable-length field. */
export const VARIABLE_LENGTH = 65535;
/** RFC 7011 7: a variable-length field of 255 bytes or more has 255, then a 16-bit length. */
const LONG_LENGTH = 255;

/** A Field Specifier (RFC 7011 3.2): an Information Element, its length, its enterprise (0: IANA's). */
export interface FieldSpec {
  readonly id: number;
  readonly length: number;
  readonly enterprise: number;
}

/** Bytes a variable-length field of `n` bytes takes with its length prefix (RFC 7011 7). */
export function variableFieldLength(n: number): number {
  return n < LONG_LENGTH ? 1 + n : 3 + n;
}

/**
 * Writes IPFIX Messages (RFC 7011) into the caller's buffer: `begin`, then Sets (`openSet`,
 * records, `closeSet`), then `finish` with the header's fields. Nothing is allocated; the
 * caller sees to the room (`room`) before each record, as the DNS encoder's callers do.
 */
export class IpfixWriter {
  buf: Buffer = Buffer.alloc(0);
  /** Where the message starts, the next byte to write, and the end of the buffer's room. */
  start = 0;
  at = 0;
  end = 0;
  private setStart = -1;

  /** Starts a message at `off`; the header is written by `finish`. */
  begin(buf: Buffer, off = 0, end = buf.length): void {
    this.buf = buf;
    this.start = off;
    this.at = off + MESSAGE_HEADER;
    this.end = end;
    this.setStart = -1;
  }

  get room(): number {
    return this.end - this.at;
  }

  /** Bytes written so far, the header included. */
  get length(): number {
    return this.at - this.start;
  }

  get inSet(): boolean {
    return this.setStart >= 0;
  }

  /** RFC 7011 3.3.2: a Set Header whose length `closeSet` fills in. */
  openSet(id: number): void {
    this.setStart = this.at;
    this.u16(id);
    this.u16(0);
  }

  /** Ends the open Set. RFC 7011 3.3.1 allows padding; none is written, records are packed. */
  closeSet(): void {
    const n = this.at - this.setStart;
    this.buf[this.setStart + 2] = n >> 8;
    this.buf[this.setStart + 3] = n;
    this.setStart = -1;
  }

  /**
   * RFC 7011 3.1: version, length, Export Time (seconds since the epoch), Sequence Number
   * (Data Records sent before this message in this Observation Domain, modulo 2^32) and
   * Observation Domain ID. Returns the message's length.
   */
  finish(exportTime: number, sequence: number, domain: number): number {
    if (this.setStart >= 0) this.closeSet();
    const b = this.buf;
    const o = this.start;
    const n = this.at - o;
    b[o] = 0;
    b[o + 1] = IPFIX_VERSION;
    b[o + 2] = n >> 8;
    b[o + 3] = n;
    b.writeUInt32BE(exportTime >>> 0, o + 4);
    b.writeUInt32BE(sequence >>> 0, o + 8);
    b.writeUInt32BE(domain >>> 0, o + 12);
    return n;
  }

  /** A Template Record (RFC 7011 3.4.1) inside an open Template Set; the E bit and PEN of 3.2. */
  templateRecord(templateId: number, fields: readonly FieldSpec[]): void {
    this.u16(templateId);
    this.u16(fields.length);
    for (const f of fields) {
      this.u16(f.enterprise === 0 ? f.id : f.id | ENTERPRISE_BIT);
      this.u16(f.length);
      if (f.enterprise !== 0) this.u32(f.enterprise);
    }
  }

  u8(v: number): void {
    this.buf[this.at++] = v;
  }

  u16(v: number): void {
    this.buf[this.at] = v >> 8;
    this.buf[this.at + 1] = v;
    this.at += 2;
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v >>> 0, this.at);
    this.at += 4;
  }

  /** unsigned64 (RFC 7011 6.1.1) from a double: exact up to 2^53, which counters and times stay below. */
  u64(v: number): void {
    this.buf.writeUInt32BE(Math.floor(v / 4294967296) >>> 0, this.at);
    this.buf.writeUInt32BE(v >>> 0, this.at + 4);
    this.at += 8;
  }

  /**
   * A variable-length string (RFC 7011 6.1.6 UTF-8, 7 length prefix) of at most `max` bytes;
   * a longer one is cut at a character boundary. Takes no more than variableFieldLength of
   * min(its UTF-8 length, max).
   */
  string(s: string, max: number): void {
    const b = this.buf;
    const at = this.at;
    let long = Math.min(Buffer.byteLength(s), max) >= LONG_LENGTH;
    const n = s.length === 0 ? 0 : b.write(s, at + (long ? 3 : 1), max, 'utf8');
    if (long && n < LONG_LENGTH) {
      // Cut at a character boundary below 255 bytes: the short prefix after all.
      b.copyWithin(at + 1, at + 3, at + 3 + n);
      long = false;
    }
    if (long) {
      b[at] = LONG_LENGTH;
      b[at + 1] = n >> 8;
      b[at + 2] = n;
      this.at = at + 3 + n;
    } else {
      b[at] = n;
      this.at = at + 1 + n;
    }
  }
}
