import type { RuntimeStats } from '../stats/runtime';
import { GC_KINDS } from '../stats/runtime';
import type { Exposition } from './exposition';

/**
 * The process's own health (stats/runtime.ts): the event loop's delay since start as a
 * summary (its quantiles over the process's life, so they move slowly; the maximum as a
 * gauge), its utilization over the last ten seconds, and the garbage collector's pauses by kind.
 */
export function runtimeMetrics(x: Exposition, r: RuntimeStats): void {
  const d = r.delaySummary();
  x.family('socksalp_event_loop_delay_seconds', 'summary', 'How late the event loop ran a 10 ms timer, since start.')
    .summary([], [[0.5, d.p50Ms / 1000], [0.99, d.p99Ms / 1000]], (d.meanMs * d.count) / 1000, d.count);
  x.family('socksalp_event_loop_delay_max_seconds', 'gauge', 'The longest event-loop delay since start.').sample([], d.maxMs / 1000);
  x.family('socksalp_event_loop_utilization', 'gauge', 'Share of the last 10 s the event loop was busy (0-1; since start during the first 10 s).').sample([], r.utilization().last);
  x.family('socksalp_gc_pause_seconds_total', 'counter', 'Seconds the garbage collector paused the appliance, by kind (minor, major, incremental, weakcb).');
  GC_KINDS.forEach((kind, k) => x.sample([['kind', kind]], r.gcSeconds[k]));
  x.family('socksalp_gc_runs_total', 'counter', 'Garbage collections, by kind (minor, major, incremental, weakcb).');
  GC_KINDS.forEach((kind, k) => x.sample([['kind', kind]], r.gcRuns[k]));
}
