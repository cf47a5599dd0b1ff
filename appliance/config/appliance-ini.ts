import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { IniFile } from './ini-file';
import type { Problem } from './problem';
import { quote } from '../text/printable';
import { SectionReader } from './fields';
import { parseListen } from './address';
import { isV6, parseAddress } from '../addr/address';
import { parsePrefixAny } from '../addr/prefix';
import type { ApplianceSettings, CapacityRule, DiversionSettings, IntranetSettings, MonitorSettings, Route } from './tables';
import { readRoutes } from './routes-ini';
import { readSecretFile } from './credentials';
import { KeyBytes, KEY_MAX, KEY_MIN } from './key-file';
import { readMetrics, type MetricsSettings } from './metrics-ini';
import { CAPTURE_SECTION, readCapture, type CaptureSettings } from './capture-ini';
import { EXPORT_SECTION, readExport, type ExportSettings } from './export-ini';

export interface ApplianceIni {
  appliance: ApplianceSettings;
  intranet: IntranetSettings;
  capacityForPriority: CapacityRule[];
  routes: Route[];
  monitor?: MonitorSettings;
  diversion: DiversionSettings;
  metrics?: MetricsSettings;
  capture?: CaptureSettings;
  export?: ExportSettings;
}

const SECTIONS = ['appliance', 'intranet', 'selection', 'routes', 'monitor', 'diversion', 'metrics', CAPTURE_SECTION, EXPORT_SECTION];

/** Workers at most: one queue each on every device. */
const MAX_WORKERS = 64;

export function readApplianceIni(file: IniFile, problems: Problem[], dir = '.'): ApplianceIni {
  for (const s of file.sections.values()) {
    if (!SECTIONS.includes(s.name)) {
      problems.push({ file: file.name, line: s.line, section: s.name, message: `unknown section (expected one of: ${SECTIONS.join(', ')})` });
    }
  }
  const section = (name: string) =>
    new SectionReader(file, file.sections.get(name) ?? { name, line: 0, entries: new Map() }, problems);

  const a = section('appliance');
  const appliance: ApplianceSettings = {
    socksPort: a.port('socks_port', 1080)!,
    idleTimeout: a.int('idle_timeout', 1, 86400 * 7, 300)!,
    halfOpenTimeout: a.int('half_open_timeout', 1, 3600, 10)!,
    maxHalfOpen: a.int('max_half_open', 1, 10_000_000, 20_000)!,
    connectTimeout: a.int('connect_timeout', 1, 300, 5)!,
    maxConnections: a.int('max_connections', 1, 10_000_000, 200_000)!,
    controlSocket: a.raw('control_socket', false) ?? '/run/socksalp/control.sock',
    rpFilter: 'strict',
    workers: 1,
    watchdog: a.int('watchdog_s', 0, 3600, 10)!,
  };
  const w = a.raw('workers', false);
  if (w === 'auto') appliance.workers = Math.min(MAX_WORKERS, availableParallelism());
  else if (w !== undefined) {
    if (/^[0-9]+$/.test(w) && Number(w) >= 1 && Number(w) <= MAX_WORKERS) appliance.workers = Number(w);
    else a.problem('workers', `expected auto or a whole number from 1 to ${MAX_WORKERS}, got ${quote(w)}`);
  }
  const rp = a.raw('rp_filter', false);
  if (rp === 'loose' || rp === 'strict') appliance.rpFilter = rp;
  else if (rp !== undefined) a.problem('rp_filter', `expected strict or loose, got ${quote(rp)}`);
  if (!isAbsolute(appliance.controlSocket)) {
    a.problem('control_socket', `expected an absolute path, got ${quote(appliance.controlSocket)}`);
  }
  a.done();

  const i = section('intranet');
  const vips: number[] = [];
  for (const v of i.list('vip', true) ?? []) {
    const addr = parseAddress(v);
    if (addr === undefined) i.problem('vip', `expected IPv4 or IPv6 addresses separated by commas (198.18.0.100, 2001:db8:18:100::100), got ${quote(v)}`);
    else if (vips.includes(addr)) i.problem('vip', `${quote(v)} is listed twice`);
    else vips.push(addr);
  }
  const intranet: IntranetSettings = {
    tun: i.ifname('tun', 'alp0')!,
    vips,
    mtu: i.int('mtu', 576, 65535, 1500)!,
    nic: i.optionalIfname('nic'),
    address: undefined,
    address6: undefined,
  };
  // The host's addresses on the intranet NIC: one per family, IPv4 and/or IPv6.
  const addresses = i.list('address', false);
  for (const text of addresses ?? []) {
    const p = parsePrefixAny(text);
    const v6 = p !== undefined && isV6(p.address);
    if (p === undefined) i.problem('address', `expected the host's address and prefix like 198.18.0.1/24 or 2001:db8:18::1/64, got ${quote(text)}`);
    else if (v6 ? intranet.address6 : intranet.address) i.problem('address', `${quote(text)}: one address per family`);
    else if (v6) intranet.address6 = p;
    else intranet.address = p;
  }
  if (addresses !== undefined && intranet.nic === undefined) i.problem('address', 'an address needs the nic it goes on');
  // RFC 8200 5: every link IPv6 crosses carries 1280 bytes.
  if (intranet.vips.some(isV6) && intranet.mtu < 1280) i.problem('mtu', `IPv6 VIPs need an mtu of at least 1280 (RFC 8200 5), got ${intranet.mtu}`);
  i.done();

  const s = section('selection');
  const capacityForPriority: CapacityRule[] = [];
  for (const item of s.list('capacity_for_priority', false) ?? ['0:0']) {
    const m = /^(\d{1,3})\s*:\s*(\d{1,7})$/.exec(item);
    if (!m || Number(m[1]) > 255) {
      s.problem('capacity_for_priority', `expected "priority:capacity" pairs (priority 0-255) like "7:10, 4:5, 0:0", got ${quote(item)}`);
      continue;
    }
    const rule = { priority: Number(m[1]), capacity: Number(m[2]) };
    if (capacityForPriority.some((r) => r.priority === rule.priority)) {
      s.problem('capacity_for_priority', `priority ${rule.priority} appears twice`);
      continue;
    }
    capacityForPriority.push(rule);
  }
  // Highest priority first: the first rule whose priority a datagram reaches is its rule.
  capacityForPriority.sort((x, y) => y.priority - x.priority);
  s.done();

  const routes = readRoutes(file, problems);
  const monitor = file.sections.has('monitor') ? readMonitor(section('monitor'), dir) : undefined;
  // The defaults are Linux conntrack's where it has one (nf_conntrack_udp_timeout 30 s), the
  // appliance's own otherwise (its idle and half-open timeouts).
  const d = section('diversion');
  const diversion: DiversionSettings = {
    maxFlows: d.int('max_flows', 1, 10_000_000, 65_536)!,
    udpTimeout: d.int('udp_timeout', 1, 86400, 30)!,
    tcpTimeout: d.int('tcp_timeout', 1, 86400 * 7, appliance.idleTimeout)!,
    unrepliedTimeout: d.int('unreplied_timeout', 1, 3600, appliance.halfOpenTimeout)!,
    dnsTtl: d.int('dns_ttl', 0, 86400, 30)!,
  };
  d.done();
  const metrics = file.sections.has('metrics') ? readMetrics(section('metrics')) : undefined;
  const capture = readCapture(section(CAPTURE_SECTION));
  const exported = readExport(section(EXPORT_SECTION));
  if (appliance.workers > 1) {
    // Their figures and records are the first worker's alone so far: refused rather than partial.
    const alone = [metrics && '[metrics]', exported && '[export]', capture && '[capture]'].filter(Boolean);
    if (alone.length > 0) a.problem('workers', `${appliance.workers} workers cannot be combined with ${alone.join(', ')} yet (they would show the first worker's share only); use workers = 1 with them`);
  }
  return { appliance, intranet, capacityForPriority, routes, monitor, diversion, metrics, capture, export: exported };
}

