import { BINS, binOf, percentile } from './histogram';

/** The sliding window: 12 spans of 5 s, the oldest dropped as a new one starts. */
export const SPAN_SECONDS = 5;
export const SPANS = 12;

/** What the window says of one server or ALP (ms: -1 when nothing was measured). */
export interface WindowFigures {
  seconds: number;
  connectionsPerSecond: number;
  active: number;
  handshakeP50: number;
  handshakeP99: number;
  replyP50: number;
  replyP99: number;
  bytesPerSecond: number;
  failures: number;
}

/**
 * Per key (a server index, or an ALP id), over the last minute: connections spliced, failures,
 * latency bins for percentiles, and the byte total at each span's start (bytes per second is
 * the difference with now). Typed arrays, allocated once (grown only when a reload names a
 * new ALP); a span is cleared when it is reused.
 */
export class SlidingWindow {
  private keys = 0;
  private span = 0;
  private spanEnds = SPAN_SECONDS;
  /** Spans that have started since the window began (to know how much of it is filled). */
  private started = 1;
  private firstAt = 0;
  private connections = new Float64Array(0);
  private failures = new Float64Array(0);
  private bytesAtStart = new Float64Array(0);
  private handshake = new Uint32Array(0);
  private reply = new Uint32Array(0);

  constructor(keys: number, now: number, private readonly bytesOf: (key: number) => number) {
    this.firstAt = now;
    this.spanEnds = now + SPAN_SECONDS;
    this.grow(keys);
  }

  grow(keys: number): void {
    if (keys <= this.keys) return;
    const more = <T extends Float64Array | Uint32Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(keys * per);
      next.set(old);
      return next;
    };
    this.connections = more(this.connections, (n) => new Float64Array(n), SPANS);
    this.failures = more(this.failures, (n) => new Float64Array(n), SPANS);
    this.bytesAtStart = more(this.bytesAtStart, (n) => new Float64Array(n), SPANS);
    this.handshake = more(this.handshake, (n) => new Uint32Array(n), SPANS * BINS);
    this.reply = more(this.reply, (n) => new Uint32Array(n), SPANS * BINS);
    for (let k = this.keys; k < keys; k++) this.bytesAtStart.fill(this.bytesOf(k), k * SPANS, (k + 1) * SPANS);
    this.keys = keys;
  }

  /** Starts the spans whose time has come (once per tick). */
  rotate(now: number): void {
    while (now >= this.spanEnds) {
      this.span = (this.span + 1) % SPANS;
      this.spanEnds += SPAN_SECONDS;
      if (this.started < SPANS) this.started++;
      for (let k = 0; k < this.keys; k++) {
        const i = k * SPANS + this.span;
        this.connections[i] = 0;
        this.failures[i] = 0;
        this.bytesAtStart[i] = this.bytesOf(k);
        this.handshake.fill(0, i * BINS, (i + 1) * BINS);
        this.reply.fill(0, i * BINS, (i + 1) * BINS);
      }
    }
  }

  /** A connection of `key` spliced, after these latencies (us; -1: not measured). */
  connected(key: number, handshakeUs: number, replyUs: number): void {
    const i = key * SPANS + this.span;
    this.connections[i]++;
    if (handshakeUs >= 0) this.handshake[i * BINS + binOf(handshakeUs)]++;
    if (replyUs >= 0) this.reply[i * BINS + binOf(replyUs)]++;
  }

  failed(key: number): void {
    this.failures[key * SPANS + this.span]++;
  }

  figures(key: number, now: number, active: number): WindowFigures {
    // The spans in use, oldest first: the oldest has run for SPAN_SECONDS * (started - 1) + the current span's part.
    const oldest = this.started < SPANS ? 0 : (this.span + 1) % SPANS;
    const spanStartOfOldest = this.spanEnds - SPAN_SECONDS * this.started;
    const seconds = Math.max(1e-3, now - Math.max(spanStartOfOldest, this.firstAt));
    let connections = 0;
    let failures = 0;
    for (let s = 0; s < SPANS; s++) {
      connections += this.connections[key * SPANS + s];
      failures += this.failures[key * SPANS + s];
    }
    const base = key * SPANS * BINS;
    const bytes = this.bytesOf(key) - this.bytesAtStart[key * SPANS + oldest];
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      seconds: Math.round(seconds),
      connectionsPerSecond: round(connections / seconds),
      active,
      handshakeP50: round(percentile(this.handshake, base, BINS, SPANS, 0.5)),
      handshakeP99: round(percentile(this.handshake, base, BINS, SPANS, 0.99)),
      replyP50: round(percentile(this.reply, base, BINS, SPANS, 0.5)),
      replyP99: round(percentile(this.reply, base, BINS, SPANS, 0.99)),
      bytesPerSecond: Math.round(bytes / seconds),
      failures,
    };
  }
}
