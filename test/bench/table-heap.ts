import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { ADDRESSES6 } from '../../appliance/addr/interner';
import type { Connection } from '../../appliance/flow/connection';
import { ConnectionTable } from '../../appliance/flow/table';
import { objectSize, type ObjectSize } from './object-size';
import { serversFor, SyntheticFill, type Family } from './table-fill';

const USAGE = `usage: node --expose-gc dist/test/bench/table-heap.js [--count N] [--family 4|6|mixed] [--per-address K]

Heap per tracked connection with the Socks ALP Connection table alone (no sockets, no lab):
N synthetic spliced connections (default 1000000) put in the real ConnectionTable, each
process's memory read after a full GC before and after. Three runs, each in a fresh process:
the table; the same Connection objects alone (no Maps, no interner); one Connection's size
from a heap snapshot (1000 of them). Prints a line per figure, then one JSON line.

  --family 4|6|mixed  the clients' family (default 4); mixed alternates them
  --per-address K     connections per IPv6 client address (default 1: every connection its
                      own address, an interner entry each); IPv4 clients have 16 ports each
Also: npm run bench -- --table-only [same options].`;

/** Where the ≤ 256 B target of issue 15 stands. */
const TARGET = 256;
const SNAPSHOT_COUNT = 1000;

interface Memory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

interface Run {
  phase: string;
  count: number;
  servers: number;
  before: Memory;
  after: Memory;
  fillNs: number;
  /** Typed-array bytes: the table's per-server port maps, the IPv6 interner (after - before). */
  portMaps: number;
  interner: number;
  internerEntries: number;
  heapStatistics: Record<string, number>;
  size?: ObjectSize;
}

interface Options {
  count: number;
  family: Family;
  perAddress: number;
}

function parseOptions(argv: string[]): Options & { phase?: string } {
  const o: Options & { phase?: string } = { count: 1_000_000, family: 4, perAddress: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else if (a === '--count' || a === '--per-address') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) fail(`${a} expects a positive integer, not ${v ?? 'nothing'}`);
      if (a === '--count') o.count = n;
      else o.perAddress = n;
      i++;
    } else if (a === '--family') {
      if (v !== '4' && v !== '6' && v !== 'mixed') fail(`--family expects 4, 6 or mixed, not ${v ?? 'nothing'}`);
      o.family = v === 'mixed' ? 'mixed' : (Number(v) as 4 | 6);
      i++;
    } else if (a === '--phase') {
      o.phase = v;
      i++;
    } else {
      fail(`unknown option ${a}`);
    }
  }
  if (o.perAddress > 64512) fail('--per-address expects at most 64512 (ports 1024-65535)');
  return o;
}

