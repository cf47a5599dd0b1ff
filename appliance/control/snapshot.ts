import { formatAddressPort } from '../addr/address';
import { formatPrefixAny } from '../addr/prefix';
import type { Appliance } from '../appliance';
import { STATE_NAMES, type Connection } from '../flow/connection';
import { DIALECT_NAMES, type Dialect } from '../flow/dialect';
import { DROP_REASONS } from '../forward/drops';
import { diversionStatus } from './flows';
import { serverPair } from '../stages/server-diversion';

/**
 * What the control socket answers: plain JSON-able objects built on request from the live
 * tables. Connections are paged and filtered here so that a client never makes the appliance
 * serialize its whole table.
 */

export interface ConnRow {
  client: string;
  /** Taken over from an ECMP peer's sync on a leg's first segment here (sync/adoption.ts). */
  adopted: boolean;
  alp: string;
  destination: string;
  /** The client's SOCKS dialect, and the server leg's when it differs: "4a>5". */
  dialect: string;
  /** Where the connection was diverted to (the diverted-address table), or ''. */
  diverted: string;
  server: string;
  port: number;
  state: string;
  age: number;
  idle: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** The per-connection statistics (stats/passive.ts): ms, -1 when not measured. */
  handshakeMs: number;
  replyMs: number;
  rttClientMs: number;
  rttServerMs: number;
  /** Bytes per second either way over the connection's life. */
  throughput: number;
  retransIn: number;
  retransOut: number;
  minLength: number;
  maxLength: number;
}

/** The control socket's answers, as the dashboard and `ctl` read them. */
export type Status = ReturnType<typeof status>;
export type ServerRow = ReturnType<typeof servers>[number];
export type AlpRow = ReturnType<typeof alps>[number];

export function status(a: Appliance) {
  const d = a.dispatcher;
  const t = d.table;
  const r = a.forwarder.reassembler;
  const r6 = a.forwarder.reassembler6;
  const devices = a.forwarder.devices.map((dev) => ({ name: dev.name, kind: dev.kind, up: dev.fd >= 0, failure: dev.failure, ...dev.stats }));
  return {
    version: a.version,
    pid: process.pid,
    uptime: Math.round((Date.now() - a.started) / 1000),
    configDir: a.config.dir,
    configLoaded: a.config.loadedAt.toISOString(),
    lastReload: a.lastReload,
    controlSocket: a.config.appliance.controlSocket,
    connections: t.size,
    halfOpen: t.halfOpen,
    watching: d.watching,
    table: t.stats,
    dispatcher: d.stats,
    rfc5961: d.guard.stats,
    icmp6: a.forwarder.icmp6.stats,
    neighbours: a.forwarder.reachability.stats,
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, a.forwarder.drops[r]])),
    reassembly: { completed: r.completed, pending: r.pending, duplicates: r.duplicates, drops: { ...r.drops } },
    reassembly6: { completed: r6.completed, pending: r6.pending, duplicates: r6.duplicates, atomic: r6.atomic, drops: { ...r6.drops } },
    internalErrors: a.forwarder.internalErrors,
    finsMerged: a.forwarder.finsMerged,
    monitor: a.monitor?.stats() ?? null,
    capture: a.forwarder.capture?.status() ?? null,
    export: a.exporter?.status() ?? null,
    sync: a.sync?.status() ?? null,
    diversion: diversionStatus(a),
    poolFree: a.pool.available,
    memory: process.memoryUsage(),
    runtime: a.runtime.status(),
    devices,
  };
}

export function servers(a: Appliance) {
  const e = a.forwarder.egress;
  const active = a.dispatcher.census.activeByServer;
  const names = a.alps.names;
  // Server diversions in force (stages/server-diversion.ts): whose new connections go elsewhere.
  const divertedTo = new Map<string, string>();
  for (const entry of a.dispatcher.diversions.entries()) {
    const pair = serverPair(entry, a.config.servers);
    if (pair && !divertedTo.has(pair[0].name)) divertedTo.set(pair[0].name, pair[1].name);
  }
  return a.config.servers.map((s, i) => ({
    name: s.name,
    address: formatAddressPort(s.address, s.port),
    /** The server its new connections are diverted to, or ''. */
    divertedTo: divertedTo.get(s.name) ?? '',
    tap: s.tap,
    local: formatPrefixAny(s.local),
    capacity: s.capacity,
    alps: s.alps.all ? ['ALL'] : s.alps.names,
    default: s.isDefault,
    versions: s.versions,
    state: serverState(a, i),
    check: a.dispatcher.checker.status[i],
    load: a.flowStats.window(i),
    lastError: a.health.lastError[i],
    failures: a.health.failures[i],
    active: active[i] ?? 0,
    ...e.stats[i],
    queue: e.queues[i].length,
    queueLimit: e.queues[i].bound,
    discards: Object.fromEntries(names.map((n, k) => [n, e.discardsByAlp[i][k]] as const).filter(([, v]) => v !== 0)) as Record<string, number>,
  }));
}

/** What a server's state can be, as `ctl servers`, the dashboard and the metrics name it. */
export const SERVER_STATES = ['up', 'failing', 'check-down', 'no-device', 'unresolved'] as const;

/** Server `i`'s state: the first that holds of no device, unresolved, check down, failing, up. */
export function serverState(a: Appliance, i: number): (typeof SERVER_STATES)[number] {
  const h = a.health;
  return h.deviceDown[i] ? 'no-device' : !h.resolved[i] ? 'unresolved' : h.checkFailing[i] ? 'check-down' : h.failing(i) ? 'failing' : 'up';
}

/**
 * The Socks ALP Configuration table in force, in its order, with each ALP's live counters
 * (by ALP id, so they follow the ALP by name across reloads); then the ALPs a reload removed
 * that still have connections, with the rules those connections keep (`removed`).
 */
