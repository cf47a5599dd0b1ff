/**
 * A writer of the Prometheus text exposition format, version 0.0.4: each family's `# HELP`
 * and `# TYPE` lines, then its samples, label values and help text escaped as the format
 * says (backslash, double quote in label values, line feed). Families are written whole, one
 * after another, as the format requires; a family with no samples is still announced, so a
 * scrape always shows the same names.
 */

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Label name and value pairs, in the order they are written. */
export type Labels = readonly (readonly [string, string])[];

/** A cumulative histogram as the statistics keep it: counts per bucket (not cumulative), the last bucket +Inf. */
export interface Histogram {
  readonly bounds: readonly number[];
  readonly counts: ArrayLike<number>;
  readonly sum: number;
  readonly count: number;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SPECIAL = /[\\"\n]/;
/** Label names are the program's own few: each is checked once. */
const goodLabels = new Set<string>();

export class Exposition {
  private readonly lines: string[] = [];
  private current = '';
  private type: MetricType = 'gauge';
  private readonly seen = new Set<string>();

  /** Starts a family. Names are the program's own, so a bad or repeated one is a bug: thrown. */
  family(name: string, type: MetricType, help: string): this {
    if (!NAME.test(name) || this.seen.has(name)) throw new Error(`metric family ${JSON.stringify(name)} is not a valid new name`);
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
    this.seen.add(name);
    this.current = name;
    this.type = type;
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of the current counter or gauge. */
  sample(labels: Labels, value: number): this {
    if (this.type === 'histogram' || this.type === 'summary') throw new Error(`${this.current} is a ${this.type}: use ${this.type}()`);
    this.lines.push(`${this.current}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** The current histogram's series for `labels`: cumulative `_bucket{le}` lines, `_sum`, `_count`. */
  histogram(labels: Labels, h: Histogram): this {
    if (this.type !== 'histogram') throw new Error(`${this.current} is not a histogram`);
    if (h.counts.length !== h.bounds.length + 1) throw new Error(`${this.current}: ${h.bounds.length} bounds need ${h.bounds.length + 1} counts`);
    const own = formatLabels(labels);
    const bucket = `${this.current}_bucket${own === '' ? '{' : `${own.slice(0, -1)},`}le="`;
    let cumulative = 0;
    for (let i = 0; i <= h.bounds.length; i++) {
      cumulative += h.counts[i];
      this.lines.push(`${bucket}${i < h.bounds.length ? formatValue(h.bounds[i]) : '+Inf'}"} ${formatValue(cumulative)}`);
    }
    this.lines.push(`${this.current}_sum${own} ${formatValue(h.sum)}`);
    // The +Inf bucket and _count are one figure: the format wants them equal.
    this.lines.push(`${this.current}_count${own} ${formatValue(cumulative)}`);
    return this;
  }

  /** The current summary's series for `labels`: `{quantile}` lines, `_sum`, `_count`. */
  summary(labels: Labels, quantiles: readonly (readonly [number, number])[], sum: number, count: number): this {
    if (this.type !== 'summary') throw new Error(`${this.current} is not a summary`);
    const own = formatLabels(labels);
    const q = `${this.current}${own === '' ? '{' : `${own.slice(0, -1)},`}quantile="`;
    for (const [quantile, value] of quantiles) this.lines.push(`${q}${formatValue(quantile)}"} ${formatValue(value)}`);
    this.lines.push(`${this.current}_sum${own} ${formatValue(sum)}`, `${this.current}_count${own} ${formatValue(count)}`);
    return this;
  }

  text(): string {
    return this.lines.length === 0 ? '' : this.lines.join('\n') + '\n';
  }
}

/** `rstExact` -> `rst-exact`: the event label of a counter named in camel case. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A family of one sample per counter of `bag`, labelled `label` (default `event`). */
export function bag(x: Exposition, name: string, help: string, counters: object, label = 'event'): void {
  x.family(name, 'counter', help);
  for (const [k, v] of Object.entries(counters)) if (typeof v === 'number') x.sample([[label, kebab(k)]], v);
}

export function escapeLabelValue(v: string): string {
  if (!SPECIAL.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return '';
  let out = '{';
  for (let i = 0; i < labels.length; i++) {
    const [name, value] = labels[i];
    if (!goodLabels.has(name)) {
      if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`label ${JSON.stringify(name)} is not a valid name`);
      goodLabels.add(name);
    }
    out += `${i ? ',' : ''}${name}="${escapeLabelValue(value)}"`;
  }
  return out + '}';
}

/** Go's float text as Prometheus parses it: integers plainly, +Inf, -Inf, NaN. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
