import type { IniFile } from './ini-file';
import type { Problem } from './problem';
import type { DivertedTable } from './tables';
import { quote } from '../text/printable';
import { formatEndpoint, parseEndpoint, type DivertedEntry } from '../divert/endpoint';
import { findFaults } from '../divert/rules';

export const DIVERTED_SECTION = 'diverted';

/**
 * Reads diverted.ini: one `[diverted]` section of `ORIGINAL = DIVERTED` lines, each side
 * `203.0.113.80:8080`, `203.0.113.80`, `[2001:db8::80]:8080`, `2001:db8::80`,
 * `web.socksalp.test:80` or `web.socksalp.test`.
 * Reports bad endpoints, two keys that name one original (`Web.Socksalp.Test` and
 * `web.socksalp.test.`; ini-file.ts reports keys written twice alike), an entry diverting to
 * itself, cycles (appliance/divert/rules.ts) and any other section. `path` is the file's
 * absolute path, kept for `save`.
 */
export function readDivertedIni(file: IniFile, problems: Problem[], path: string): DivertedTable {
  const entries: DivertedEntry[] = [];
  const lines: number[] = [];
  const keys: string[] = [];
  const before = problems.length;
  const section = file.sections.get(DIVERTED_SECTION);
  const firstLine = new Map<string, { line: number; key: string }>();
  for (const [key, e] of section?.entries ?? []) {
    const at = { file: file.name, line: e.line, section: DIVERTED_SECTION, key };
    const o = parseEndpoint(key);
    if (!o.ok) problems.push({ ...at, message: `expected the original as address:port ([IPv6]:port), address, host name:port or host name (${o.why}), got ${quote(key)}` });
    let d: ReturnType<typeof parseEndpoint> | undefined;
    if (e.value === '') problems.push({ ...at, message: 'value is empty: expected the diverted address:port ([IPv6]:port), address, host name:port or host name' });
    else {
      d = parseEndpoint(e.value);
      if (!d.ok) problems.push({ ...at, message: `expected the diverted side as address:port ([IPv6]:port), address, host name:port or host name (${d.why}), got ${quote(e.value)}` });
    }
    if (!o.ok) continue;
    const canonical = formatEndpoint(o.endpoint);
    const first = firstLine.get(canonical);
    if (first) {
      problems.push({ ...at, message: `${quote(first.key)} at line ${first.line} is the same original (host names are compared without case and trailing dot)` });
      continue;
    }
    firstLine.set(canonical, { line: e.line, key });
    if (!d?.ok) continue;
    entries.push({ original: o.endpoint, diverted: d.endpoint });
    lines.push(e.line);
    keys.push(key);
  }
  // Self-diversions and cycles once every entry parsed: without a mistyped entry the others
  // could seem to make a cycle that the file, corrected, does not.
  if (problems.length === before) {
    const faults: Problem[] = [];
    for (const f of findFaults(entries)) {
      if (f.kind === 'self') {
        const i = f.index;
        faults.push({ file: file.name, line: lines[i], section: DIVERTED_SECTION, key: keys[i], message: `diverts to itself (${quote(formatEndpoint(entries[i].diverted))})` });
      } else {
        // Reported once, at the entry written last; the message names the others' lines.
        const last = f.indices.reduce((a, b) => (lines[b] > lines[a] ? b : a));
        const others = [...new Set(f.indices.filter((i) => i !== last).map((i) => lines[i]))].sort((a, b) => a - b);
        const also = others.length === 0 ? '' : ` with line${others.length > 1 ? 's' : ''} ${others.join(', ')}`;
        faults.push({ file: file.name, line: lines[last], section: DIVERTED_SECTION, key: keys[last], message: `makes a cycle${also}: ${f.path}` });
      }
    }
    problems.push(...faults.sort((a, b) => a.line! - b.line!));
  }
  for (const other of file.sections.values()) {
    if (other.name !== DIVERTED_SECTION) {
      problems.push({ file: file.name, line: other.line, section: other.name, message: `unknown section: diverted.ini has one section, [${DIVERTED_SECTION}]` });
    }
  }
  return { path, present: true, entries };
}
