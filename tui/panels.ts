import { formatTable } from '../appliance/text/table';
import { fitEndpoint, formatBytes, formatCount, formatDuration, formatMs, truncate } from '../appliance/text/units';
import { divertPanel } from './divert-panel';
import { Series, type DashboardModel } from './model';
import type { ServerRow, Status } from '../appliance/control/snapshot';

/**
 * The dashboard's panels as plain text: the live screen puts each in a box, `dash --once`
 * prints them one after the other. ASCII only, so that a serial console shows the same.
 */

/** Ten levels from nothing to full, scaled to the series' own maximum. */
const LEVELS = ' .:-=+*#%@';

/**
 * The series in `width` characters: when it is longer, each character stands for a bucket of
 * consecutive samples (their maximum, so that a burst is not averaged away).
 */
export function sparkline(values: number[], width: number): string {
  let v = values;
  if (v.length > width && width > 0) {
    const per = Math.ceil(v.length / width);
    const buckets: number[] = [];
    for (let i = v.length % per === 0 ? 0 : (v.length % per) - per; i < v.length; i += per) {
      buckets.push(Math.max(...v.slice(Math.max(0, i), i + per)));
    }
    v = buckets.slice(-width);
  }
  const max = Math.max(...v, 0);
  const line = v.map((x) => (max === 0 ? ' ' : LEVELS[Math.min(9, Math.round((x / max) * 9))])).join('');
  return line.padStart(width, ' ');
}

/** A bar for `value` out of `limit`, `width` characters inside brackets. */
export function gauge(value: number, limit: number, width: number): string {
  const filled = limit > 0 ? Math.min(width, Math.ceil((value / limit) * width)) : 0;
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
}

function fit(lines: string[], width: number): string[] {
  return lines.map((l) => truncate(l.trimEnd(), width));
}

export function statusLine(m: DashboardModel, width: number): string {
  const st = m.status;
  if (!st) return truncate(`socksalp dashboard: ${m.error ? `NOT CONNECTED: ${m.error} (${m.socket})` : `connecting to ${m.socket}...`}`, width);
  const reload = st.lastReload ? `reload ${st.lastReload.ok ? 'ok' : 'REFUSED'} ${st.lastReload.at.slice(11, 19)}` : 'no reload yet';
  const state = m.error ? `NOT CONNECTED: ${m.error}; retrying, data from ${m.lastOk?.toISOString().slice(11, 19)}` : `up ${formatDuration(st.uptime)}`;
  // Issue 16: an appliance of an HA pair says which it is, and what it holds of its peer's.
  const ha = st.sync ? `  HA ${st.sync.role}${st.sync.health.ok ? '' : ` (${st.sync.health.why})`}, ${st.sync.held} held` : '';
  return truncate(
    `socksalp ${st.version}  ${state}${ha}  conf ${st.configDir} loaded ${st.configLoaded.slice(11, 19)}  ${reload}  socket ${st.controlSocket}`,
    width,
  );
}

/** A column of endpoints that may be shortened (fitEndpoint), down to `min` columns. */
interface Shrink {
  name: string;
  min: number;
}

/**
 * Keeps the columns that fit: a narrow terminal loses the least needed first; if that is not
 * enough, the `shrink` columns' endpoints lose their middles (IPv6) or ends (names), keeping
 * their ports, before the lines are cut at the right.
 */
function columns(width: number, header: string[], rows: string[][], dropOrder: string[], shrink: Shrink[] = []): string[] {
  let h = header;
  let r = rows;
  const table = () => formatTable(h, r, '').split('\n');
  const widest = (lines: string[]) => Math.max(...lines.map((l) => l.length));
  for (const name of ['', ...dropOrder]) {
    if (name !== '') {
      const i = h.indexOf(name);
      h = h.filter((_, k) => k !== i);
      r = r.map((row) => row.filter((_, k) => k !== i));
    }
    const lines = table();
    if (widest(lines) <= width) return lines;
  }
  for (const s of shrink) {
    const i = h.indexOf(s.name);
    const excess = widest(table()) - width;
    if (i < 0 || excess <= 0) continue;
    const now = Math.max(h[i].length, ...r.map((row) => row[i].length));
    const to = Math.max(s.min, h[i].length, now - excess);
    r = r.map((row) => row.map((c, k) => (k === i ? fitEndpoint(c, to) : c)));
  }
  return table();
}

/** The widest an address column gets when the terminal is too narrow: an IPv4 endpoint and more. */
const ENDPOINT_MIN = 24;
/** A connection's destination, and where it was diverted, in 40 columns at most. */
const DESTINATION_MAX = 40;

