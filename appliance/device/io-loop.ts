import { join } from 'node:path';
import * as libc from './libc';
import type { PacketDevice } from './device';

const POLLFD = 8;
const UV_READABLE = 1;
const UV_WRITABLE = 2;

/** A libuv status as a word: UV_EBADF (-9) is what a deleted TUN/TAP's POLLERR brings. */
function uvError(status: number): string {
  return status === -9 ? 'EBADF (the device was deleted)' : `libuv error ${status}`;
}

/** The fdwatch addon (native/fdwatch.c): descriptors watched by libuv's epoll in the event loop. */
interface FdWatch {
  watch(fd: number, cb: (status: number, events: number) => void): unknown;
  start(handle: unknown, events: number): number;
  stop(handle: unknown): void;
  close(handle: unknown): void;
}

function loadFdWatch(): FdWatch | undefined {
  if (process.env.SOCKSALP_NO_FDWATCH) return undefined; // to run, and test, the fallback
  try {
    return require(join(__dirname, '..', '..', '..', 'build', 'Release', 'fdwatch.node')) as FdWatch;
  } catch {
    return undefined;
  }
}

/**
 * Readiness-driven I/O for all devices: when a descriptor is readable it is drained, many
 * packets per wake-up, until its read says EAGAIN (or a batch limit keeps one busy device from
 * starving the rest and the event loop); then what the batch queued is written, and a device
 * whose write would block is watched for writability.
 *
 * Readiness comes from the fdwatch addon, which registers the descriptors with libuv's own
 * epoll: a packet wakes the JavaScript thread directly (about 30 us median here). Without the
 * addon, poll(2) waits on a koffi worker thread instead, which costs a thread hop per
 * wake-up (about 60 us median, several hundred at p99).
 */
export class IoLoop {
  private readonly fdwatch = loadFdWatch();
  /** Per device, its watcher; undefined once it is closed (a vanished device, or stop). */
  private readonly handles: (unknown | undefined)[] = [];
  private readonly armed: number[] = [];
  private readonly pollfds: Uint8Array;
  private readonly pollView: DataView;
  private running = false;
  private polling = false;
  /** What `stop` left to do once the poll thread no longer waits on the descriptors. */
  private stopped: (() => void) | undefined;

  /**
   * @param onReadable drains device `i`; returns how many packets it took
   * @param afterBatch writes what was queued; true when something is still waiting for a device
   * @param wantsWrite device `i` holds packets its descriptor would not take yet
   */
  constructor(
    private readonly devices: PacketDevice[],
    private readonly onReadable: (index: number) => number,
    private readonly afterBatch: () => boolean,
    private readonly wantsWrite: (index: number) => boolean,
  ) {
    this.pollfds = new Uint8Array(POLLFD * devices.length);
    this.pollView = new DataView(this.pollfds.buffer);
  }

  get mechanism(): string {
    return this.fdwatch ? 'epoll in the event loop (fdwatch)' : 'poll(2) on a worker thread (koffi)';
  }

  start(): void {
    this.running = true;
    if (this.fdwatch) {
      const fw = this.fdwatch;
      // Again after a stop (an HA appliance made backup, then master): each device watched anew.
      this.devices.forEach((d, i) => {
        if (d.fd < 0) return;
        const h = fw.watch(d.fd, (status, events) => this.ready(i, status, events));
        this.handles[i] = h;
        this.armed[i] = UV_READABLE;
        fw.start(h, UV_READABLE);
      });
      this.drainAll();
      return;
    }
    this.cycle();
  }

  /**
   * Stops reading and writing. `then` runs once nothing watches the descriptors any more, so
   * that it may close them: at once with the addon (closing a watcher takes its descriptor out
   * of epoll there and then), after the poll thread's current wait otherwise (at most a second).
   * Calling it again is harmless.
   */
  stop(then?: () => void): void {
    this.running = false;
    if (this.fdwatch) {
      for (let i = 0; i < this.handles.length; i++) this.unwatch(i);
    }
    if (this.polling) {
      const before = this.stopped;
      this.stopped = () => {
        before?.();
        then?.();
      };
      return;
    }
    then?.();
  }

  /** Stops and closes device `i`'s watcher, once; the descriptor may close after this. */
  private unwatch(i: number): void {
    const h = this.handles[i];
    if (h === undefined) return;
    this.handles[i] = undefined;
    this.fdwatch!.stop(h);
    this.fdwatch!.close(h);
  }

  /**
   * A device that failed (deleted, most often): its owner reads it once more, which records
   * why and logs it once, then nothing watches it and its descriptor closes; the others go on.
   */
  private retire(i: number): void {
    const d = this.devices[i];
    if (d.fd < 0) return;
    this.onReadable(i);
    if (this.fdwatch) this.unwatch(i);
    d.close();
  }

  /** Device `i` was reopened (a new descriptor): watched again. */
  revive(i: number): void {
    const d = this.devices[i];
    if (!this.running || d.fd < 0) return;
    if (this.fdwatch) {
      const fw = this.fdwatch;
      this.handles[i] = fw.watch(d.fd, (status, events) => this.ready(i, status, events));
      this.armed[i] = UV_READABLE;
      fw.start(this.handles[i], UV_READABLE);
    }
    // Without the addon, the next poll takes the new descriptor; none is due if every device had failed.
    else if (!this.polling) this.cycle();
  }

  private drainAll(): void {
    for (let i = 0; i < this.devices.length; i++) this.onReadable(i);
    this.rearm(this.afterBatch());
  }

  private ready(index: number, status: number, events: number): void {
    if (!this.running) return;
    const d = this.devices[index];
    if (status < 0) {
      // POLLERR: the device is gone (libuv has stopped watching it). A read says why.
      this.onReadable(index);
      if (d.failure === undefined) d.fail(`poll: ${uvError(status)}`);
    } else if (events & UV_READABLE) {
      this.onReadable(index);
    }
    this.rearm(this.afterBatch());
  }

  /** Retires failed devices; watches for writability exactly the devices that hold packets. */
  private rearm(waiting: boolean): void {
    for (let i = 0; i < this.devices.length; i++) {
      const d = this.devices[i];
      if (d.fd < 0) continue;
      if (d.failure !== undefined) {
        this.retire(i);
        continue;
      }
      const want = UV_READABLE | (waiting && this.wantsWrite(i) ? UV_WRITABLE : 0);
      if (want !== this.armed[i]) {
        this.armed[i] = want;
        this.fdwatch!.start(this.handles[i], want);
      }
    }
  }

  // ---- without the addon: poll(2) on a koffi worker thread

  private cycle(): void {
    if (!this.running || this.polling) return;
    // Drain first: poll only when every device is empty, so a busy appliance pays no
    // thread hop per batch. setImmediate lets timers and the control socket run in between.
    let got = 0;
    for (let i = 0; i < this.devices.length; i++) got += this.onReadable(i);
    const waiting = this.afterBatch();
    if (got > 0) {
      setImmediate(() => this.cycle());
      return;
    }
    this.arm(waiting);
  }

  private arm(waitingToWrite: boolean): void {
    const view = this.pollView;
    let n = 0;
    for (let i = 0; i < this.devices.length; i++) {
      const d = this.devices[i];
      if (d.failure !== undefined) this.retire(i);
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
      if (!this.running) {
        const then = this.stopped;
        this.stopped = undefined;
        then?.();
        return;
      }
      this.cycle();
    });
  }
}
