import { isAbsolute } from 'node:path';
import { quote } from '../text/printable';
import type { SectionReader } from './fields';

/**
 * appliance.ini [capture]: the ring of dropped datagrams (appliance/capture). Off unless
 * `drops` names a file; its other keys without it are reported.
 */
export interface CaptureSettings {
  /** The ring's newer file; the older one is `drops` + ".1". */
  drops: string;
  /** Both files together never exceed this. */
  maxBytes: number;
  /** Bytes of each datagram kept (its Ethernet header included). */
  snaplen: number;
}

export const CAPTURE_SECTION = 'capture';
const MIB = 1 << 20;
/** Two files, each of which must hold its headers and the longest block (snaplen 65535) many times over. */
const CAPTURE_MIN_BYTES = MIB;
const CAPTURE_MAX_BYTES = 64 * 1024 * MIB;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: MIB, G: 1024 * MIB };

/**
 * Reads [capture]. `snaplen` defaults to 256: Ethernet (14), the largest IPv4 header (60) and
 * the largest TCP header (60) take 134 bytes, so every header a drop's reason is about is
 * kept, and 122 bytes of payload show a SOCKS request's version, command and most of its
 * destination; a 16 MiB ring then holds some 50,000 drops.
 */
export function readCapture(c: SectionReader): CaptureSettings | undefined {
  let drops = c.raw('drops', false);
  if (drops === undefined) {
    if (c.has('drops')) c.problem('drops', 'value is empty: expected the capture file\'s absolute path, or leave the key out');
  } else if (!isAbsolute(drops) || drops.endsWith('/')) {
    c.problem('drops', `expected the capture file's absolute path, like /var/log/socksalp/drops.pcapng, got ${quote(drops)}`);
    drops = undefined;
  }
  let maxBytes = 16 * MIB;
  const sizeText = c.raw('max_bytes', false);
  if (sizeText !== undefined) {
    const m = /^(\d{1,12})\s*([KMG]?)$/i.exec(sizeText);
    const n = m ? Number(m[1]) * UNITS[m[2].toUpperCase()] : NaN;
    if (n >= CAPTURE_MIN_BYTES && n <= CAPTURE_MAX_BYTES) maxBytes = n;
    else c.problem('max_bytes', `expected a size from 1M to 64G (bytes, or a number followed by K, M or G), got ${quote(sizeText)}`);
  }
  const snaplen = c.int('snaplen', 64, 65535, 256)!;
  c.done();
  // The other keys without `drops` would do nothing: reported, as [export] reports its own without ipfix.
  if (!c.has('drops')) for (const k of ['max_bytes', 'snaplen']) if (c.has(k)) c.problem(k, 'the capture is off: add drops = FILE');
  return drops === undefined ? undefined : { drops, maxBytes, snaplen };
}