/** "destination->diverted" in `width` columns: the shorter side whole when it takes half or less, the other fitted. */
export function destinationCell(destination: string, diverted: string, width = DESTINATION_MAX): string {
  if (!diverted) return fitEndpoint(destination, width);
  const room = width - 2;
  if (destination.length + diverted.length <= room) return `${destination}->${diverted}`;
  const half = Math.floor(room / 2);
  const a = destination.length <= half ? destination.length : diverted.length <= half ? room - diverted.length : half;
  return `${fitEndpoint(destination, a)}->${fitEndpoint(diverted, room - a)}`;
}

export function serversPanel(m: DashboardModel, width: number): string[] {
  const rows = m.servers.map((s) => [
    s.name, s.address, s.tap, String(s.capacity), truncate(s.alps.join(','), 18), s.divertedTo ? `${s.state}>${s.divertedTo}` : s.state, checkCell(s.check), String(s.active),
    `${formatCount(s.packetsIn)}/${formatBytes(s.bytesIn)}`, `${formatCount(s.packetsOut)}/${formatBytes(s.bytesOut)}`,
    `${gauge(s.queue, s.queueLimit, 6)}${s.queue}/${s.queueLimit}`,
    String(Object.values(s.discards).reduce((a, b) => a + b, 0)),
    s.load.connectionsPerSecond.toFixed(1), formatMs(s.load.replyP50), formatMs(s.load.replyP99), String(s.load.failures),
  ]);
  // From servers to the appliance is "in", towards them "out", in packets/bytes; the last
  // minute's connections per second, SOCKS reply latency and failures (stats/window.ts).
  const header = ['SERVER', 'ADDRESS', 'TAP', 'CAP', 'ALPS', 'STATE', 'CHECK', 'CONNS', 'IN', 'OUT', 'QUEUE', 'DROPS', 'CONN/S', 'P50', 'P99', 'FAIL'];
  return fit(columns(width, header, rows, ['P50', 'FAIL', 'IN', 'TAP', 'ALPS', 'CHECK', 'CAP'], [{ name: 'ADDRESS', min: ENDPOINT_MIN }]), width);
}

/** A server's active check (health/checker.ts), short: '-' when off, the latency or why not. */
function checkCell(c: ServerRow['check'] | undefined): string {
  if (c === undefined || c.state === 'off') return '-';
  if (c.last === '') return c.state;
  return c.last === 'ok' ? `ok ${c.latencyMs}ms` : truncate(`${c.state}: ${c.last}`, 28);
}

export function alpPanel(m: DashboardModel, width: number): string[] {
  const rows = m.alps.map((a) => [
    a.name, a.removed ? '(removed)' : truncate(a.ports.join(',') || '(others)', 14), String(a.priority), a.discardEligible ? 'yes' : 'no',
    String(a.active), formatCount(a.packets), String(a.discards),
    a.load.connectionsPerSecond.toFixed(1), formatMs(a.load.replyP99), `${formatBytes(a.load.bytesPerSecond)}/s`,
  ]);
  // The last minute of each ALP (stats/window.ts): connections per second, reply p99, throughput.
  return fit(columns(width, ['ALP', 'PORTS', 'PRIO', 'DISCARD', 'CONNS', 'PACKETS', 'DISCARDS', 'CONN/S', 'P99', 'RATE'], rows, ['RATE', 'PACKETS']), width);
}

/** The connection page, `height` lines at most including header and summary. */
export function connectionsPanel(m: DashboardModel, width: number, height: number): string[] {
  const rows = m.conns.slice(0, Math.max(0, height - 2)).map((c) => [
    c.client, c.alp, destinationCell(c.destination, c.diverted), c.server, String(c.port || ''), c.state, c.dialect,
    formatDuration(c.age), formatDuration(c.idle), formatBytes(c.bytesIn), formatBytes(c.bytesOut),
    formatMs(c.replyMs), formatMs(c.rttServerMs), formatMs(c.rttClientMs), `${formatBytes(c.throughput)}/s`, String(c.retransIn + c.retransOut),
  ]);
  const table = columns(width,
    ['CLIENT', 'ALP', 'DESTINATION', 'SERVER', 'PORT', 'STATE', 'SOCKS', 'AGE', 'IDLE', 'IN', 'OUT', 'REPLY', 'RTT-S', 'RTT-C', 'RATE', 'RETX'],
    rows, ['RETX', 'RTT-C', 'IDLE', 'SOCKS', 'PORT', 'RTT-S', 'AGE'], [{ name: 'CLIENT', min: ENDPOINT_MIN }]);
  const first = m.conns.length ? m.offset + 1 : 0;
  const summary = `${first}-${m.offset + m.conns.length} of ${m.connsMatched}` +
    (m.filter ? ` matching "${m.filter}"` : '') + `, ${m.connsTotal} in the table; sort: ${m.sort}`;
  return fit([...table, summary], width);
}

