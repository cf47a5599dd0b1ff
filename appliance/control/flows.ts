import type { Appliance } from '../appliance';
import { formatAddressPort, isV6 } from '../addr/address';
import { FLOW_CLOSING, FLOW_REPLIED } from '../divert/current';
import { PROTO_TCP } from '../wire/ipv4';

/** A row of the current connections (patent figure 2b, 211), for `ctl flows` and the monitor. */
export interface FlowRow {
  proto: 'tcp' | 'udp';
  client: string;
  /** Where the client sent it (the first pair's destination) and where it goes (the second pair's). */
  original: string;
  diverted: string;
  /** The appliance's own address and port on the egress segment. */
  own: string;
  state: 'unreplied' | 'replied' | 'closing';
  age: number;
  idle: number;
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
}

/** One page of the current connections, in row order, keeping rows whose text contains `filter`. */
export function flows(a: Appliance, offset: number, limit: number, filter: string): { total: number; matched: number; rows: FlowRow[] } {
  const d = a.forwarder.diversion;
  const f = d.flows;
  const now = a.now();
  const want = filter.toLowerCase();
  const rows: FlowRow[] = [];
  let matched = 0;
  for (let r = 0; r < f.capacity && (f.size > matched || want !== ''); r++) {
    if (f.used[r] === 0) continue;
    const flags = f.flags[r];
    const seg = a.forwarder.segments[f.segment[r]];
    const row: FlowRow = {
      proto: f.proto[r] === PROTO_TCP ? 'tcp' : 'udp',
      client: formatAddressPort(f.clientAddr[r], f.clientPort[r]),
      original: formatAddressPort(f.origAddr[r], f.origPort[r]),
      diverted: formatAddressPort(f.divAddr[r], f.divPort[r]),
      own: formatAddressPort(isV6(f.divAddr[r]) ? seg.local6 : seg.local, f.ownPort[r]),
      state: flags & FLOW_CLOSING ? 'closing' : flags & FLOW_REPLIED ? 'replied' : 'unreplied',
      age: Math.round(now - f.created[r]),
      idle: Math.round(now - f.lastSeen[r]),
      packetsOut: f.packetsOut[r],
      bytesOut: f.bytesOut[r],
      packetsIn: f.packetsIn[r],
      bytesIn: f.bytesIn[r],
    };
    if (want !== '' && !`${row.proto} ${row.client} ${row.original} ${row.diverted} ${row.state}`.includes(want)) continue;
    if (matched >= offset && rows.length < limit) rows.push(row);
    matched++;
  }
  return { total: f.size, matched, rows };
}

/** The diversion's counters for `ctl status`. */
export function diversionStatus(a: Appliance) {
  const d = a.forwarder.diversion;
  return { flows: d.flows.size, maxFlows: d.flows.capacity, table: { ...d.flows.stats }, ...d.stats, nameServer: { ...d.ens.counters } };
}
