import type { ServerFigures, TableEntry } from './figures';

/**
 * The network monitor's model and decisions (the network-management patent's monitor 125:
 * "one of the mirror servers 113 may be overloaded while another of the mirror servers 119 is
 * working below capacity ... traffic from the overloaded mirror server 113 [is] diverted to the
 * under-loaded mirror server 119"). Pure: figures and the time in, decisions out; the watcher
 * (watcher.ts) polls, sends and logs. One Model per appliance.
 *
 * Per server, each poll:
 *   latency  the window's p99 to the server's SOCKS reply (or SYN-ACK: `latency = handshake`),
 *            and the latency of its active check when servers.ini gives it one (a check that
 *            failed counts as over); the larger. The window's figures count only once the
 *            window has turned over since the server was last diverted or restored: before,
 *            it holds connections from before the change (a diverted server gets no new ones).
 *   load     active connections / capacity (capacity 0: no load figure).
 *   failures failed connections in the last 60 s, not counting those before the last change.
 * Trip: any figure over its threshold on `polls` polls in a row, the server not diverted, and
 * hold_down seconds since its last change: it is diverted to the server with the most spare
 * capacity (capacity - active > 0) that is up, carries every ALP it carries, is neither over a
 * threshold nor itself diverted. Servers diverted to a server that trips follow it elsewhere.
 * Restore: every figure at or below its recover threshold (an unknown latency is not) for
 * hold_down seconds, and hold_down since the diversion.
 *
 * The appliance's table is the truth: server diversions found in it (a previous run's, an
 * operator's) are adopted; ones that vanish (a reload, an operator) are forgotten.
 */

export interface Policy {
  /** Seconds between polls. */
  interval: number;
  /** Polls in a row over a threshold before a diversion. */
  polls: number;
  latency: 'reply' | 'handshake';
  /** Trip thresholds; undefined: not used. */
  latencyMs?: number;
  load?: number;
  failures?: number;
  /** Recover thresholds, below the trip ones (hysteresis). */
  recoverLatencyMs: number;
  recoverLoad: number;
  recoverFailures: number;
  /** Seconds: the least time between two changes of one server, and the time it must stay recovered. */
  holdDown: number;
  restoreOnExit: boolean;
}

export interface ServerRef {
  name: string;
  address: string;
}

export interface Decision {
  /** add: divert `source`'s new connections to `target`; remove: back to `source`. */
  op: 'add' | 'remove';
  source: ServerRef;
  target: ServerRef;
  /** The figures that caused it, for the log. */
  why: string;
}

/** Failures are counted over this many seconds. */
export const FAILURE_WINDOW = 60;
/** The appliance's statistics window, at least. */
const STATS_WINDOW = 60;

interface State {
  over: number;
  /** The last change (diversion or restore) of this server, seconds; -Infinity: none seen. */
  changedAt: number;
  recoveredSince: number | undefined;
  /** (time, failure count) of the polls within FAILURE_WINDOW. */
  failures: [number, number][];
  /** A "cannot divert" note already logged for this streak. */
  noted: boolean;
  divertedTo: string | undefined;
}

interface Assessment {
  /** Texts of the figures over their trip thresholds. */
  over: string[];
  /** Texts of the figures above their recover thresholds (or unknown). */
  notRecovered: string[];
  /** The figures, for the log. */
  text: string;
  spare: number;
}

export class Model {
  private readonly states = new Map<string, State>();
  /** Each server's name and address as the last poll showed them. */
  private readonly refs = new Map<string, ServerRef>();

  constructor(private readonly policy: Policy) {}