function rateLine(label: string, s: Series, format: (n: number) => string, width: number): string {
  const head = `${label.padEnd(14)} ${format(s.last).padStart(9)} `;
  return head + sparkline(s.values, Math.max(0, width - head.length));
}

export function throughputPanel(m: DashboardModel, width: number): string[] {
  const perSecond = (f: (n: number) => string) => (n: number) => `${f(n)}/s`;
  return fit([
    rateLine('packets in', m.packetsIn, perSecond(formatCount), width),
    rateLine('packets out', m.packetsOut, perSecond(formatCount), width),
    rateLine('bytes in', m.bytesIn, perSecond(formatBytes), width),
    rateLine('bytes out', m.bytesOut, perSecond(formatBytes), width),
    rateLine('new conns', m.newConns, perSecond(formatCount), width),
    ...reassemblyLines(m),
  ], width);
}

/**
 * Reassembly since start, IPv4's, then IPv6's once it has seen a fragment: datagrams completed
 * and waiting, drops (by reason when any), duplicates, IPv6's atomic fragments.
 */
function reassemblyLines(m: DashboardModel): string[] {
  const st = m.status;
  if (!st?.reassembly) return [];
  const lines = [reassemblyLine('reassembly', st.reassembly, '')];
  const r6 = st.reassembly6;
  if (r6 && r6.completed + r6.pending + r6.duplicates + r6.atomic + Object.values(r6.drops).reduce((a, b) => a + b, 0) > 0) {
    lines.push(reassemblyLine('reassembly6', r6, r6.atomic ? `, ${formatCount(r6.atomic)} atomic` : ''));
  }
  return lines;
}

function reassemblyLine(label: string, r: Status['reassembly'], more: string): string {
  const reasons = Object.entries(r.drops).filter(([, n]) => n > 0);
  const dropped = reasons.reduce((sum, [, n]) => sum + n, 0);
  const why = reasons.length ? ` (${reasons.map(([k, n]) => `${k} ${formatCount(n)}`).join(', ')})` : '';
  const dup = r.duplicates ? `, ${formatCount(r.duplicates)} dup` : '';
  return `${label.padEnd(14)} ${formatCount(r.completed)} done, ${r.pending} pending, ${formatCount(dropped)} dropped${why}${dup}${more}`;
}

export function queuesPanel(m: DashboardModel, width: number): string[] {
  const congested = m.congested;
  const lines = [congested.length ? `CONGESTED: ${congested.join(', ')} (discarding)` : 'no congestion'];
  for (const s of m.servers) lines.push(rateLine(`queue ${s.name}`, m.queues.get(s.name) ?? EMPTY, (n) => `${n}/${s.queueLimit}`, width));
  for (const a of m.alps) {
    const s = m.discardsByAlp.get(a.name);
    if (s && s.values.some((v) => v > 0)) lines.push(rateLine(`drop ${a.name} p${a.priority}`, s, (n) => `${formatCount(n)}/s`, width));
  }
  return fit(lines, width);
}

const EMPTY = new Series();

export const KEYS = 'Tab/S-Tab panel  arrows PgUp/PgDn scroll  s sort  / filter  a/d divert add/remove  r reload  ? help  q quit';

export const HELP = [
  'socksalp dashboard',
  '',
  '  Tab, Shift-Tab   move between panels',
  '  Up, Down         scroll the focused panel (connections: a row at a time)',
  '  PgUp, PgDn       a page at a time; the mouse wheel scrolls where the terminal allows',
  '  s                sort connections by age, bytes, ALP, server, idle time, latency (reply),',
  '                   round trip, throughput, retransmissions',
  '  /                filter connections: client, ALP, destination, server or state',
  '  Esc              clear the filter',
  '  a                add a diversion: ORIGINAL DIVERTED [drain|move], drain if none',
  '  d                remove the diversion at the cursor (Up, Down), confirming first',
  '  r                reload the configuration (as SIGHUP does) and show the result',
  '  q                quit (the appliance goes on)',
  '',
  'Data comes from the control socket twice a second; the appliance is a separate process.',
];

/** Every panel, one after the other, for `dash --once`. */
export function renderOnce(m: DashboardModel, width: number): string {
  const section = (title: string, lines: string[]) => [`== ${title} ==`, ...lines, ''];
  return [
    statusLine(m, width),
    '',
    ...section('Servers', serversPanel(m, width)),
    ...section('Socks ALP Configuration table', alpPanel(m, width)),
    ...section('Connections (Socks ALP Connection table)', connectionsPanel(m, width, m.pageSize + 2)),
    ...section('Diverted addresses', divertPanel(m, width, m.diverted.length + 1, false)),
    ...section('Queues and congestion', queuesPanel(m, width)),
    ...section('Throughput', throughputPanel(m, width)),
  ].join('\n');
}