export function alps(a: Appliance) {
  const { activeByAlp: active, packetsByAlp: packets } = a.dispatcher.census;
  const reg = a.alps;
  const removed = reg.names.map((_, id) => id).filter((id) => !reg.isInForce(id) && (active[id] ?? 0) > 0);
  return [...reg.inForce, ...removed].map((id) => {
    const r = reg.records[id];
    return {
      name: r.name,
      ports: r.ports,
      priority: r.priority,
      discardEligible: r.discardEligible,
      removed: !reg.isInForce(id),
      active: active[id] ?? 0,
      packets: packets[id] ?? 0,
      discards: a.forwarder.egress.discardsByAlp.reduce((sum, row) => sum + (row[id] ?? 0), 0),
      load: a.flowStats.windowAlp(id),
    };
  });
}

/** "4a>5": the client's dialect, then the server leg's when the appliance translates. */
function dialects(c: Connection): string {
  if (c.dialect === 0) return '';
  const own = DIALECT_NAMES[c.dialect as Dialect];
  return c.leg === 0 || c.leg === c.dialect ? own : `${own}>${DIALECT_NAMES[c.leg as Dialect]}`;
}

/** Microseconds as milliseconds with three decimals; -1 (not measured) stays -1. */
function ms(us: number): number {
  return us < 0 ? -1 : us / 1000;
}

/** Bytes per second either way over the connection's life so far, for the column and the sort alike. */
const rate = (c: Connection, now: number) => (c.bytesIn + c.bytesOut) / Math.max(1e-3, now - c.created);

/** Comparators; `age` (oldest first) is the table's own order, so it needs none. Latencies: slowest first. */
const SORTS: Record<string, ((x: Connection, y: Connection, now: number) => number) | undefined> = {
  bytes: (x, y) => y.bytesIn + y.bytesOut - (x.bytesIn + x.bytesOut),
  age: undefined,
  alp: (x, y) => x.alp - y.alp, // by ALP id: connections of one ALP together
  server: (x, y) => x.server - y.server,
  idle: (x, y) => x.lastSeen - y.lastSeen,
  latency: (x, y) => y.replyUs - x.replyUs,
  rtt: (x, y) => Math.max(y.rttClientUs, y.rttServerUs) - Math.max(x.rttClientUs, x.rttServerUs),
  throughput: (x, y, now) => rate(y, now) - rate(x, now),
  retrans: (x, y) => y.retransIn + y.retransOut - (x.retransIn + x.retransOut),
};

/**
 * One page of the connection table, filtered and sorted, without copying or sorting the whole
 * table: one pass keeps the best `offset + limit` entries in a small sorted array (binary
 * insertion), so a page of 100,000 connections costs O(n log k), and an unsorted, unfiltered
 * page stops as soon as it is full. Matching a filter builds the row's text, so filtering
 * costs one pass of string work; it is only asked for while someone is filtering.
 */
export function connections(a: Appliance, offset: number, limit: number, filter: string, sort: string): { total: number; matched: number; rows: ConnRow[] } {
  const now = a.now();
  const names = a.alps.names;
  const serverNames = a.config.servers.map((s) => s.name);
  const row = (c: Connection): ConnRow => ({
    client: formatAddressPort(c.clientIp, c.clientPort),
    adopted: c.adopted,
    alp: c.alp >= 0 ? names[c.alp] : '',
    destination: c.destination,
    dialect: dialects(c),
    diverted: c.diverted,
    server: c.server >= 0 ? serverNames[c.server] : '',
    port: c.allocPort,
    state: STATE_NAMES[c.state],
    age: Math.round(now - c.created),
    idle: Math.round(now - c.lastSeen),
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    packetsIn: c.packetsIn,
    packetsOut: c.packetsOut,
    handshakeMs: ms(c.handshakeUs),
    replyMs: ms(c.replyUs),
    rttClientMs: ms(c.rttClientUs),
    rttServerMs: ms(c.rttServerUs),
    throughput: Math.round(rate(c, now)),
    retransIn: c.retransIn,
    retransOut: c.retransOut,
    minLength: c.maxLength === 0 ? 0 : c.minLength,
    maxLength: c.maxLength,
  });
  const table = a.dispatcher.table;
  const f = filter.toLowerCase();
  const matches = (c: Connection) => {
    if (f === '') return true;
    const text = `${formatAddressPort(c.clientIp, c.clientPort)} ${c.alp >= 0 ? names[c.alp] : ''} ${c.destination} ${c.server >= 0 ? serverNames[c.server] : ''} ${STATE_NAMES[c.state]}`;
    return text.toLowerCase().includes(f);
  };
  const cmp = SORTS[sort];
  const keep = offset + limit;
  const best: Connection[] = [];
  let matched = 0;
  const pass = table.pass();
  try {
    for (let c = table.next(pass); c !== undefined; c = table.next(pass)) {
      if (!matches(c)) continue;
      matched++;
      if (!cmp) {
        if (best.length < keep) best.push(c);
        else if (f === '') {
          matched = table.size; // nothing more to learn: every entry matches
          break;
        }
        continue;
      }
      if (best.length === keep && cmp(c, best[keep - 1], now) >= 0) continue;
      let lo = 0;
      let hi = best.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cmp(best[mid], c, now) <= 0) lo = mid + 1;
        else hi = mid;
      }
      best.splice(lo, 0, c);
      if (best.length > keep) best.pop();
    }
  } finally {
    table.endPass(pass);
  }
  return { total: table.size, matched, rows: best.slice(offset, keep).map(row) };
}

export const SORT_KEYS = ['', ...Object.keys(SORTS)];
