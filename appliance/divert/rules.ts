import { formatEndpoint, formatHost, withHostPort, type DivertedEntry } from './endpoint';

/**
 * The rules a diverted-address table keeps, whether read from diverted.ini or changed by the
 * operator: no entry diverts to itself, and no chain of entries comes back to where it began.
 *
 * A lookup applies one entry (`DivertedAddresses.lookup`). A cycle is refused all the same: it
 * is a mistake (the operator meant one of the two directions), and a table without cycles keeps
 * any later step that follows diversions (a monitor's instruction, a second appliance) finite.
 *
 * Names and addresses are atoms here: a name never equals an address, nor an IPv4 address an
 * IPv6 one (::ffff:203.0.113.80 is not 203.0.113.80: nothing translates), since nothing is resolved
 * (`web.socksalp.test = 203.0.113.81` with `203.0.113.80 = web.socksalp.test` is no cycle here, even
 * when the name resolves to 203.0.113.80); `web.socksalp.test = 203.0.113.81` with
 * `203.0.113.81 = web.socksalp.test` is one. Names are compared as normalized (case, trailing dot).
 */

export type Fault =
  /** `entries[index]` sends every destination it matches to that same destination. */
  | { kind: 'self'; index: number }
  /**
   * The entries `indices` (in the order a destination meets them) lead back to the start.
   * `path` shows it: the destinations met, the first again at the end; an address without a port
   * stands for every port that no entry names.
   */
  | { kind: 'cycle'; indices: number[]; path: string };

/** Port 0 is no TCP port: it stands for "any port that no entry names". */
const OTHER_PORT = 0;

interface State {
  host: string;
  port: number;
}

/**
 * Every self-diversion and every cycle among `entries` (whose originals are distinct). Each
 * cycle is reported once. Cost: about one step per (host, port) pair a walk can reach from an
 * entry's original or from a port an entry sets; tables of thousands of entries are checked in
 * milliseconds.
 *
 * How: a destination is a state (host, port), and the table a function from state to state (the
 * entry `lookup` would pick; none: the walk ends). A state that maps to itself is a fixed point
 * (`203.0.113.80 = 203.0.113.80:8080` leaves 203.0.113.80:8080 as it is) and ends the walk, not
 * a cycle. The ports that matter are those some entry names; all others behave alike and are
 * walked as one, OTHER_PORT. A port once set stays set (an entry either keeps it or names one),
 * so every cycle passes through an entry's original or a port an entry names, or consists only of
 * port-keeping entries for every port, which the OTHER_PORT walk from their originals finds.
 */
export function findFaults(entries: readonly DivertedEntry[]): Fault[] {
  const faults: Fault[] = [];
  // host -> its address-only entry, and its entries by port.
  const byHost = new Map<string, { any: number; ports: Map<number, number> }>();
  for (let i = 0; i < entries.length; i++) {
    const { original, diverted } = entries[i];
    if (formatHost(original) === formatHost(diverted) && (diverted.port === undefined || diverted.port === original.port)) {
      faults.push({ kind: 'self', index: i });
    }
    const host = formatHost(original);
    let row = byHost.get(host);
    if (!row) byHost.set(host, (row = { any: -1, ports: new Map() }));
    if (original.port === undefined) row.any = i;
    else row.ports.set(original.port, i);
  }

  const step = (s: State): number => {
    const row = byHost.get(s.host);
    if (!row) return -1;
    return (s.port === OTHER_PORT ? undefined : row.ports.get(s.port)) ?? row.any;
  };
  const key = (s: State) => `${s.port} ${s.host}`;
  const show = (s: State) => withHostPort(s.host, s.port === OTHER_PORT ? undefined : s.port);

  const starts: State[] = [];
  for (const { original, diverted } of entries) {
    starts.push({ host: formatHost(original), port: original.port ?? OTHER_PORT });
    if (diverted.port !== undefined) starts.push({ host: formatHost(diverted), port: diverted.port });
  }

  const done = new Set<string>();
  for (const start of starts) {
    const path: State[] = [];
    const via: number[] = [];
    const onPath = new Map<string, number>();
    let s = start;
    for (;;) {
      const k = key(s);
      if (done.has(k)) break;
      const at = onPath.get(k);
      if (at !== undefined) {
        const states = path.slice(at);
        faults.push({ kind: 'cycle', indices: via.slice(at), path: [...states, s].map(show).join(' -> ') });
        break;
      }
      onPath.set(k, path.length);
      path.push(s);
      const i = step(s);
      if (i < 0) break;
      const d = entries[i].diverted;
      const next = { host: formatHost(d), port: d.port ?? s.port };
      if (next.host === s.host && next.port === s.port) break;
      via.push(i);
      s = next;
    }
    for (const k of onPath.keys()) done.add(k);
  }
  return faults;
}

/** A fault as a sentence about the entries it names, for the operator (`text` shows an entry). */
export function describeFault(f: Fault, entries: readonly DivertedEntry[]): string {
  if (f.kind === 'self') {
    const e = entries[f.index];
    return `${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)} diverts to itself`;
  }
  return `a cycle of diversions: ${f.path}`;
}
