import { constants, monitorEventLoopDelay, performance, PerformanceObserver, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The process's own health, cheap enough to stay on: how late the event loop runs its timers
 * (a libuv timer every RESOLUTION_MS, in C++), how busy the loop is (event-loop utilization),
 * and the garbage collector's pauses by kind. No figure is per packet: the GC observer runs
 * once per batch of collections, the delay histogram in native code.
 */

export const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;
export type GcKind = (typeof GC_KINDS)[number];

/** Node's GC kind flags, in GC_KINDS's order. */
const KIND_FLAGS = [
  constants.NODE_PERFORMANCE_GC_MINOR,
  constants.NODE_PERFORMANCE_GC_MAJOR,
  constants.NODE_PERFORMANCE_GC_INCREMENTAL,
  constants.NODE_PERFORMANCE_GC_WEAKCB,
];

const RESOLUTION_MS = 10;
/** How often the "last interval" utilization is taken. */
const INTERVAL_MS = 10_000;

export interface DelaySummary {
  /** Samples (one per timer run). */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export class RuntimeStats {
  private delay: IntervalHistogram | undefined;
  private observer: PerformanceObserver | undefined;
  private timer: NodeJS.Timeout | undefined;
  private eluStart: EventLoopUtilization | undefined;
  private eluMark: EventLoopUtilization | undefined;
  /** Utilization (0-1) over the last complete interval; since start until one has passed. */
  private eluLast = 0;
  private intervalDone = false;
  /** Per GC kind (GC_KINDS's order): collections, seconds paused, the longest pause. */
  readonly gcRuns = new Float64Array(GC_KINDS.length);
  readonly gcSeconds = new Float64Array(GC_KINDS.length);
  readonly gcMaxSeconds = new Float64Array(GC_KINDS.length);

  /** Between start and stop. */
  get running(): boolean {
    return this.observer !== undefined;
  }

  start(): void {
    if (this.observer) return;
    this.delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.delay.enable();
    this.eluStart = this.eluMark = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.eluLast = performance.eventLoopUtilization(now, this.eluMark).utilization;
      this.eluMark = now;
      this.intervalDone = true;
    }, INTERVAL_MS);
    this.timer.unref();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gc((e as unknown as { detail?: { kind: number } }).detail?.kind ?? 0, e.duration / 1000);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Disables the histogram and the observer; the figures stay readable. Harmless twice. */
  stop(): void {
    this.delay?.disable();
    this.observer?.disconnect();
    if (this.timer) clearInterval(this.timer);
    this.observer = undefined;
    this.timer = undefined;
  }

  /** One collection of Node's kind flag `flag`, `seconds` long. */
  gc(flag: number, seconds: number): void {
    const k = KIND_FLAGS.indexOf(flag);
    if (k < 0) return;
    this.gcRuns[k]++;
    this.gcSeconds[k] += seconds;
    if (seconds > this.gcMaxSeconds[k]) this.gcMaxSeconds[k] = seconds;
  }

  /**
   * The delay since start, in ms beyond the timer's period: the histogram records the time
   * between two runs of its timer, so an idle loop reads about RESOLUTION_MS.
   */
  delaySummary(): DelaySummary {
    const h = this.delay;
    if (!h || h.count === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
    const late = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    return { count: h.count, p50Ms: late(h.percentile(50)), p99Ms: late(h.percentile(99)), maxMs: late(h.max), meanMs: late(h.mean) };
  }

  /** Seconds the loop was busy and idle since start, and its utilization since start and over the last interval. */
  utilization(): { activeSeconds: number; idleSeconds: number; sinceStart: number; last: number } {
    if (!this.eluStart) return { activeSeconds: 0, idleSeconds: 0, sinceStart: 0, last: 0 };
    const u = performance.eventLoopUtilization(this.eluStart);
    return { activeSeconds: u.active / 1000, idleSeconds: u.idle / 1000, sinceStart: u.utilization, last: this.intervalDone ? this.eluLast : u.utilization };
  }

  /** What `ctl status` shows as `runtime`. */
  status() {
    const gc = Object.fromEntries(GC_KINDS.map((kind, k) => [kind, { runs: this.gcRuns[k], seconds: this.gcSeconds[k], maxMs: this.gcMaxSeconds[k] * 1000 }])) as
      Record<GcKind, { runs: number; seconds: number; maxMs: number }>;
    return { monitoring: this.running, eventLoopDelay: this.delaySummary(), utilization: this.utilization(), gc };
  }
}
