import { differenceOf, judge, mean, ratioOf, signed, valueOf, type FigureResult, type Goal, type Judged } from './targets';

/**
 * The figures of issue 15's target table from one bench run's measurements: one greppable
 * line each ("figure ..."), with the measured values, the ratio (or difference, or value), its
 * noise (targets.ts), the target and the verdict.
 */

/** One path's runs of the side-by-side workloads (bench.ts measure), in run order. */
export interface PathRuns {
  cps: number[];
  p99: number[];
  rr: number[];
  bulk: number[];
}

/** One run of the established-flow workload (flows.ts). */
export interface FlowRun {
  flows: number;
  seconds: number;
  /** Round trips the load counted (each one data segment each way). */
  rounds: number;
  /** Datagrams the appliance wrote to its TUN and TAPs over the interval. */
  packets: number;
  /** The appliance process's CPU time over the same interval (utime + stime). */
  cpuSeconds: number;
}

/** The RSS workload at one count of idle connections, each run's table size and RSS growth. */
export interface RssRuns {
  count: number;
  runs: { table: number; growthBytes: number }[];
}

export interface Measured {
  appliance: PathRuns;
  direct: PathRuns;
  nftables: PathRuns;
  flows: FlowRun[];
  /** table-heap.ts: heap per connection (heapUsed + arrayBuffers); undefined when not run. */
  heap?: { count: number; bytes: number };
  rss: RssRuns[];
}

export const GOALS = {
  cps: { op: '>=', target: 1.0 },
  p99: { op: '<=', target: 1.0 },
  echo: { op: '>=', target: 0.9 },
  pps: { op: '>=', target: 300_000 },
  heap: { op: '<=', target: 256 },
  rss: { op: '<=', target: 512 },
  bulk: { op: '>=', target: 1.0 },
} satisfies Record<string, Goal>;

/** The counts of idle connections the issue sets the RSS target at. */
export const RSS_COUNTS = [20_000, 100_000];

const runs = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(' ');
const verdictText = (j: Judged) => (j.verdict === 'met' ? 'met' : j.verdict === 'within noise' ? 'MISS within noise' : j.verdict);

function ratioFigure(name: string, what: string, a: number[], b: number[], digits: number, unit: string, goal: Goal): FigureResult {
  const r = ratioOf(a, b);
  const j = judge(r.value, r.noise, goal);
  return {
    name, ...j,
    line: `figure ${name}: ${mean(a).toFixed(digits)} / ${mean(b).toFixed(digits)}${unit} = ${r.value.toFixed(2)} (noise ±${j.noise.toFixed(2)}; ${what} runs ${runs(a, digits)} / ${runs(b, digits)}) ` +
      `target ${goal.op} ${goal.target.toFixed(2)} ${verdictText(j)}`,
  };
}

export function figures(m: Measured): FigureResult[] {
  const out: FigureResult[] = [];
  out.push(ratioFigure('conn/s appliance/direct, 16 clients', 'conn/s', m.appliance.cps, m.direct.cps, 0, '', GOALS.cps));

  const d = differenceOf(m.appliance.p99, m.direct.p99);
  const dj = judge(d.value, d.noise, GOALS.p99);
  out.push({
    name: 'p99 connection latency appliance - direct', ...dj,
    line: `figure p99 connection latency appliance - direct: ${mean(m.appliance.p99).toFixed(2)} - ${mean(m.direct.p99).toFixed(2)} ms = ${signed(d.value, 2)} ms ` +
      `(noise ±${dj.noise.toFixed(2)} ms; p99 runs ${runs(m.appliance.p99, 2)} / ${runs(m.direct.p99, 2)}) target ${GOALS.p99.op} ${signed(GOALS.p99.target, 2)} ms ${verdictText(dj)}`,
  });

  out.push(ratioFigure('echo rr/s appliance/direct, one flow', 'rr/s', m.appliance.rr, m.direct.rr, 0, '', GOALS.echo));
  out.push(packetsFigure(m.flows));
  out.push(heapFigure(m.heap));
  // The issue's two counts always have a line, "not measured" when the run left one out (--quick).
  out.push(...rssFigures([...m.rss, ...RSS_COUNTS.filter((c) => !m.rss.some((r) => r.count === c)).map((count) => ({ count, runs: [] }))]));
  out.push(ratioFigure('bulk appliance/nftables', 'MB/s', m.appliance.bulk, m.nftables.bulk, 0, ' MB/s', GOALS.bulk));
  return out;
}