/** [monitor]: `listen` turns the channel on and needs `key_file`; a relative key_file is taken from the configuration directory. */
function readMonitor(m: SectionReader, dir: string): MonitorSettings | undefined {
  const listen = m.raw('listen', false);
  const keyText = m.raw('key_file', false);
  const maxSkew = m.int('max_skew', 1, 3600, 30)!;
  const rate = m.int('rate', 1, 10_000, 20)!;
  m.done();
  if (listen === undefined) {
    if (m.has('listen')) m.problem('listen', 'value is empty');
    else if (keyText !== undefined) m.problem('key_file', 'a key is for the monitor channel: add listen = ADDRESS:PORT');
    return undefined;
  }
  const at = parseListen(listen);
  if (at === undefined) {
    m.problem('listen', `expected ADDRESS:PORT like 198.18.0.1:2130, got ${quote(listen)}`);
  }
  let key: KeyBytes | undefined;
  if (keyText === undefined) {
    m.problem(m.has('key_file') ? 'key_file' : 'listen', m.has('key_file') ? 'value is empty' : 'the monitor channel needs key_file, the file holding its key');
  } else {
    const path = isAbsolute(keyText) ? keyText : resolve(dir, keyText);
    const got = readSecretFile(path, 'key', KEY_MIN, KEY_MAX);
    if (typeof got === 'string') m.problem('key_file', got);
    else key = new KeyBytes(got, path, 'MonitorKey');
  }
  if (at === undefined || key === undefined) return undefined;
  return { ...at, key, maxSkew, rate };
}
