import type { Config } from '../config/tables';
import type { PacketDecoder } from './packets';
import type { Replayed, Replayer } from './replayer';

export interface ServerSummary {
  server: string;
  connections: number;
  /** Percent of the replayed connections, one decimal. */
  share: number;
  /** The most connections it held at once. */
  peak: number;
}

export interface AlpSummary {
  alp: string;
  priority: number;
  discardEligible: boolean;
  connections: number;
  share: number;
  /** Connections per server that took them; "-" for those no server took. */
  servers: Record<string, number>;
}

/** Per server and per ALP of the configuration (every one, used or not), and the notes on what a capture cannot show. */
export function summarize(config: Config, replayer: Replayer, skipped: PacketDecoder['counts']): { servers: ServerSummary[]; alps: AlpSummary[]; notes: string[] } {
  const rows = replayer.rows;
  const share = (n: number) => (rows.length === 0 ? 0 : Math.round((n / rows.length) * 1000) / 10);
  const servers = config.servers.map((s, i) => {
    const n = rows.filter((r) => r.server === s.name).length;
    return { server: s.name, connections: n, share: share(n), peak: replayer.peak[i] };
  });
  const alps = [...config.alps.records, config.alps.fallback].map((a) => {
    const mine = rows.filter((r) => r.alp === a.name);
    const by: Record<string, number> = {};
    for (const r of mine) by[r.server || '-'] = (by[r.server || '-'] ?? 0) + 1;
    return { alp: a.name, priority: a.priority, discardEligible: a.discardEligible, connections: mine.length, share: share(mine.length), servers: by };
  });
  return { servers, alps, notes: notes(replayer, skipped) };
}

function notes(replayer: Replayer, skipped: PacketDecoder['counts']): string[] {
  const out = [
    'servers are taken as up: live, a server held down after a failure, failing its health check or not yet resolved is ' +
      'skipped, and one that refuses or resets is failed over to the next candidate; the client\'s side of a capture shows neither',
  ];
  const rr = replayer.rows.filter((r) => r.roundRobin > 0).length;
  if (rr > 0) {
    out.push(
      `${rr} connection(s) went to one of several equal servers by round robin (figure 10, step 1007): ` +
        'where it stood when the capture began is not in the capture (taken as before the first server), so which of them took each ' +
        'may differ from the live choice; the counts per server are close to the live ones',
    );
  }
  const moved = pairs(replayer.rows.filter((r) => r.divertedFrom !== ''), (r) => `${r.divertedFrom} -> ${r.server}`);
  if (moved !== undefined) {
    out.push(
      `${moved.count} connection(s) were moved by a server diversion (a diverted-address entry from one server's address:port to another's), ` +
        `as the live appliance moves them while the target can take them: ${moved.text}`,
    );
  }
  const stayed = pairs(replayer.rows.filter((r) => r.divertSkipped !== ''), (r) => `${r.server} -> ${r.divertSkipped}`);
  if (stayed !== undefined) {
    out.push(
      `${stayed.count} connection(s) stayed on their server although a server diversion names another, which does not list their ALP ` +
        `or speak a dialect for them (live: counted as serverDivertSkipped, logged): ${stayed.text}`,
    );
  }
  const s = replayer.stats;
  if (s.withoutSyn > 0) out.push(`${s.withoutSyn} connection(s) to the SOCKS port began before the capture (no SYN in it): not replayed`);
  if (s.retransmitted + s.outOfOrder > 0) out.push(`the clients' bytes were put in sequence order: ${s.retransmitted} retransmitted and ${s.outOfOrder} out-of-order segment(s)`);
  if (s.cutSegments > 0) out.push(`${s.cutSegments} segment(s) were cut by the capture's snap length (capture with a larger tcpdump -s)`);
  if (skipped.fragments > 0) out.push(`${skipped.fragments} IPv4 or IPv6 fragment(s) were skipped: replay does not reassemble fragments`);
  if (skipped.unknownLink > 0) out.push(`${skipped.unknownLink} packet(s) of a link type replay does not read were skipped`);
  if (skipped.malformed > 0) out.push(`${skipped.malformed} malformed IPv4, IPv6, TCP or UDP packet(s) were skipped`);
  return out;
}

/** "sa -> sc 2, sb -> sd 1" over `rows`, and their number; undefined for none. */
function pairs(rows: Replayed[], pair: (r: Replayed) => string): { count: number; text: string } | undefined {
  if (rows.length === 0) return undefined;
  const by = new Map<string, number>();
  for (const r of rows) by.set(pair(r), (by.get(pair(r)) ?? 0) + 1);
  return { count: rows.length, text: [...by].map(([p, n]) => `${p} ${n}`).join(', ') };
}
