import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** How often the event loop beats. */
const BEAT_MS = 250;

/**
 * The appliance's own watchdog, as systemd's WatchdogSec is for a service: a thread that ends
 * the process when its event loop has not turned for `limitS` seconds (a loop stuck in a bug,
 * not slow). A process hung so keeps its devices open, so its TUN keeps its carrier and an ECMP
 * member's routes stay announced (FRR has no track script, issue 16), and an HA master's
 * keepalived sees only a failing health check; ended, its devices close, its static routes go
 * inactive, bgpd withdraws them, and the router's group drops it as it would a crash. The
 * thread (watchdog-thread.ts) only reads a counter this loop bumps, in shared memory.
 */
export class Watchdog {
  private readonly beat = new Int32Array(new SharedArrayBuffer(4));
  private timer: NodeJS.Timeout | undefined;
  private thread: Worker | undefined;

  constructor(private readonly limitS: number) {}

  start(): void {
    if (this.limitS <= 0 || this.thread !== undefined) return;
    this.thread = new Worker(join(__dirname, 'watchdog-thread.js'), { workerData: { beat: this.beat, limitMs: this.limitS * 1000 }, stdout: false, stderr: false });
    this.thread.unref();
    this.timer = setInterval(() => Atomics.add(this.beat, 0, 1), BEAT_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    void this.thread?.terminate();
    this.thread = undefined;
  }
}
