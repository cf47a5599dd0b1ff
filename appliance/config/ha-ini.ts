import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { readSecretFile } from './credentials';
import { SectionReader } from './fields';
import { readIniFile } from './ini-file';
import { ConfigError, type Problem } from './problem';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './address';
import { quote } from '../text/printable';

export const HA_FILE = 'ha.ini';
const SYNC_SECTION = 'sync';
/** The sync key: the first line of key_file, 16 to 1024 bytes, as the monitor's (monitor/key.ts). */
export const SYNC_KEY_MIN = 16;
export const SYNC_KEY_MAX = 1024;

/** An address (text as the socket takes it) and a port. */
export interface SyncEndpointSetting {
  host: string;
  port: number;
  v6: boolean;
}

/** The sync channel's HMAC key, redacted wherever it gets printed (JSON, util.inspect): the file and the length, never the bytes. */
export class SyncKeyBytes {
  constructor(readonly bytes: Buffer, readonly file: string) {}

  toJSON(): Record<string, unknown> {
    return { file: this.file, key: `(${this.bytes.length} bytes)` };
  }

  [inspect.custom](): string {
    return `SyncKey { file ${this.file}, ${this.bytes.length} bytes }`;
  }
}

/** ha.ini [sync] (issue 16, connection-state sync between an HA pair). */
export interface HaSettings {
  listen: SyncEndpointSetting;
  peers: SyncEndpointSetting[];
  key: SyncKeyBytes;
  /** ms between flushes of the sender (sync/sender.ts). */
  intervalMs: number;
  /** Connections the standby holds at most (sync/standby.ts). */
  maxEntries: number;
  /** This appliance's sender id: 32 bits of SHA-256 of its listen address, which no peer shares. */
  sender: number;
}

/**
 * Reads DIR/ha.ini, or returns undefined when there is none (a single appliance). Keys of
 * [sync]: listen = ADDRESS:PORT (required), peers = ADDRESS:PORT[, ...] (required), key_file
 * (required; relative to DIR; owner-only as a password file, config/credentials.ts),
 * interval_ms (1 to 1000, default 20), max_entries (1 to 10000000, default 1000000). An IPv6
 * address is written in brackets, [2001:db8::1]:7500. Every problem is thrown as one ConfigError.
 */
export function loadHa(dir: string): HaSettings | undefined {
  const path = join(dir, HA_FILE);
  if (!existsSync(path)) return undefined;
  const problems: Problem[] = [];
  const file = readIniFile(path, problems);
  if (!file) throw new ConfigError(problems);
  for (const s of file.sections.values()) {
    if (s.name !== SYNC_SECTION) problems.push({ file: file.name, line: s.line, section: s.name, message: 'unknown section (expected [sync])' });
  }
  const section = file.sections.get(SYNC_SECTION);
  if (section === undefined) {
    problems.push({ file: file.name, message: 'no [sync] section: remove ha.ini for a single appliance, or add [sync] with listen, peers and key_file' });
    throw new ConfigError(problems);
  }
  const r = new SectionReader(file, section, problems);
  const listenText = r.raw('listen', true);
  const peerTexts = r.list('peers', true);
  const keyText = r.raw('key_file', true);
  const intervalMs = r.int('interval_ms', 1, 1000, 20)!;
  const maxEntries = r.int('max_entries', 1, 10_000_000, 1_000_000)!;
  r.done();

  const listen = listenText === undefined ? undefined : endpoint(r, 'listen', listenText);
  const peers: SyncEndpointSetting[] = [];
  for (const t of peerTexts ?? []) {
    const p = endpoint(r, 'peers', t);
    if (p === undefined) continue;
    if (listen !== undefined && p.v6 !== listen.v6) r.problem('peers', `peer ${quote(t)} is of another address family than listen: one socket sends to every peer`);
    else if (listen !== undefined && p.host === listen.host && p.port === listen.port) r.problem('peers', `peer ${quote(t)} is this appliance's own listen`);
    else if (peers.some((q) => q.host === p.host && q.port === p.port)) r.problem('peers', `peer ${quote(t)} is listed twice`);
    else peers.push(p);
  }
  let key: SyncKeyBytes | undefined;
  if (keyText !== undefined) {
    const full = isAbsolute(keyText) ? keyText : resolve(dir, keyText);
    const got = readSecretFile(full, 'key', SYNC_KEY_MIN, SYNC_KEY_MAX);
    if (typeof got === 'string') r.problem('key_file', got);
    else key = new SyncKeyBytes(got, full);
  }
  if (problems.length) throw new ConfigError(problems);
  const sender = createHash('sha256').update(`${listen!.host} ${listen!.port}`).digest().readUInt32BE(0);
  return { listen: listen!, peers, key: key!, intervalMs, maxEntries, sender };
}

/** An endpoint as ha.ini writes it: ADDRESS:PORT, an IPv6 address in brackets. */
export function formatSyncEndpoint(e: SyncEndpointSetting): string {
  return e.v6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** `ADDRESS:PORT`, `[IPv6]:PORT`; undefined (reported) otherwise. */
function endpoint(r: SectionReader, key: string, text: string): SyncEndpointSetting | undefined {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const v4 = v6 ? null : /^([0-9.]+):(\d{1,5})$/.exec(text);
  const port = Number((v6 ?? v4)?.[2] ?? 0);
  let host: string | undefined;
  if (v6) {
    const b = parseIpv6(v6[1]);
    if (b !== undefined) host = formatIpv6(b);
  } else if (v4) {
    const a = parseIpv4(v4[1]);
    if (a !== undefined) host = formatIpv4(a);
  }
  if (host === undefined || port < 1 || port > 65535) {
    r.problem(key, `expected ADDRESS:PORT like 198.18.0.1:7500 (an IPv6 address in brackets, [2001:db8::1]:7500), got ${quote(text)}`);
    return undefined;
  }
  return { host, port, v6: v6 !== null };
}