  /** One poll: the appliance's servers and diverted-address table at `now` (seconds). */
  observe(now: number, servers: readonly ServerFigures[], table: readonly TableEntry[]): { decisions: Decision[]; notes: string[] } {
    const p = this.policy;
    const notes: string[] = [];
    const decisions: Decision[] = [];
    const byAddress = new Map(servers.map((s) => [s.address, s]));
    for (const s of servers) this.refs.set(s.name, { name: s.name, address: s.address });
    const divertedTo = new Map<string, string>();
    for (const e of table) {
      const from = byAddress.get(e.original);
      const to = byAddress.get(e.diverted);
      if (from && to && from !== to) divertedTo.set(from.name, to.name);
    }
    const assessed = new Map<string, Assessment>();
    for (const s of servers) {
      const st = this.state(s.name);
      const inTable = divertedTo.get(s.name);
      if (st.divertedTo !== inTable) {
        if (inTable !== undefined) notes.push(`${s.name} (${s.address}) is diverted to ${inTable} in the appliance's table: adopted`);
        else notes.push(`the diversion ${s.name} -> ${st.divertedTo} is gone from the appliance's table (a reload or an operator): ${s.name} is judged afresh`);
        st.divertedTo = inTable;
        st.changedAt = now;
        st.over = 0;
        st.recoveredSince = undefined;
      }
      const a = this.assess(now, s, st);
      assessed.set(s.name, a);
      st.over = a.over.length ? st.over + 1 : 0;
      if (!a.over.length) st.noted = false;
      st.recoveredSince = a.notRecovered.length ? undefined : st.recoveredSince ?? now;
    }
    const ref = (s: ServerFigures): ServerRef => ({ name: s.name, address: s.address });
    const sources = new Set(divertedTo.keys());
    /** Servers decided about in this poll: one decision each. */
    const decided = new Set<string>();
    for (const s of servers) {
      if (decided.has(s.name)) continue;
      const st = this.state(s.name);
      const a = assessed.get(s.name)!;
      if (st.divertedTo === undefined && st.over >= p.polls) {
        const why = `${a.over.join(', ')} over ${st.over} poll${st.over === 1 ? '' : 's'}`;
        if (now - st.changedAt < p.holdDown) {
          this.noteOnce(st, notes, `${s.name} (${s.address}): ${why}; held down until ${Math.ceil(st.changedAt + p.holdDown - now)} s from now (its last change)`);
          continue;
        }
        const excluded = new Set([...sources, s.name]);
        const t = this.target(s, servers, assessed, excluded);
        if (typeof t === 'string') {
          this.noteOnce(st, notes, `${s.name} (${s.address}): ${why}; no server to divert to: ${t}`);
          continue;
        }
        const ta = assessed.get(t.name)!;
        decisions.push({ op: 'add', source: ref(s), target: ref(t), why: `${why}; ${t.name} ${ta.text}` });
        sources.add(s.name);
        decided.add(s.name);
        // The servers diverted to s follow it (one entry applies: a chain is not followed).
        for (const f of servers) {
          if (this.state(f.name).divertedTo !== s.name) continue;
          const u = this.target(f, servers, assessed, new Set([...sources, f.name]));
          if (typeof u === 'string') notes.push(`${f.name} stays diverted to ${s.name}, itself diverted now: no other server: ${u}`);
          else decisions.push({ op: 'add', source: ref(f), target: ref(u), why: `${s.name}, which it was diverted to, is diverted now; ${u.name} ${assessed.get(u.name)!.text}` });
          decided.add(f.name);
        }
      } else if (st.divertedTo !== undefined && st.recoveredSince !== undefined && now - st.recoveredSince >= p.holdDown && now - st.changedAt >= p.holdDown) {
        const t = servers.find((x) => x.name === st.divertedTo);
        if (t) decisions.push({ op: 'remove', source: ref(s), target: ref(t), why: `recovered: ${a.text} for ${Math.round(now - st.recoveredSince)} s (recover at ${this.recoverText()})` });
      }
    }
    return { decisions, notes };
  }

  /** The decision was carried out at `now` (or, with --dry-run, printed). */
  committed(d: Decision, now: number): void {
    const st = this.state(d.source.name);
    st.divertedTo = d.op === 'add' ? d.target.name : undefined;
    st.changedAt = now;
    st.over = 0;
    st.recoveredSince = undefined;
    st.noted = false;
  }

  /** restore_on_exit: the removal of every server diversion the model holds. */
  restoreAll(why: string): Decision[] {
    const out: Decision[] = [];
    for (const [name, st] of this.states) {
      const source = this.refs.get(name);
      const target = st.divertedTo === undefined ? undefined : this.refs.get(st.divertedTo);
      if (source && target) out.push({ op: 'remove', source, target, why });
    }
    return out;
  }

  private state(name: string): State {
    let st = this.states.get(name);
    if (!st) this.states.set(name, (st = { over: 0, changedAt: -Infinity, recoveredSince: undefined, failures: [], noted: false, divertedTo: undefined }));
    return st;
  }

  private noteOnce(st: State, notes: string[], text: string): void {
    if (st.noted) return;
    st.noted = true;
    notes.push(text);
  }

