import * as libc from './libc';
import { openTunTap, type DeviceKind } from './tuntap';
import type { PacketPool } from './packet-pool';

/**
 * One TUN or TAP descriptor. Reads drain until EAGAIN; a write that would block says so and
 * the caller's output queue keeps the packet (forward/output-queue). A vanished device
 * (EIO, EBADF, ENODEV) is recorded once and its descriptor closed; the others go on.
 */
export class Device {
  fd: number;
  readonly stats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, errors: 0 };
  failure: string | undefined;

  constructor(readonly name: string, readonly kind: DeviceKind, private readonly pool: PacketPool) {
    this.fd = openTunTap(name, kind);
  }

  /** Views the descriptor reads into and writes from: at the frame (TAP) or the IP header (TUN). */
  private view(slot: number): Uint8Array {
    return this.kind === 'tap' ? this.pool.frameViews[slot] : this.pool.ipViews[slot];
  }

  /** Reads one packet into `slot`; returns its length, 0 when nothing is waiting or the device failed. */
  read(slot: number): number {
    if (this.fd < 0) return 0;
    const n = libc.read(this.fd, this.view(slot), this.kind === 'tap' ? this.pool.slotSize : this.pool.maxIpLength);
    if (n > 0) {
      this.stats.rxPackets++;
      this.stats.rxBytes += n;
      return n;
    }
    if (n < 0) {
      const e = libc.errno();
      if (e !== libc.EAGAIN && e !== libc.EINTR) this.fail(`read: ${libc.strerror(e)}`);
    }
    return 0;
  }

  /**
   * Writes `len` bytes of the slot. True when the packet is gone (written, or refused for
   * good and counted); false when the descriptor would block and the caller should keep it.
   */
  write(slot: number, len: number): boolean {
    if (this.fd < 0) return true;
    const n = libc.write(this.fd, this.view(slot), len);
    if (n === len) {
      this.stats.txPackets++;
      this.stats.txBytes += len;
      return true;
    }
    if (n < 0) {
      const e = libc.errno();
      if (e === libc.EAGAIN || e === libc.EINTR) return false;
      if (e === libc.EIO || e === libc.EBADF || e === libc.ENODEV) this.fail(`write: ${libc.strerror(e)}`);
      else this.stats.errors++;
    }
    return true;
  }

  private fail(why: string): void {
    this.stats.errors++;
    this.failure = why;
    this.close();
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}
