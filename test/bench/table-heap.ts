import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { ADDRESSES6 } from '../../appliance/addr/interner';
import { COLUMNS } from '../../appliance/flow/columns';
import { ConnectionTable } from '../../appliance/flow/table';
import { TEXTS } from '../../appliance/flow/texts';
import { objectSize, type ObjectSize } from './object-size';
import { serversFor, SyntheticFill, type Family } from './table-fill';

const USAGE = `usage: node --expose-gc dist/test/bench/table-heap.js [--count N] [--family 4|6|mixed] [--per-address K]

Heap per tracked connection with the Socks ALP Connection table alone (no sockets, no lab):
N synthetic spliced connections (default 1000000) put in the real ConnectionTable, each
process's memory read after a full GC before and after: the JS heap (the handles) and the
typed arrays (the columns, the two indexes, the interner) together. Two runs, each in a
fresh process: the table; one Connection handle's size from a heap snapshot (1000 of them).
Prints a line per figure, then one JSON line.

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
  /** Typed-array bytes (after - before): the columns (their rows: capacity), the client index, the per-server port maps, the IPv6 interner. */
  columns: number;
  capacity: number;
  clientIndex: number;
  portMaps: number;
  interner: number;
  internerEntries: number;
  texts: number;
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

/**
 * A first fill of up to 1,000 connections, taken out again, so that the fill's code is compiled
 * (V8's code and feedback are on the heap) before the heap is read: only the connections count.
 */
function warmUp(o: Options, servers: number, count: number): void {
  const table = new ConnectionTable(servers, count, 1);
  new SyntheticFill(o.family, o.perAddress).fillTable(table, Math.min(count, 1000), servers);
  for (const c of table.connections()) table.remove(c);
}

/** One measurement, in this process (a child of the parent run). */
async function runPhase(phase: string, o: Options): Promise<Run> {
  const fill = new SyntheticFill(o.family, o.perAddress);
  const count = phase === 'snapshot' ? SNAPSHOT_COUNT : o.count;
  const servers = serversFor(count);
  warmUp(o, servers, count);
  const interner0 = typedBytes(ADDRESSES6);
  const columns0 = COLUMNS.bytes;
  const before = memory();
  const table = new ConnectionTable(servers, count, 1);
  const t0 = process.hrtime.bigint();
  fill.fillTable(table, count, servers);
  const fillNs = Number(process.hrtime.bigint() - t0) / count;
  if (table.size !== count || table.halfOpen !== 0) throw new Error(`the table holds ${table.size} (${table.halfOpen} half-open), not ${count}`);
  const after = memory();
  // The table's fields: its client index and its port maps, each an object of typed arrays.
  const [clientIndex, portMaps] = ['byClient', 'byServer'].map((k) => typedBytes((table as unknown as Record<string, object>)[k]));
  const h = getHeapStatistics() as unknown as Record<string, number>;
  const heapStatistics = Object.fromEntries(['total_heap_size', 'used_heap_size', 'total_physical_size', 'malloced_memory', 'external_memory'].map((k) => [k, h[k]]));
  const size = phase === 'snapshot' ? await objectSize('Connection') : undefined;
  return {
    phase, count, servers, before, after, fillNs, columns: COLUMNS.bytes - columns0, capacity: COLUMNS.capacity, clientIndex, portMaps, heapStatistics, size,
    interner: typedBytes(ADDRESSES6) - interner0, internerEntries: ADDRESSES6.size, texts: TEXTS.size,
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

function report(o: Options, table: Run, one: Run): void {
  const n = o.count;
  const family = o.family === 'mixed' ? 'mixed IPv4/IPv6' : `IPv${o.family}`;
  const s = one.size!;
  const c = {
    heapUsed: per(delta(table, 'heapUsed'), n),
    arrayBuffers: per(delta(table, 'arrayBuffers'), n),
    heap: per(delta(table, 'heapUsed') + delta(table, 'arrayBuffers'), n),
    rss: per(delta(table, 'rss'), n),
    columns: per(table.columns, n),
    clientIndex: per(table.clientIndex, n),
    portMaps: per(table.portMaps, n),
    interner: per(table.interner, n),
    /** One handle (heap snapshot) and its slot in the columns' array of handles. */
    handle: Math.round((s.total + 8) * 10) / 10,
  };
  const lines = [
    `table heap, ${n} ${family} spliced connections (handshake dropped), ${table.servers} servers (64512 ports each), ` +
      `${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    `the table:     heapUsed +${mb(delta(table, 'heapUsed'))} = ${c.heapUsed} B/connection; arrayBuffers +${mb(delta(table, 'arrayBuffers'))} = ${c.arrayBuffers} B; ` +
      `together ${c.heap} B/connection (target <= ${TARGET} B: ${(c.heap / TARGET).toFixed(2)} x); rss +${mb(delta(table, 'rss'))} = ${c.rss} B/connection; fill ${table.fillNs.toFixed(0)} ns/connection`,
    `columns:       ${table.capacity} rows, ${mb(table.columns)} = ${c.columns} B/connection (typed arrays, flow/columns.ts)`,
    `client index:  ${mb(table.clientIndex)} = ${c.clientIndex} B/connection (open addressing, load <= 1/2)`,
    `port maps:     ${table.servers} x Int32Array(65536) = ${mb(table.portMaps)} = ${c.portMaps} B/connection`,
    `interner:      ${table.internerEntries} IPv6 addresses, +${mb(table.interner)} = ${c.interner} B/connection (typed arrays, capacity doubled as it grows)`,
    `one handle (heap snapshot of ${s.instances}): object ${s.self} B + heap numbers ${s.heapNumbers} B + strings ${s.strings.toFixed(1)} B` +
      (s.other ? ` + other ${s.other.toFixed(1)} B` : '') + `, + 8 B of the array of handles = ${c.handle} B; ${table.texts} distinct destination texts`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  process.stdout.write(JSON.stringify({
    bench: 'table-heap', date: new Date().toISOString(), nproc: cpus().length, node: process.version,
    count: n, family: o.family, perAddress: o.perAddress, servers: table.servers, target: TARGET, perConnection: c, object: s, table,
  }) + '\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.phase !== undefined) {
    if (!['table', 'snapshot'].includes(o.phase)) fail(`unknown phase ${o.phase}`);
    process.stdout.write(JSON.stringify(await runPhase(o.phase, o)) + '\n');
    return;
  }
  report(o, child('table', o), child('snapshot', o));
}

// Output piped into a reader that stops early (head): nothing more to say.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));

main().catch((e: Error) => {
  process.stderr.write(`table-heap: ${e.message}\n`);
  process.exit(1);
});
