/**
 * A small IPFIX Collecting Process for tests (RFC 7011), written from the RFC and not from the
 * appliance's encoder: it learns templates from Template Sets and reads Data Sets with them,
 * so a test checks what a collector would read. Values are keyed "PEN/ID" ("0/8" is IANA's
 * sourceIPv4Address, "0/27" sourceIPv6Address, "29305/1" RFC 5103's reverse octetDeltaCount).
 * `recordTemplates` gives the Template ID each record was read with.
 */

export interface DecodedField {
  id: number;
  length: number;
  enterprise: number;
}

export interface DecodedMessage {
  version: number;
  length: number;
  exportTime: number;
  sequence: number;
  domain: number;
  /** Template IDs this message defined, in order. */
  templates: number[];
  /** Data Records, each as its fields' bytes by "PEN/ID". */
  records: Map<string, Buffer>[];
  /** The Template ID of each of `records`. */
  recordTemplates: number[];
  /** Data Sets whose template was not known (yet). */
  unknownSets: number;
}

export class IpfixDecoder {
  /** By "domain/template id". */
  readonly templates = new Map<string, DecodedField[]>();

  decode(msg: Buffer): DecodedMessage {
    if (msg.length < 16) throw new Error(`message of ${msg.length} bytes: shorter than its header`);
    const m: DecodedMessage = {
      version: msg.readUInt16BE(0),
      length: msg.readUInt16BE(2),
      exportTime: msg.readUInt32BE(4),
      sequence: msg.readUInt32BE(8),
      domain: msg.readUInt32BE(12),
      templates: [],
      records: [],
      recordTemplates: [],
      unknownSets: 0,
    };
    if (m.length !== msg.length) throw new Error(`header length ${m.length}, datagram ${msg.length}`);
    let at = 16;
    while (at < msg.length) {
      const setId = msg.readUInt16BE(at);
      const setLength = msg.readUInt16BE(at + 2);
      if (setLength < 4 || at + setLength > msg.length) throw new Error(`set ${setId} at ${at}: length ${setLength} does not fit`);
      const end = at + setLength;
      if (setId === 2) this.templateSet(msg, at + 4, end, m);
      else if (setId >= 256) this.dataSet(msg, setId, at + 4, end, m);
      else throw new Error(`set ID ${setId} is neither a template set nor a data set`);
      at = end;
    }
    return m;
  }

  private templateSet(msg: Buffer, at: number, end: number, m: DecodedMessage): void {
    while (at + 4 <= end) {
      const id = msg.readUInt16BE(at);
      const count = msg.readUInt16BE(at + 2);
      at += 4;
      const fields: DecodedField[] = [];
      for (let i = 0; i < count; i++) {
        const raw = msg.readUInt16BE(at);
        const length = msg.readUInt16BE(at + 2);
        at += 4;
        let enterprise = 0;
        if (raw & 0x8000) {
          enterprise = msg.readUInt32BE(at);
          at += 4;
        }
        fields.push({ id: raw & 0x7fff, length, enterprise });
      }
      if (at > end) throw new Error('template record runs past its set');
      this.templates.set(`${m.domain}/${id}`, fields);
      m.templates.push(id);
    }
  }

  private dataSet(msg: Buffer, id: number, at: number, end: number, m: DecodedMessage): void {
    const fields = this.templates.get(`${m.domain}/${id}`);
    if (!fields) {
      m.unknownSets++;
      return;
    }
    // RFC 7011 3.3.1: what is left after the last whole record is padding.
    while (at < end) {
      const record = new Map<string, Buffer>();
      for (const f of fields) {
        let n = f.length;
        if (n === 65535) {
          n = msg[at++];
          if (n === 255) {
            n = msg.readUInt16BE(at);
            at += 2;
          }
        }
        if (at + n > end) throw new Error(`field ${f.enterprise}/${f.id} runs past its set`);
        record.set(`${f.enterprise}/${f.id}`, msg.subarray(at, at + n));
        at += n;
      }
      m.records.push(record);
      m.recordTemplates.push(id);
    }
  }
}

/** An unsigned integer field of any length up to 6 bytes (and 8, exact to 2^53). */
export function uint(b: Buffer | undefined): number {
  if (!b) throw new Error('no such field');
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

export function ipv4(b: Buffer | undefined): string {
  if (!b || b.length !== 4) throw new Error('not an IPv4 address field');
  return [...b].join('.');
}

/**
 * An IPv6 address field in RFC 5952's text, by the WHATWG URL serializer (lower case, no
 * leading zeros, the first longest run of two or more zero groups as "::"): not the appliance's
 * own formatter, so a test compares it with an independent one.
 */
export function ipv6(b: Buffer | undefined): string {
  if (!b || b.length !== 16) throw new Error('not an IPv6 address field');
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export function text(b: Buffer | undefined): string {
  if (!b) throw new Error('no such field');
  return b.toString('utf8');
}
