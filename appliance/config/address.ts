/**
 * IPv4 addresses are held as unsigned 32-bit numbers, the form the per-packet path compares
 * with a view's getter; text is produced only for people.
 */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let a = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i].length > 1 && m[i][0] === '0')) return undefined;
    a = a * 256 + o;
  }
  return a >>> 0;
}

export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** `ADDRESS:PORT`, an IPv4 address and a port of 1 to 65535: where the appliance listens (the monitor channel, the metrics) or sends (the IPFIX collector). */
export function parseListen(text: string): { address: number; port: number } | undefined {
  const m = /^([0-9.]+):(\d{1,5})$/.exec(text);
  const address = m ? parseIpv4(m[1]) : undefined;
  const port = m ? Number(m[2]) : 0;
  return address === undefined || port < 1 || port > 65535 ? undefined : { address, port };
}

export interface Prefix {
  address: number;
  length: number;
}

export function parsePrefix(text: string): Prefix | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseIpv4(m[1]);
  const length = Number(m[2]);
  if (address === undefined || length > 32) return undefined;
  return { address, length };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIpv4(p.address)}/${p.length}`;
}

export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

export function inPrefix(address: number, p: Prefix): boolean {
  const mask = prefixMask(p.length);
  return ((address & mask) >>> 0) === ((p.address & mask) >>> 0);
}

/**
 * IPv6 addresses are 16-byte arrays in network order, which wire/ipv6.ts compares and copies
 * against datagrams where they lie. The text forms of RFC 4291 2.2: eight groups of one to four
 * hex digits, one `::` for a run of zero groups, the last 32 bits as a dotted quad; no zone index.
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = ipv6Groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? ipv6Groups(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return undefined;
  const a = new Uint8Array(16);
  const put = (w: number, i: number): void => { a[2 * i] = w >> 8; a[2 * i + 1] = w & 255; };
  head.forEach((w, i) => put(w, i));
  tail.forEach((w, i) => put(w, 8 - tail.length + i));
  return a;
}

/** The 16-bit groups of colon-separated text; the last may be a dotted quad when `last`. */
function ipv6Groups(text: string, last: boolean): number[] | undefined {
  if (text === '') return [];
  const out: number[] = [];
  const fields = text.split(':');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (last && i === fields.length - 1 && f.includes('.')) {
      const v4 = parseIpv4(f);
      if (v4 === undefined) return undefined;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(f)) {
      out.push(parseInt(f, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * RFC 5952's canonical text: lowercase, no leading zeros (4.1, 4.3), the longest run of two or
 * more zero groups as `::`, the first of equal runs (4.2), IPv4-mapped addresses as
 * ::ffff:a.b.c.d (5). `at`: where the address lies in `a`, as in a datagram.
 */
export function formatIpv6(a: Uint8Array, at = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[at + 2 * i] << 8) | a[at + 2 * i + 1]);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${formatIpv4(((w[6] << 16) | w[7]) >>> 0)}`;
  }
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLength) { best = i; bestLength = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(w) : `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLength))}`;
}

export interface Prefix6 {
  address: Uint8Array;
  length: number;
}

/** `ADDRESS/LENGTH` with a length of 0 to 128; bits past the length are kept, as parsePrefix keeps them. */
export function parsePrefix6(text: string): Prefix6 | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const address = parseIpv6(m[1]);
  const length = Number(m[2]);
  if (address === undefined || length > 128) return undefined;
  return { address, length };
}

export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9A-Fa-f]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(m: Uint8Array): string {
  return [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
