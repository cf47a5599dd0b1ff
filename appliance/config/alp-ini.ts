import type { IniFile } from './ini-file';
import type { Problem } from './problem';
import { quote } from '../text/printable';
import { SectionReader } from './fields';
import type { AlpRecord, AlpTable } from './tables';

const PRIORITY_MAX = 255;

/** Reads the Socks ALP Configuration table: one section per ALP plus `[default]`. */
export function readAlpIni(file: IniFile, problems: Problem[]): AlpTable {
  const records: AlpRecord[] = [];
  const portOwner = new Map<number, string>();
  let fallback: AlpRecord = { name: 'default', ports: [], priority: 0, discardEligible: true };

  for (const section of file.sections.values()) {
    const r = new SectionReader(file, section, problems);
    const isDefault = section.name === 'default';
    if (!/^[a-z][a-z0-9_-]*$/.test(section.name)) {
      r.problem(undefined, 'ALP names start with a lower-case letter and use a-z, 0-9, "_" and "-"');
    }
    const ports: number[] = [];
    if (!isDefault) {
      for (const item of r.list('ports', true) ?? []) {
        const p = /^\d{1,5}$/.test(item) ? Number(item) : NaN;
        if (!(p >= 1 && p <= 65535)) {
          r.problem('ports', `expected destination ports 1-65535 separated by commas, got ${quote(item)}`);
        } else if (portOwner.has(p)) {
          r.problem('ports', `port ${p} already belongs to ALP ${quote(portOwner.get(p)!)}; a port names one ALP`);
        } else {
          portOwner.set(p, section.name);
          ports.push(p);
        }
      }
    }
    const record: AlpRecord = {
      name: section.name,
      ports,
      priority: r.int('priority', 0, PRIORITY_MAX) ?? 0,
      discardEligible: r.bool('discard_eligible'),
    };
    r.done();
    if (isDefault) fallback = record;
    else records.push(record);
  }
  if (!file.sections.has('default')) {
    problems.push({ file: file.name, section: 'default', message: 'missing section: [default] gives the priority and discard eligibility of ALPs not listed' });
  }
  return { records, fallback };
}
