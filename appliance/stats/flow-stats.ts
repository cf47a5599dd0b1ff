import type { Connection } from '../flow/connection';
import { END_REASONS } from './end-reason';
import { Histogram } from './histogram';
import type { ConnectionObserver } from './observer';
import { SlidingWindow, type WindowFigures } from './window';

const REASONS = END_REASONS.length;

/**
 * The per-server and per-ALP figures the network monitor reads: lifetime counts and latency
 * histograms (the metrics), and the last minute (window.ts: what `ctl servers` and the monitor
 * channel show as `load`). Fed when a connection is spliced, when a server fails one, when one
 * ends, and by two typed-array additions per forwarded datagram (its bytes).
 */
export class FlowStats implements ConnectionObserver {
  /** Bytes forwarded either way by ALP id since start (IP total lengths); by server, the egress counts them. */
  alpBytes: Float64Array;
  private readonly handshake: Histogram[];
  private readonly reply: Histogram[];
  /** Ended connections by (server + 1) x (ALP + 1) x reason; -1 (none chosen, none classified) is 0. */
  private endedCounts: Float64Array;
  private alps: number;
  readonly byServer: SlidingWindow;
  readonly byAlp: SlidingWindow;

  private now: number;

  /**
   * `census`: the active connections per server and ALP id, as the table's sweep last counted
   * them; `serverBytes`: the bytes to and from a server since start, as its egress counts them.
   */
  constructor(
    private readonly servers: number, alps: number, now: number,
    private readonly census: () => { activeByServer: number[]; activeByAlp: number[] },
    serverBytes: (server: number) => number,
  ) {
    this.now = now;
    this.alps = alps;
    this.alpBytes = new Float64Array(alps);
    this.handshake = Array.from({ length: servers }, () => new Histogram());
    this.reply = Array.from({ length: servers }, () => new Histogram());
    this.endedCounts = new Float64Array((servers + 1) * (alps + 1) * REASONS);
    this.byServer = new SlidingWindow(servers, now, serverBytes);
    this.byAlp = new SlidingWindow(alps, now, (k) => this.alpBytes[k] ?? 0);
  }

  /** A reload named new ALPs. */
  growAlps(alps: number): void {
    if (alps <= this.alps) return;
    const bytes = new Float64Array(alps);
    bytes.set(this.alpBytes);
    this.alpBytes = bytes;
    const was = (this.alps + 1) * REASONS;
    const now = (alps + 1) * REASONS;
    const ended = new Float64Array((this.servers + 1) * now);
    for (let s = 0; s <= this.servers; s++) ended.set(this.endedCounts.subarray(s * was, (s + 1) * was), s * now);
    this.endedCounts = ended;
    this.alps = alps;
    this.byAlp.grow(alps);
  }

  tick(now: number): void {
    this.now = now;
    this.byServer.rotate(now);
    this.byAlp.rotate(now);
  }

  /** The server's reply is in: the connection is carried, after the latencies it recorded. */
  spliced(c: Connection): void {
    if (c.server < 0) return;
    this.byServer.connected(c.server, c.handshakeUs, c.replyUs);
    if (c.alp >= 0) this.byAlp.connected(c.alp, c.handshakeUs, c.replyUs);
    if (c.handshakeUs >= 0) this.handshake[c.server].observeUs(c.handshakeUs);
    if (c.replyUs >= 0) this.reply[c.server].observeUs(c.replyUs);
  }

  /** Server `server` failed a connection: its handshake (then tried elsewhere), its reply or the replay after it. */
  failed(server: number, alp: number): void {
    this.byServer.failed(server);
    if (alp >= 0) this.byAlp.failed(alp);
  }

  ended(c: Connection): void {
    const alp = c.alp < this.alps ? c.alp : -1;
    this.endedCounts[((c.server + 1) * (this.alps + 1) + alp + 1) * REASONS + c.endReason]++;
  }

  histogram(kind: 'handshake' | 'reply', server: number): Histogram {
    return (kind === 'handshake' ? this.handshake : this.reply)[server];
  }

  /** Lifetime counts of ended connections, the nonzero ones (server -1: none was chosen; ALP -1: not classified). */
  forEachEnded(fn: (server: number, alp: number, reason: number, count: number) => void): void {
    const e = this.endedCounts;
    for (let i = 0; i < e.length; i++) {
      if (e[i] === 0) continue;
      const reason = i % REASONS;
      const rest = (i - reason) / REASONS;
      fn(Math.floor(rest / (this.alps + 1)) - 1, (rest % (this.alps + 1)) - 1, reason, e[i]);
    }
  }

  /** The last minute of server `server`. */
  window(server: number): WindowFigures {
    return this.byServer.figures(server, this.now, this.census().activeByServer[server] ?? 0);
  }

  /** The last minute of ALP id `alp`. */
  windowAlp(alp: number): WindowFigures {
    return this.byAlp.figures(alp, this.now, this.census().activeByAlp[alp] ?? 0);
  }
}
