/**
 * The figures the network monitor reads of an appliance: its `servers` answer on the monitor
 * channel (control/snapshot.ts `servers()`) and its diverted-address table (`divert list`),
 * checked field by field, since they come over the network: a row that lacks what the policy
 * needs makes the whole answer unreadable rather than a guess.
 */

import type { WindowFigures } from '../stats/window';

/** Of the sliding-window figures of one server (its statistics' `window(server)`), those the policy reads. */
export type LoadFigures = Pick<WindowFigures, 'seconds' | 'connectionsPerSecond' | 'handshakeP99' | 'replyP99' | 'failures'>;

/** The active check's last verdict, when servers.ini gives the server a check. */
export interface CheckFigures {
  state: string;
  /** 'ok', or why the last probe failed; '' before the first. */
  last: string;
  latencyMs: number;
}

/** One server as one poll shows it. */
export interface ServerFigures {
  name: string;
  /** "198.19.1.2:1080": what a server diversion's entry names. */
  address: string;
  /** ALP names, or ['ALL']. */
  alps: string[];
  capacity: number;
  active: number;
  /** 'up', or why selection leaves it out ('failing', 'check-down', 'unresolved', 'no-device'). */
  state: string;
  /** Failed connections since the appliance started. */
  failures: number;
  load?: LoadFigures;
  check?: CheckFigures;
}

export interface TableEntry {
  original: string;
  diverted: string;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';

/** The rows of a `servers` answer, or why they cannot be read. */
export function readServers(answer: Record<string, unknown>): ServerFigures[] | string {
  const rows = answer.servers;
  if (!Array.isArray(rows)) return 'the answer has no "servers" list';
  const out: ServerFigures[] = [];
  for (const [i, r] of rows.entries()) {
    const row = r as Record<string, unknown>;
    if (row === null || typeof row !== 'object') return `server row ${i} is not an object`;
    const { name, address, alps, capacity, active, state, failures, load, check } = row;
    if (!str(name) || !str(address) || !Array.isArray(alps) || !alps.every(str) || !num(capacity) || !num(active) || !str(state) || !num(failures)) {
      return `server row ${i} lacks name, address, alps, capacity, active, state or failures`;
    }
    const f: ServerFigures = { name, address, alps, capacity, active, state, failures };
    if (load !== undefined && load !== null) {
      const l = load as Record<string, unknown>;
      if (!num(l.seconds) || !num(l.connectionsPerSecond) || !num(l.handshakeP99) || !num(l.replyP99) || !num(l.failures)) {
        return `server ${name}: its load lacks seconds, connectionsPerSecond, handshakeP99, replyP99 or failures`;
      }
      f.load = { seconds: l.seconds, connectionsPerSecond: l.connectionsPerSecond, handshakeP99: l.handshakeP99, replyP99: l.replyP99, failures: l.failures };
    }
    if (check !== undefined && check !== null) {
      const c = check as Record<string, unknown>;
      if (!str(c.state) || !str(c.last) || !num(c.latencyMs)) return `server ${name}: its check lacks state, last or latencyMs`;
      f.check = { state: c.state, last: c.last, latencyMs: c.latencyMs };
    }
    out.push(f);
  }
  return out;
}

/** The entries of a `divert list` answer, or why they cannot be read. */
export function readTable(answer: Record<string, unknown>): TableEntry[] | string {
  const rows = answer.entries;
  if (!Array.isArray(rows)) return 'the answer has no "entries" list';
  const out: TableEntry[] = [];
  for (const r of rows) {
    const e = r as Record<string, unknown>;
    if (e === null || typeof e !== 'object' || !str(e.original) || !str(e.diverted)) return 'an entry lacks original or diverted';
    out.push({ original: e.original, diverted: e.diverted });
  }
  return out;
}
