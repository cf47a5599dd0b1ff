import type { ConnRow } from '../control/snapshot';

/**
 * The control socket's figures summed over workers: counters add up (numbers, field by field,
 * and arrays element by element, as each worker's status, servers and ALPs have the same
 * shape); what describes the process or the configuration rather than counts traffic is the
 * first worker's.
 */
const NOT_SUMMED = new Set([
  'version', 'pid', 'uptime', 'configDir', 'configLoaded', 'lastReload', 'controlSocket', 'memory', 'runtime',
  'workers', 'monitor', 'capture', 'export', 'capacity', 'queueLimit', 'versions', 'priority', 'ports', 'check',
  'lastError', 'state', 'discardEligible', 'default', 'removed',
]);

export function sumFigures<T>(first: T, others: readonly unknown[]): T {
  return sum(first, others, '') as T;
}

function sum(a: unknown, others: readonly unknown[], key: string): unknown {
  if (NOT_SUMMED.has(key)) return a;
  if (typeof a === 'number') return others.reduce<number>((t, o) => t + (typeof o === 'number' ? o : 0), a);
  if (Array.isArray(a)) return a.map((v, i) => sum(v, others.map((o) => (Array.isArray(o) ? o[i] : undefined)), key));
  if (a !== null && typeof a === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) {
      out[k] = sum(v, others.map((o) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined)), k);
    }
    return out;
  }
  return a;
}

/** Row orders across workers, as snapshot.ts sorts each worker's own (empty: the table's, oldest first). */
const ORDER: Record<string, (x: ConnRow, y: ConnRow) => number> = {
  '': (x, y) => y.age - x.age,
  age: (x, y) => y.age - x.age,
  bytes: (x, y) => y.bytesIn + y.bytesOut - (x.bytesIn + x.bytesOut),
  alp: (x, y) => (x.alp < y.alp ? -1 : x.alp > y.alp ? 1 : 0),
  server: (x, y) => (x.server < y.server ? -1 : x.server > y.server ? 1 : 0),
  idle: (x, y) => y.idle - x.idle,
  latency: (x, y) => y.replyMs - x.replyMs,
  rtt: (x, y) => Math.max(y.rttClientMs, y.rttServerMs) - Math.max(x.rttClientMs, x.rttServerMs),
  throughput: (x, y) => y.throughput - x.throughput,
  retrans: (x, y) => y.retransIn + y.retransOut - (x.retransIn + x.retransOut),
};

/** One page of every worker's rows, each worker's already its first `offset + limit` in `sort`'s order. */
export function mergePages(pages: readonly { total: number; matched: number; rows: ConnRow[] }[], offset: number, limit: number, sort: string) {
  const rows = pages.flatMap((p) => p.rows).sort(ORDER[sort] ?? ORDER['']);
  return {
    total: pages.reduce((t, p) => t + p.total, 0),
    matched: pages.reduce((t, p) => t + p.matched, 0),
    rows: rows.slice(offset, offset + limit),
  };
}