  private assess(now: number, s: ServerFigures, st: State): Assessment {
    const p = this.policy;
    const over: string[] = [];
    const notRecovered: string[] = [];
    const text: string[] = [];

    // Latency: the larger of the window's p99 (once it has turned over since the last change) and the check's.
    const windowSeconds = Math.max(STATS_WINDOW, s.load?.seconds ?? 0);
    let latency: { ms: number; what: string } | 'none' | 'unknown' = 'unknown';
    if (s.load && now - st.changedAt >= windowSeconds) {
      const ms = p.latency === 'reply' ? s.load.replyP99 : s.load.handshakeP99;
      latency = ms >= 0 ? { ms, what: `${p.latency} p99` } : 'none';
    }
    if (s.check && s.check.state !== 'off' && s.check.last !== '') {
      const c = s.check.last === 'ok' ? { ms: s.check.latencyMs, what: 'check' } : { ms: Infinity, what: `check failed (${s.check.last})` };
      if (typeof latency !== 'object' || c.ms > latency.ms) latency = c;
    }
    if (p.latencyMs !== undefined) {
      if (typeof latency === 'object') {
        const shown = latency.ms === Infinity ? latency.what : `${latency.what} ${fmt(latency.ms)} ms`;
        text.push(shown);
        if (latency.ms > p.latencyMs) over.push(`${shown} > ${p.latencyMs} ms`);
        if (latency.ms > p.recoverLatencyMs) notRecovered.push(shown);
      } else {
        text.push(latency === 'none' ? `no ${p.latency} in the window` : 'latency unknown');
        if (latency === 'unknown') notRecovered.push('latency unknown');
      }
    }

    const spare = s.capacity - s.active;
    if (p.load !== undefined && s.capacity > 0) {
      const load = s.active / s.capacity;
      const shown = `load ${fmt(load)} (${s.active}/${s.capacity})`;
      text.push(shown);
      if (load > p.load) over.push(`${shown} > ${p.load}`);
      if (load > p.recoverLoad) notRecovered.push(shown);
    }

    // Failures since max(now - FAILURE_WINDOW, the last change), from the appliance's counter.
    st.failures.push([now, s.failures]);
    while (st.failures.length > 1 && (st.failures[0][0] < now - FAILURE_WINDOW || st.failures[0][0] < st.changedAt)) st.failures.shift();
    const failed = Math.max(0, s.failures - st.failures[0][1]);
    if (p.failures !== undefined) {
      const shown = `${failed} failure${failed === 1 ? '' : 's'}`;
      text.push(shown);
      if (failed > p.failures) over.push(`${shown} > ${p.failures}`);
      if (failed > p.recoverFailures) notRecovered.push(shown);
    }
    return { over, notRecovered, text: text.join(', ') + `, spare ${fmt(spare)}`, spare };
  }

  /** The server with the most spare capacity that may take `s`'s connections, or why none may. */
  private target(s: ServerFigures, servers: readonly ServerFigures[], assessed: Map<string, Assessment>, excluded: Set<string>): ServerFigures | string {
    let best: ServerFigures | undefined;
    const why: string[] = [];
    for (const t of servers) {
      if (t === s) continue;
      const a = assessed.get(t.name)!;
      const missing = carries(t, s);
      if (excluded.has(t.name)) why.push(`${t.name} is diverted`);
      else if (t.state !== 'up') why.push(`${t.name} is ${t.state}`);
      else if (missing !== undefined) why.push(`${t.name} does not carry ${missing}`);
      else if (a.over.length) why.push(`${t.name} ${a.over.join(', ')}`);
      else if (a.spare <= 0) why.push(`${t.name} has no spare capacity`);
      else if (best === undefined || a.spare > assessed.get(best.name)!.spare) best = t;
    }
    return best ?? (why.join('; ') || 'it is the only server');
  }

  private recoverText(): string {
    const p = this.policy;
    const parts: string[] = [];
    if (p.latencyMs !== undefined) parts.push(`latency ${p.recoverLatencyMs} ms`);
    if (p.load !== undefined) parts.push(`load ${p.recoverLoad}`);
    if (p.failures !== undefined) parts.push(`${p.recoverFailures} failures`);
    return parts.join(', ');
  }
}

/** The first ALP of `s` that `t` does not carry, or undefined. */
function carries(t: ServerFigures, s: ServerFigures): string | undefined {
  if (t.alps.includes('ALL')) return undefined;
  if (s.alps.includes('ALL')) return 'every ALP (ALL)';
  return s.alps.find((a) => !t.alps.includes(a));
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 0));
