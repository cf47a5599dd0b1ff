import { dirname, isAbsolute, resolve } from 'node:path';
import { readSecretFile } from '../config/credentials';
import { readIniFile, QUALIFIED_SECTION_NAME } from '../config/ini-file';
import { SectionReader } from '../config/fields';
import { ConfigError, type Problem } from '../config/problem';
import { quote } from '../text/printable';
import { parseHostPort } from './client';
import { KeyBytes, KEY_MAX, KEY_MIN } from '../config/key-file';
import type { Policy } from './policy';

/** One appliance the monitor watches: `[appliance NAME]`. */
export interface WatchedAppliance {
  name: string;
  host: string;
  port: number;
  key: KeyBytes;
}

export interface MonitorConfig {
  path: string;
  policy: Policy;
  appliances: WatchedAppliance[];
}

const APPLIANCE = /^appliance ([A-Za-z0-9_-]+)$/;

/**
 * monitor.ini, the network monitor's own file (conf/monitor.ini documents each key):
 *   [policy]          interval, polls, latency, latency_p99_ms, load, failures, their recover_*
 *                     thresholds, hold_down, restore_on_exit
 *   [appliance NAME]  monitor = ADDRESS:PORT (its [monitor] listen), key_file = FILE
 * Every problem is collected (file, line, section, key) and thrown as one ConfigError.
 */
export function loadMonitorConfig(path: string): MonitorConfig {
  const problems: Problem[] = [];
  const file = readIniFile(path, problems, QUALIFIED_SECTION_NAME);
  if (!file) throw new ConfigError(problems);
  const empty = { name: 'policy', line: 0, entries: new Map() };
  const p = new SectionReader(file, file.sections.get('policy') ?? empty, problems);
  const policy = readPolicy(p);
  p.done();
  const appliances: WatchedAppliance[] = [];
  for (const section of file.sections.values()) {
    if (section.name === 'policy') continue;
    const m = APPLIANCE.exec(section.name);
    if (!m) {
      problems.push({ file: file.name, line: section.line, section: section.name, message: 'unknown section (expected [policy] or [appliance NAME])' });
      continue;
    }
    const r = new SectionReader(file, section, problems);
    const at = r.raw('monitor', true);
    const keyFile = r.raw('key_file', true);
    r.done();
    const hp = at === undefined ? undefined : parseHostPort(at);
    if (at !== undefined && !hp) r.problem('monitor', `expected the appliance's [monitor] listen, ADDRESS:PORT like 198.18.0.1:2130 (an IPv6 address in brackets, [2001:db8::1]:2130), got ${quote(at)}`);
    let key: KeyBytes | undefined;
    if (keyFile !== undefined) {
      const full = isAbsolute(keyFile) ? keyFile : resolve(dirname(path), keyFile);
      const got = readSecretFile(full, 'key', KEY_MIN, KEY_MAX);
      if (typeof got === 'string') r.problem('key_file', got);
      else key = new KeyBytes(got, full, 'MonitorKey');
    }
    if (hp && key) appliances.push({ name: m[1], host: hp.host, port: hp.port, key });
  }
  if (!problems.length && appliances.length === 0) problems.push({ file: file.name, message: 'no [appliance NAME] section: the monitor has nothing to watch' });
  if (problems.length) throw new ConfigError(problems);
  return { path, policy, appliances };
}

function readPolicy(r: SectionReader): Policy {
  const interval = r.int('interval', 1, 3600, 2)!;
  const polls = r.int('polls', 1, 100, 3)!;
  const latencyKind = r.raw('latency', false) ?? 'reply';
  if (latencyKind !== 'reply' && latencyKind !== 'handshake') r.problem('latency', `expected reply (SYN to the server's SOCKS reply) or handshake (SYN to SYN-ACK), got ${quote(latencyKind)}`);
  const latencyMs = threshold(r, 'latency_p99_ms', 1, 600_000, 1000, true);
  const load = threshold(r, 'load', 0.01, 100, 0.9, false);
  const failures = threshold(r, 'failures', 0, 1_000_000, 10, true);
  const recover = (key: string, trip: number | undefined, whole: boolean, max: number): number => {
    const v = threshold(r, key, 0, max, trip === undefined ? 0 : whole ? Math.floor(trip / 2) : trip / 2, whole, false) ?? 0;
    if (trip !== undefined && v >= trip && !(trip === 0 && v === 0)) r.problem(key, `expected less than the trip threshold ${trip} (hysteresis: a server recovers below where it tripped), got ${v}`);
    return v;
  };
  const policy: Policy = {
    interval,
    polls,
    latency: latencyKind === 'handshake' ? 'handshake' : 'reply',
    latencyMs,
    load,
    failures,
    recoverLatencyMs: recover('recover_latency_p99_ms', latencyMs, true, 600_000),
    recoverLoad: recover('recover_load', load, false, 100),
    recoverFailures: recover('recover_failures', failures, true, 1_000_000),
    holdDown: r.int('hold_down', 0, 86400, 30)!,
    restoreOnExit: r.bool('restore_on_exit', false),
  };
  if (latencyMs === undefined && load === undefined && failures === undefined) r.problem(undefined, 'latency_p99_ms, load and failures are all off: nothing could trip a diversion');
  return policy;
}

/** A number from `min` to `max` (whole when `whole`), or `off` (undefined) when `offOk`. */
function threshold(r: SectionReader, key: string, min: number, max: number, fallback: number, whole: boolean, offOk = true): number | undefined {
  const v = r.raw(key, false);
  if (v === undefined) return fallback;
  if (offOk && v.toLowerCase() === 'off') return undefined;
  const ok = whole ? /^\d+$/.test(v) : /^\d+(?:\.\d+)?$/.test(v);
  if (!ok || Number(v) < min || Number(v) > max) {
    r.problem(key, `expected ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}${offOk ? ', or off' : ''}, got ${quote(v)}`);
    return fallback;
  }
  return Number(v);
}
