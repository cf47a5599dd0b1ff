import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { readSecretFile } from './credentials';
import { KeyBytes, KEY_MAX, KEY_MIN } from './key-file';
import { SectionReader } from './fields';
import { readIniFile } from './ini-file';
import { ConfigError, type Problem } from './problem';
import { parseIpv4 } from './address';
import { parseAddress } from '../addr/address';
import { formatHostPort, parseHostPort } from '../monitor/client';
import { quote } from '../text/printable';
import { readVrrp, type VrrpSettings } from './vrrp-ini';
import { readBgp, type BgpSettings } from './bgp-ini';

export const HA_FILE = 'ha.ini';
const SYNC_SECTION = 'sync';
const VRRP_SECTION = 'vrrp';
const BGP_SECTION = 'bgp';

/** An address (text as the socket takes it) and a port. */
export interface SyncEndpointSetting {
  host: string;
  port: number;
  v6: boolean;
}

/** ha.ini [sync] (issue 16, connection-state sync between an HA pair). */
export interface HaSettings {
  listen: SyncEndpointSetting;
  peers: SyncEndpointSetting[];
  key: KeyBytes;
  /** ms between flushes of the sender (sync/sender.ts). */
  intervalMs: number;
  /** Connections the standby holds at most (sync/standby.ts). */
  maxEntries: number;
  /** Seconds between a master's passes sending every connection again (sync/pair.ts); a standby forgets one not sent for five of them. */
  refreshS: number;
  /** This appliance's sender id: 32 bits of SHA-256 of its listen address, which no peer shares. */
  sender: number;
  /** [vrrp], when present: the keepalived configuration `socksalp keepalived` writes. */
  vrrp?: VrrpSettings;
  /** [bgp], when present: the frr.conf `socksalp frr` writes (an ECMP member's). */
  bgp?: BgpSettings;
  /**
   * The role at start: a backup holds its peers' connections and serves nothing until `ctl
   * role master` (keepalived's notify); a member of an ECMP group serves from the start, and
   * for good, beside its peers (sync/members.ts).
   */
  role: HaRole;
  /** An ECMP member's number (1 to members) and how many there are: its share of the server-leg ports (flow/server-ports.ts). */
  member?: { index: number; count: number };
}

export type HaRole = 'master' | 'backup' | 'member';
export const HA_ROLES: readonly HaRole[] = ['master', 'backup', 'member'];
/** The most members an ECMP group has: each gets a 64th at least of the server-leg ports. */
export const MAX_MEMBERS = 64;

/**
 * Reads DIR/ha.ini, or returns undefined when there is none (a single appliance). Keys of
 * [sync]: listen = ADDRESS:PORT (required), peers = ADDRESS:PORT[, ...] (required), key_file
 * (required; relative to DIR; owner-only as a password file, config/credentials.ts),
 * interval_ms (1 to 1000, default 20), max_entries (1 to 10000000, default 1000000), refresh_s
 * (30 to 3600, default 60), role
 * (master or backup, the role at start, default backup; or member, an ECMP group's, with
 * member = N and members = COUNT, 1 <= N <= COUNT <= MAX_MEMBERS). An IPv6 address is written in
 * brackets, [2001:db8::1]:7500. [vrrp] is optional (config/vrrp-ini.ts). Every problem is
 * thrown as one ConfigError.
 */
export function loadHa(dir: string): HaSettings | undefined {
  const path = join(dir, HA_FILE);
  if (!existsSync(path)) return undefined;
  const problems: Problem[] = [];
  const file = readIniFile(path, problems);
  if (!file) throw new ConfigError(problems);
  for (const s of file.sections.values()) {
    if (s.name !== SYNC_SECTION && s.name !== VRRP_SECTION && s.name !== BGP_SECTION) problems.push({ file: file.name, line: s.line, section: s.name, message: 'unknown section (expected [sync], [vrrp] or [bgp])' });
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
  const refreshS = r.int('refresh_s', 30, 3600, 60)!;
  const roleText = r.raw('role', false) ?? 'backup';
  const count = r.raw('members', false) === undefined ? undefined : r.int('members', 2, MAX_MEMBERS);
  const index = r.raw('member', false) === undefined ? undefined : r.int('member', 1, MAX_MEMBERS);
  r.done();
  const role = HA_ROLES.find((x) => x === roleText.toLowerCase());
  if (role === undefined) r.problem('role', `expected master or backup (the role at start of a pair; keepalived's notify scripts change it) or member (of an ECMP group), got ${quote(roleText)}`);
  let member: HaSettings['member'];
  if (role === 'member') {
    if (count === undefined) r.problem('members', 'required with role = member: how many appliances the ECMP group has (2 to 64)');
    if (index === undefined) r.problem('member', 'required with role = member: this appliance\'s number in the group, 1 to members, each its own');
    else if (count !== undefined && index > count) r.problem('member', `expected at most members (${count}), got ${index}`);
    if (index !== undefined && count !== undefined && index <= count) member = { index, count };
  } else {
    if (count !== undefined) r.problem('members', 'only with role = member (an ECMP group)');
    if (index !== undefined) r.problem('member', 'only with role = member (an ECMP group)');
  }

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
  let key: KeyBytes | undefined;
  if (keyText !== undefined) {
    const full = isAbsolute(keyText) ? keyText : resolve(dir, keyText);
    const got = readSecretFile(full, 'key', KEY_MIN, KEY_MAX);
    if (typeof got === 'string') r.problem('key_file', got);
    else key = new KeyBytes(got, full, 'SyncKey');
  }
  const vrrpSection = file.sections.get(VRRP_SECTION);
  const vrrp = vrrpSection === undefined ? undefined : readVrrp(new SectionReader(file, vrrpSection, problems));
  const bgpSection = file.sections.get(BGP_SECTION);
  const bgp = bgpSection === undefined ? undefined : readBgp(new SectionReader(file, bgpSection, problems));
  // The sync socket binds on both appliances: on the backup a shared address is absent.
  if (listen !== undefined && vrrp?.addresses.some((p) => p.address === parseAddress(listen.host))) {
    r.problem('listen', `${quote(formatSyncEndpoint(listen))} is a shared address of [vrrp] address: the sync listens on this appliance's own`);
  }
  if (problems.length) throw new ConfigError(problems);
  const sender = createHash('sha256').update(`${listen!.host} ${listen!.port}`).digest().readUInt32BE(0);
  return { listen: listen!, peers, key: key!, intervalMs, maxEntries, refreshS, sender, role: role!, member, vrrp, bgp };
}

/** An endpoint as ha.ini writes it: ADDRESS:PORT, an IPv6 address in brackets. */
export function formatSyncEndpoint(e: SyncEndpointSetting): string {
  return formatHostPort(e.host, e.port);
}

/** `ADDRESS:PORT`, `[IPv6]:PORT` (monitor/client.ts's HOST:PORT, an address literal only: the socket binds it); undefined (reported) otherwise. */
function endpoint(r: SectionReader, key: string, text: string): SyncEndpointSetting | undefined {
  const p = parseHostPort(text);
  const v6 = p !== undefined && p.host.includes(':');
  if (p === undefined || (!v6 && parseIpv4(p.host) === undefined)) {
    r.problem(key, `expected ADDRESS:PORT like 198.18.0.1:7500 (an IPv6 address in brackets, [2001:db8::1]:7500), got ${quote(text)}`);
    return undefined;
  }
  return { host: p.host, port: p.port, v6 };
}
