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

export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9A-Fa-f]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(m: Uint8Array): string {
  return [...m].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
