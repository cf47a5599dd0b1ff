import { formatTable } from '../text/table';
import type { ReplayResult } from './replay';
import type { Replayed } from './replayer';

const OUTCOME: Record<Replayed['outcome'], string> = { server: '', refused: 'refused', 'no-server': 'no server', incomplete: 'incomplete' };

/** The replay as an operator reads it: each connection, then per server and per ALP, the routed flows and the notes. */
export function formatReplay(r: ReplayResult): string {
  const c = r.capture;
  const out: string[] = [
    `capture ${c.file}: ${c.format}, ${c.linkTypes.join(', ') || 'no interface'}, ${c.packets} packet(s) over ${c.seconds.toFixed(3)} s; configuration ${r.config}`,
    '',
    `SOCKS connections (${r.connections.length}):`,
  ];
  if (r.connections.length > 0) {
    out.push(formatTable(
      ['START', 'CLIENT', 'DESTINATION', 'DIVERTED', 'DIALECT', 'ALP', 'PRIO', 'DISCARD', 'SERVER', 'WHY'],
      r.connections.map((x) => [
        x.start.toFixed(3), x.client, x.destination || '-', x.diverted || '-', x.dialect || '-', x.alp || '-',
        x.priority === null ? '-' : String(x.priority), x.discardEligible === null ? '-' : x.discardEligible ? 'yes' : 'no',
        x.divertedFrom ? `${x.server} (diverted from ${x.divertedFrom})` : x.server || '-', why(x),
      ]),
    ));
  }
  out.push('', 'Servers:', formatTable(['SERVER', 'CONNS', 'SHARE', 'PEAK'], r.servers.map((s) => [s.server, String(s.connections), percent(s.share), String(s.peak)])));
  const none = r.connections.filter((x) => x.outcome !== 'server');
  if (none.length > 0) {
    const n = (o: Replayed['outcome']) => none.filter((x) => x.outcome === o).length;
    out.push(`  without a server: ${none.length} (refused ${n('refused')}, no server ${n('no-server')}, incomplete ${n('incomplete')})`);
  }
  out.push('', 'ALPs:', formatTable(
    ['ALP', 'PRIO', 'DISCARD', 'CONNS', 'SHARE', 'SERVERS'],
    r.alps.map((a) => [a.alp, String(a.priority), a.discardEligible ? 'yes' : 'no', String(a.connections), percent(a.share), Object.entries(a.servers).map(([s, k]) => `${s} ${k}`).join(', ')]),
  ));
  if (r.routed.length > 0) {
    out.push('', `Routed flows (${r.routed.length}):`, formatTable(
      ['START', 'PROTO', 'CLIENT', 'DESTINATION', 'DIVERTED', 'ROUTE'],
      r.routed.map((f) => [f.start.toFixed(3), f.protocol, f.client, f.destination, f.diverted || '-', f.route || 'none: ICMP network unreachable']),
    ));
  }
  out.push('', 'Notes:', ...r.notes.map((n) => `  - ${n}`));
  return out.join('\n');
}

function why(x: Replayed): string {
  if (x.outcome === 'server') {
    const rr = x.roundRobin > 0 ? `round robin among ${x.roundRobin}` : '';
    const skipped = x.divertSkipped ? `diverted to ${x.divertSkipped}, which cannot take it` : '';
    return rr && skipped ? `${rr}; ${skipped}` : rr || skipped;
  }
  return `${OUTCOME[x.outcome]}: ${x.why}`;
}

function percent(n: number): string {
  return `${n.toFixed(1)}%`;
}
