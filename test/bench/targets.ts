/**
 * The performance issue's targets (issue 15) and how one bench run is judged against them.
 *
 * The run's own noise: every figure is measured at least twice in the run (the paths compared
 * interleaved A B B A, so that drift in the machine's load falls on both), and a path's noise
 * is half the spread of its runs, (max - min) / 2: for two runs, the standard error of their
 * mean. A ratio's noise is the ratio times the sum of both paths' relative noises; a
 * difference's, the sum of both paths' noises. A figure that misses its target by no more
 * than its noise is "within noise"; only one that misses by more fails `--check`.
 */

export type Op = '>=' | '<=';

export interface Goal {
  op: Op;
  target: number;
}

export type Verdict = 'met' | 'within noise' | 'MISS' | 'not measured';

export interface Judged {
  value: number;
  noise: number;
  verdict: Verdict;
}

export function mean(runs: readonly number[]): number {
  return runs.reduce((a, b) => a + b, 0) / runs.length;
}

/** Half the spread of a path's runs: 0 for a single run (its noise must then come from elsewhere). */
export function halfSpread(runs: readonly number[]): number {
  return (Math.max(...runs) - Math.min(...runs)) / 2;
}

/** mean(a) / mean(b), its noise the ratio times the sum of both relative noises. */
export function ratioOf(a: readonly number[], b: readonly number[]): { value: number; noise: number } {
  const value = mean(a) / mean(b);
  return { value, noise: value * (halfSpread(a) / mean(a) + halfSpread(b) / mean(b)) };
}

/** mean(a) - mean(b), its noise the sum of both paths' noises. */
export function differenceOf(a: readonly number[], b: readonly number[]): { value: number; noise: number } {
  return { value: mean(a) - mean(b), noise: halfSpread(a) + halfSpread(b) };
}

/**
 * One path's figure: the mean of its runs and half their spread; `relativeNoise` instead when
 * given (a figure measured once, whose noise is that of a cheaper sibling measured twice).
 */
export function valueOf(runs: readonly number[], relativeNoise?: number): { value: number; noise: number } {
  const value = mean(runs);
  return { value, noise: relativeNoise === undefined ? halfSpread(runs) : Math.abs(value) * relativeNoise };
}

export function judge(value: number, noise: number, goal: Goal): Judged {
  if (!Number.isFinite(value)) return { value, noise, verdict: 'not measured' };
  const n = Number.isFinite(noise) ? Math.abs(noise) : 0;
  const met = goal.op === '>=' ? value >= goal.target : value <= goal.target;
  const near = goal.op === '>=' ? value + n >= goal.target : value - n <= goal.target;
  return { value, noise: n, verdict: met ? 'met' : near ? 'within noise' : 'MISS' };
}

export interface FigureResult extends Judged {
  name: string;
  line: string;
}

/** The closing line, and whether `--check` fails: only a MISS beyond noise does. */
export function summary(figures: readonly FigureResult[]): { line: string; failed: string[] } {
  const by = (v: Verdict) => figures.filter((f) => f.verdict === v).map((f) => f.name);
  const failed = by('MISS');
  const parts = [`${by('met').length} met`, `${by('within noise').length} missed within noise`, `${failed.length} missed beyond noise`];
  const skipped = by('not measured');
  if (skipped.length) parts.push(`${skipped.length} not measured (${skipped.join('; ')})`);
  return { line: `targets: ${figures.length} figures: ${parts.join(', ')}${failed.length ? `: ${failed.join('; ')}` : ''}`, failed };
}

/** A number at `digits` decimals with its sign, for differences ("+1.00", "-45.65"). */
export function signed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}
