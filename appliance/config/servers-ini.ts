import type { IniFile } from './ini-file';
import type { Problem } from './problem';
import { quote } from '../text/printable';
import { SectionReader } from './fields';
import { parsePrefix } from './address';
import { SOCKS_VERSIONS, type ServerRecord, type SocksVersion } from './tables';

/** Reads the Socks Server ALP Configuration table: one section per SOCKS server. */
export function readServersIni(file: IniFile, problems: Problem[]): ServerRecord[] {
  const servers: ServerRecord[] = [];
  for (const section of file.sections.values()) {
    const r = new SectionReader(file, section, problems);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(section.name)) {
      r.problem(undefined, 'server names start with a letter and use up to 32 letters, digits, "_" and "-"');
    }
    const address = r.ipv4('address');
    const port = r.port('port', 1080)!;
    const tap = r.ifname('tap');

    const localText = r.raw('local', true);
    const local = localText === undefined ? undefined : parsePrefix(localText);
    if (localText !== undefined && (local === undefined || local.length < 8 || local.length > 30)) {
      r.problem('local', `expected the appliance's address and segment prefix like 198.19.1.1/24 (prefix 8-30), got ${quote(localText)}`);
    }

    const mac = r.mac('mac');
    const capacity = r.int('capacity', 0, 1_000_000, 0)!;

    const alpsText = r.list('alps', false) ?? ['ALL'];
    const all = alpsText.some((a) => a.toUpperCase() === 'ALL');
    if (all && alpsText.length > 1) r.problem('alps', 'ALL stands alone: it already means every ALP');

    const isDefault = r.bool('default', false);

    const versions: SocksVersion[] = [];
    for (const v of r.list('versions', false) ?? ['4', '5']) {
      const known = SOCKS_VERSIONS.find((k) => k === v.toLowerCase());
      if (known === undefined) r.problem('versions', `expected SOCKS versions among 4, 4a and 5, got ${quote(v)}`);
      else if (!versions.includes(known)) versions.push(known);
    }
    const queueLimit = r.int('queue_limit', 16, 1_000_000, 4096)!;
    const nic = r.optionalIfname('nic');
    r.done();

    if (address === undefined || tap === undefined || local === undefined) continue;
    servers.push({
      name: section.name,
      address,
      port,
      tap,
      local,
      mac,
      capacity,
      alps: all ? { all: true } : { all: false, names: alpsText },
      isDefault,
      versions,
      queueLimit,
      nic,
    });
  }
  // Selection keeps the servers a connection already tried in one 32-bit mask.
  if (file.sections.size > 31) {
    problems.push({ file: file.name, message: `${file.sections.size} servers: at most 31 are supported` });
  }
  if (file.sections.size === 0) {
    problems.push({ file: file.name, message: 'no servers: define at least one [server] section' });
  }
  return servers;
}