/** Datagrams per CPU second of the appliance: what one fully busy core would carry. */
export function packetsFigure(flows: FlowRun[]): FigureResult {
  const name = 'established-flow packets/s per appliance core';
  if (flows.length === 0) return { name, ...judge(NaN, 0, GOALS.pps), line: `figure ${name}: not measured` };
  const perCore = flows.map((f) => f.packets / f.cpuSeconds);
  const v = valueOf(perCore);
  const j = judge(v.value, v.noise, GOALS.pps);
  const raw = mean(flows.map((f) => f.packets / f.seconds));
  const share = mean(flows.map((f) => f.cpuSeconds / f.seconds));
  const perRound = mean(flows.map((f) => f.packets / f.rounds));
  const k = (x: number) => `${(x / 1000).toFixed(1)} k/s`;
  return {
    name, ...j,
    line: `figure ${name}: ${k(v.value)} (noise ±${k(j.noise)}; raw ${k(raw)} at ${share.toFixed(2)} of a core, ${flows[0].flows} flows of 64-byte round trips, ${perRound.toFixed(2)} datagrams per round trip; ` +
      `per-core runs ${perCore.map((x) => (x / 1000).toFixed(1)).join(' ')} k/s) target ${GOALS.pps.op} ${k(GOALS.pps.target)} ${verdictText(j)}`,
  };
}

/** table-heap.ts is deterministic (a forced GC before each reading): no noise. */
export function heapFigure(heap: Measured['heap']): FigureResult {
  const name = 'heap per tracked connection';
  if (heap === undefined) return { name, ...judge(NaN, 0, GOALS.heap), line: `figure ${name}: not measured` };
  const j = judge(heap.bytes, 0, GOALS.heap);
  return {
    name: `${name}, ${heap.count} in the table`, ...j,
    line: `figure ${name}, ${heap.count} in the table: ${heap.bytes.toFixed(1)} B (noise 0: table-heap.ts, forced GC) target ${GOALS.heap.op} ${GOALS.heap.target} B ${verdictText(j)}`,
  };
}

/** One figure per count; a count measured once takes its relative noise from one measured twice (the cheaper 20,000). */
export function rssFigures(rss: RssRuns[]): FigureResult[] {
  const twice = rss.find((r) => r.runs.length >= 2);
  const relative = twice ? valueOf(perConnection(twice)).noise / valueOf(perConnection(twice)).value : undefined;
  return rss.map((r) => rssFigure(r, r.runs.length >= 2 ? undefined : relative));
}

const perConnection = (r: RssRuns) => r.runs.map((x) => x.growthBytes / x.table);

function rssFigure(r: RssRuns, relativeNoise: number | undefined): FigureResult {
  const name = `RSS growth per connection, ${r.count} idle`;
  if (r.runs.length === 0) return { name, ...judge(NaN, 0, GOALS.rss), line: `figure ${name}: not measured` };
  const per = perConnection(r);
  const v = valueOf(per, relativeNoise);
  const j = judge(v.value, v.noise, GOALS.rss);
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  return {
    name, ...j,
    line: `figure ${name}: ${r.runs.map((x) => `+${mb(x.growthBytes)} MB / ${x.table}`).join(', ')} = ${v.value.toFixed(0)} B ` +
      `(noise ±${j.noise.toFixed(0)} B${relativeNoise === undefined ? '' : ', relative noise of the count measured twice'}) target ${GOALS.rss.op} ${GOALS.rss.target} B ${verdictText(j)}`,
  };
}

/**
 * Informative: RSS per connection between the smallest and the largest count, the growth's
 * fixed part (the heap's first expansion, code, the handshake pools) taken out, which the
 * figure at 20,000 carries over fewer connections.
 */
export function marginalRssLine(rss: RssRuns[]): string | undefined {
  const measured = rss.filter((r) => r.runs.length > 0).sort((x, y) => x.count - y.count);
  if (measured.length < 2) return undefined;
  const [lo, hi] = [measured[0], measured[measured.length - 1]];
  const growth = (r: RssRuns) => mean(r.runs.map((x) => x.growthBytes));
  const table = (r: RssRuns) => mean(r.runs.map((x) => x.table));
  const per = (growth(hi) - growth(lo)) / (table(hi) - table(lo));
  return `info RSS per connection from ${lo.count} to ${hi.count} idle (the growth's fixed part taken out): ` +
    `+${((growth(hi) - growth(lo)) / 2 ** 20).toFixed(1)} MB / ${(table(hi) - table(lo)).toFixed(0)} = ${per.toFixed(0)} B`;
}
