import type { SectionReader } from './fields';
import { parseListen } from './address';
import { quote } from '../text/printable';

export const EXPORT_SECTION = 'export';

/** appliance.ini [export]: IPFIX flow export (export/exporter.ts); absent when `ipfix` is not set. */
export interface ExportSettings {
  /** The collector, `ipfix = ADDRESS:PORT`, over UDP. */
  address: number;
  port: number;
  /** Seconds between interim records of a connection still open (flowEndReason active timeout). */
  interim: number;
  /** Seconds between sendings of the template (RFC 7011 8.4: over UDP it is resent periodically). */
  templateRefresh: number;
  /** The Observation Domain ID of every message (RFC 7011 3.1). */
  observationDomain: number;
}

/** Reads [export]. The other keys without `ipfix` are reported: they would do nothing. */
export function readExport(e: SectionReader): ExportSettings | undefined {
  const target = e.raw('ipfix', false);
  const interim = e.int('interim', 1, 86400, 60)!;
  const templateRefresh = e.int('template_refresh', 1, 86400, 60)!;
  const observationDomain = e.int('observation_domain', 0, 4294967295, 0)!;
  e.done();
  if (target === undefined) {
    if (e.has('ipfix')) e.problem('ipfix', 'value is empty');
    else for (const k of ['interim', 'template_refresh', 'observation_domain']) if (e.has(k)) e.problem(k, 'export is off: add ipfix = ADDRESS:PORT');
    return undefined;
  }
  const at = parseListen(target);
  if (!at) {
    e.problem('ipfix', `expected the collector as ADDRESS:PORT like 198.18.0.2:4739, got ${quote(target)}`);
    return undefined;
  }
  return { ...at, interim, templateRefresh, observationDomain };
}
