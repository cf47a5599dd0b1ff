import * as libc from './libc';
import type { Device } from './device';

const POLLFD = 8;

/**
 * Readiness-driven I/O for all devices. The thread that runs JavaScript never blocks: poll(2)
 * waits on a koffi worker thread, and when it returns the devices are drained here, many
 * packets per wake-up, until each read says EAGAIN (or a batch limit keeps one busy device
 * from starving the rest and the event loop). Only then is poll armed again.
 */
export class IoLoop {
  private readonly pollfds: Uint8Array;
  private running = false;
  private polling = false;

  /**
   * @param onReadable drains device `i`; returns how many packets it took
   * @param afterBatch writes what the batch queued; returns true when something is still waiting for POLLOUT
   */
  constructor(
    private readonly devices: Device[],
    private readonly onReadable: (index: number) => number,
    private readonly afterBatch: () => boolean,
    private readonly wantsWrite: (index: number) => boolean,
  ) {
    this.pollfds = new Uint8Array(POLLFD * devices.length);
  }

  start(): void {
    this.running = true;
    this.cycle();
  }

  stop(): void {
    this.running = false;
  }

  /** Drains every device once without waiting; used before arming poll and by tests. */
  drainOnce(): number {
    let total = 0;
    for (let i = 0; i < this.devices.length; i++) total += this.onReadable(i);
    return total;
  }

  private cycle(): void {
    if (!this.running || this.polling) return;
    // Drain first: poll only when every device is empty, so a busy appliance pays no
    // thread hop per batch. setImmediate lets timers and the control socket run in between.
    const got = this.drainOnce();
    const waiting = this.afterBatch();
    if (got > 0) {
      setImmediate(() => this.cycle());
      return;
    }
    this.arm(waiting);
  }

  private arm(waitingToWrite: boolean): void {
    const view = new DataView(this.pollfds.buffer);
    let n = 0;
    for (let i = 0; i < this.devices.length; i++) {
      const d = this.devices[i];
      view.setInt32(i * POLLFD, d.fd, true);
      const events = libc.POLLIN | (waitingToWrite && this.wantsWrite(i) ? libc.POLLOUT : 0);
      view.setInt16(i * POLLFD + 4, d.fd >= 0 ? events : 0, true);
      view.setInt16(i * POLLFD + 6, 0, true);
      if (d.fd >= 0) n++;
    }
    if (n === 0) return;
    this.polling = true;
    // A bounded wait keeps the loop checking `running` and vanished devices.
    libc.poll.async(this.pollfds, this.devices.length, 1000, () => {
      this.polling = false;
      this.cycle();
    });
  }
}
