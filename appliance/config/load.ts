import { formatAddress, formatAddressPort, isV6 } from '../addr/address';
import { formatPrefixAny, inPrefixAny, notAHost } from '../addr/prefix';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readIniFile, type IniFile } from './ini-file';
import { ConfigError, type Problem } from './problem';
import { quote } from '../text/printable';
import { readApplianceIni } from './appliance-ini';
import { readAlpIni } from './alp-ini';
import { readServersIni } from './servers-ini';
import { readDivertedIni } from './diverted-ini';
import { checkRoutes } from './routes-ini';
import { HA_FILE, loadHa, type HaSettings } from './ha-ini';
import type { Config } from './tables';

const CONFIG_FILES = ['appliance.ini', 'alp.ini', 'servers.ini'] as const;
/** Optional: absent, the diverted-address table is empty. */
const DIVERTED_FILE = 'diverted.ini';
const IPV6_MIN_MTU = 1280;

/**
 * Loads and validates the three INI files of a configuration directory, and diverted.ini
 * when there is one.
 * Returns the tables, or throws a ConfigError listing every problem found: each file is
 * checked on its own first, then the rules that span files (names, segments, addresses).
 */
export function loadConfig(dir: string): Config {
  const problems: Problem[] = [];
  const abs = resolve(dir);
  const [applianceFile, alpFile, serversFile] = CONFIG_FILES.map((f) => readIniFile(join(abs, f), problems));
  // Each file that could be read is validated on its own, so one run reports all it can.
  const applianceIni = applianceFile && readApplianceIni(applianceFile, problems, abs);
  const alps = alpFile && readAlpIni(alpFile, problems);
  const servers = serversFile && readServersIni(serversFile, problems, abs);
  const divertedPath = join(abs, DIVERTED_FILE);
  const divertedPresent = exists(divertedPath);
  const divertedFile = divertedPresent ? readIniFile(divertedPath, problems) : undefined;
  const diverted = divertedFile ? readDivertedIni(divertedFile, problems, divertedPath) : { path: divertedPath, present: false, entries: [] };
  // Optional: absent, a single appliance (issue 16's HA pair otherwise).
  let ha: HaSettings | undefined;
  try {
    ha = loadHa(abs);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (!applianceFile || !alpFile || !serversFile || !applianceIni || !alps || !servers || (divertedPresent && !divertedFile)) throw new ConfigError(problems);
  const { appliance, intranet, capacityForPriority, routes, monitor, diversion, metrics, capture, export: exportSettings } = applianceIni;

  const at = (file: IniFile, section: string, key?: string): Pick<Problem, 'file' | 'line' | 'section' | 'key'> => {
    const s = file.sections.get(section);
    return { file: file.name, line: (key && s?.entries.get(key)?.line) || s?.line, section, key };
  };

  const alpNames = new Set(alps.records.map((a) => a.name));
  const defaults = servers.filter((s) => s.isDefault);
  if (defaults.length > 1) {
    for (const s of defaults.slice(1)) {
      problems.push({ ...at(serversFile, s.name, 'default'), message: `only one server may be the default; ${quote(defaults[0].name)} already is` });
    }
  }
  const endpoints = new Map<string, string>();
  for (const s of servers) {
    if (!s.alps.all) {
      for (const name of s.alps.names) {
        if (!alpNames.has(name)) {
          const known = [...alpNames].join(', ') || 'none';
          problems.push({ ...at(serversFile, s.name, 'alps'), message: `ALP ${quote(name)} is not defined in alp.ini (defined: ${known})` });
        }
      }
    }
    if (!inPrefixAny(s.address, s.local)) {
      problems.push({ ...at(serversFile, s.name, 'address'), message: `${formatAddress(s.address)} is not on the segment ${formatPrefixAny(s.local)} given by "local"` });
    } else if (s.address === s.local.address) {
      problems.push({ ...at(serversFile, s.name, 'address'), message: `${formatAddress(s.address)} is the appliance's own "local" address` });
    }
    if (notAHost(s.local)) {
      problems.push({ ...at(serversFile, s.name, 'local'), message: `${formatPrefixAny(s.local)} is the segment's ${isV6(s.local.address) ? 'Subnet-Router anycast' : 'network or broadcast'} address, not a host address` });
    }
    const endpoint = formatAddressPort(s.address, s.port);
    const twin = endpoints.get(endpoint);
    if (twin) problems.push({ ...at(serversFile, s.name, 'address'), message: `${endpoint} is already server ${quote(twin)}` });
    else endpoints.set(endpoint, s.name);
    if (s.tap === intranet.tun) {
      problems.push({ ...at(serversFile, s.name, 'tap'), message: `${quote(s.tap)} is the intranet TUN device of appliance.ini` });
    }
    for (const vip of intranet.vips) {
      if (inPrefixAny(vip, s.local)) {
        problems.push({ ...at(applianceFile, 'intranet', 'vip'), message: `VIP ${formatAddress(vip)} lies on server ${quote(s.name)}'s segment ${formatPrefixAny(s.local)}` });
      }
    }
  }
  // One TAP reaches one segment: servers sharing a TAP must agree on the appliance's address
  // there, one per family (a dual-stack segment).
  const segments = new Map<string, (typeof servers)[number]>();
  const locals4 = new Map<string, (typeof servers)[number]>();
  const locals6 = new Map<string, (typeof servers)[number]>();
  for (const s of servers) {
    const family = isV6(s.local.address) ? locals6 : locals4;
    const first = family.get(s.tap);
    if (!first) family.set(s.tap, s);
    else if (first.local.address !== s.local.address || first.local.length !== s.local.length) {
      problems.push({
        ...at(serversFile, s.name, 'local'),
        message: `TAP ${quote(s.tap)} is already on segment ${formatPrefixAny(first.local)} (server ${quote(first.name)}); servers on one TAP share one "local" of each family`,
      });
    }
    if (!segments.has(s.tap)) segments.set(s.tap, s);
  }
  // NICs (a dedicated host): one segment per NIC, and not the intranet's.
  const nicOwner = new Map<string, (typeof servers)[number]>();
  for (const s of servers) {
    if (s.nic === undefined) continue;
    if (s.nic === intranet.nic) {
      problems.push({ ...at(serversFile, s.name, 'nic'), message: `${quote(s.nic)} is the intranet's nic in appliance.ini` });
    }
    const first = nicOwner.get(s.nic);
    if (first && first.tap !== s.tap) {
      problems.push({ ...at(serversFile, s.name, 'nic'), message: `nic ${quote(s.nic)} is already bridged with TAP ${quote(first.tap)} (server ${quote(first.name)}); one NIC carries one segment` });
    } else if (!first) nicOwner.set(s.nic, s);
    const twin = segments.get(s.tap);
    if (twin && twin.nic !== s.nic) {
      problems.push({ ...at(serversFile, s.name, 'nic'), message: `servers on TAP ${quote(s.tap)} must name the same nic (${quote(twin.name)} has ${twin.nic ?? 'none'})` });
    }
  }
  checkRoutes(routes, servers, (key) => at(applianceFile, 'routes', key), problems);
  // RFC 8200 5: every link IPv6 crosses carries 1280 bytes (appliance-ini.ts says so for IPv6 VIPs).
  if (intranet.mtu < IPV6_MIN_MTU && !intranet.vips.some(isV6) && routes.some((r) => isV6(r.prefix.address))) {
    problems.push({ ...at(applianceFile, 'intranet', 'mtu'), message: `IPv6 routes need an mtu of at least ${IPV6_MIN_MTU} (RFC 8200 5), got ${intranet.mtu}` });
  }

  if (ha && appliance.workers > 1) {
    problems.push({ ...at(applianceFile, 'appliance', 'workers'), message: `${appliance.workers} workers cannot be combined with ${HA_FILE}'s sync yet (each worker holds its own connections); use workers = 1 with it` });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { dir: abs, loadedAt: new Date(), appliance, intranet, capacityForPriority, routes, alps, servers, diverted, monitor, diversion, metrics, capture, export: exportSettings, ha };
}

/** False only when nothing is there: any other failure is left for readIniFile to report. */
function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}