function fail(message: string): never {
  process.stderr.write(`table-heap: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) fail('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

/** Bytes in the typed arrays an object holds in its fields, directly or in an array. */
function typedBytes(o: object): number {
  let n = 0;
  for (const v of Object.values(o)) {
    if (ArrayBuffer.isView(v)) n += v.byteLength;
    else if (Array.isArray(v)) for (const x of v) if (ArrayBuffer.isView(x)) n += x.byteLength;
  }
  return n;
}

/** One measurement, in this process (a child of the parent run). */
async function runPhase(phase: string, o: Options): Promise<Run> {
  const fill = new SyntheticFill(o.family, o.perAddress);
  const count = phase === 'snapshot' ? SNAPSHOT_COUNT : o.count;
  const servers = serversFor(count);
  const interner0 = typedBytes(ADDRESSES6);
  let held: unknown;
  let portMaps = 0;
  let fillNs = 0;
  let before: Memory;
  if (phase === 'table') {
    before = memory();
    const table = new ConnectionTable(servers, count, 1);
    const t0 = process.hrtime.bigint();
    fill.fillTable(table, count, servers);
    fillNs = Number(process.hrtime.bigint() - t0) / count;
    if (table.size !== count || table.halfOpen !== 0) throw new Error(`the table holds ${table.size} (${table.halfOpen} half-open), not ${count}`);
    portMaps = typedBytes(table);
    held = table;
  } else {
    // The holder first, so that what is measured is the objects alone.
    const into = new Array<Connection>(count).fill(undefined as unknown as Connection);
    before = memory();
    const t0 = process.hrtime.bigint();
    fill.fillObjects(into, count, servers);
    fillNs = Number(process.hrtime.bigint() - t0) / count;
    held = into;
  }
  const after = memory();
  const h = getHeapStatistics() as unknown as Record<string, number>;
  const heapStatistics = Object.fromEntries(['total_heap_size', 'used_heap_size', 'total_physical_size', 'malloced_memory', 'external_memory'].map((k) => [k, h[k]]));
  const size = phase === 'snapshot' ? await objectSize('Connection') : undefined;
  if (held === undefined) throw new Error('nothing measured');
  return {
    phase, count, servers, before, after, fillNs, portMaps, heapStatistics, size,
    interner: typedBytes(ADDRESSES6) - interner0, internerEntries: ADDRESSES6.size,
  };
}

/** Each measurement in a fresh process, so that one's garbage and pages do not blur the next. */
function child(phase: string, o: Options): Run {
  const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--phase', phase, '--count', String(o.count), '--family', String(o.family), '--per-address', String(o.perAddress)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`the ${phase} run exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

const delta = (r: Run, k: keyof Memory) => r.after[k] - r.before[k];
const per = (bytes: number, n: number) => Math.round((bytes / n) * 10) / 10;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function report(o: Options, table: Run, objects: Run, one: Run): void {
  const n = o.count;
  const family = o.family === 'mixed' ? 'mixed IPv4/IPv6' : `IPv${o.family}`;
  const c = {
    heapUsed: per(delta(table, 'heapUsed'), n),
    arrayBuffers: per(delta(table, 'arrayBuffers'), n),
    heap: per(delta(table, 'heapUsed') + delta(table, 'arrayBuffers'), n),
    rss: per(delta(table, 'rss'), n),
    objects: per(delta(objects, 'heapUsed'), n),
    maps: per(delta(table, 'heapUsed') - delta(objects, 'heapUsed'), n),
    portMaps: per(table.portMaps, n),
    interner: per(table.interner, n),
  };
  const s = one.size!;
  const boxed = Object.entries(s.boxed).filter(([, k]) => k === s.instances).map(([f]) => f);
  const partly = Object.entries(s.boxed).filter(([, k]) => k < s.instances).map(([f, k]) => `${f} ${Math.round((k / s.instances) * 100)} %`);
  const lines = [
    `table heap, ${n} ${family} spliced connections (handshake dropped), ${table.servers} servers (64512 ports each), ` +
      `${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    `the table:     heapUsed +${mb(delta(table, 'heapUsed'))} = ${c.heapUsed} B/connection; arrayBuffers +${mb(delta(table, 'arrayBuffers'))} = ${c.arrayBuffers} B; ` +
      `together ${c.heap} B/connection (target <= ${TARGET} B: ${(c.heap / TARGET).toFixed(2)} x); rss +${mb(delta(table, 'rss'))} = ${c.rss} B/connection; fill ${table.fillNs.toFixed(0)} ns/connection`,
    `objects alone: heapUsed +${mb(delta(objects, 'heapUsed'))} = ${c.objects} B/connection (the same Connections in an array, no Maps, no interner; fill ${objects.fillNs.toFixed(0)} ns)`,
    `the two Maps:  ${c.maps} B/connection (table - objects: byClient and byServer entries, their keys)`,
    `port maps:     ${table.servers} x Uint8Array(65536) = ${mb(table.portMaps)} = ${c.portMaps} B/connection`,
    `interner:      ${table.internerEntries} IPv6 addresses, +${mb(table.interner)} = ${c.interner} B/connection (typed arrays, capacity doubled as it grows)`,
    `one Connection (heap snapshot of ${s.instances}): object ${s.self} B + heap numbers ${s.heapNumbers} B + strings ${s.strings.toFixed(1)} B` +
      (s.other ? ` + other ${s.other.toFixed(1)} B` : '') + ` = ${s.total.toFixed(1)} B; boxed in every one: ${boxed.join(', ') || 'none'}` +
      (partly.length ? `; in some: ${partly.join(', ')}` : ''),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(JSON.stringify({
    bench: 'table-heap', date: new Date().toISOString(), nproc: cpus().length, node: process.version,
    count: n, family: o.family, perAddress: o.perAddress, servers: table.servers, target: TARGET, perConnection: c, object: s, table, objects,
  }) + '\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.phase !== undefined) {
    if (!['table', 'objects', 'snapshot'].includes(o.phase)) fail(`unknown phase ${o.phase}`);
    process.stdout.write(JSON.stringify(await runPhase(o.phase, o)) + '\n');
    return;
  }
  report(o, child('table', o), child('objects', o), child('snapshot', o));
}

// Output piped into a reader that stops early (head): nothing more to say.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));

main().catch((e: Error) => {
  process.stderr.write(`table-heap: ${e.message}\n`);
  process.exit(1);
});
