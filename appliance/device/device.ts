import { existsSync, readFileSync } from 'node:fs';
import * as libc from './libc';
import { isMultiQueue, openTunTap, type DeviceKind } from './tuntap';
import { steerByPort } from './steering';
import { VNET_HDR, type PacketPool } from './packet-pool';
import { ETH_HEADER } from '../wire/ethernet';

/** What a descriptor says once its TUN/TAP device was deleted ("File descriptor in bad state"). */
const EBADFD = 77;

/**
 * What the forwarder and the I/O loop need of a device: one TUN or TAP descriptor here
 * (`Device`); the fuzzing harness gives them devices in memory instead.
 */
export interface PacketDevice {
  readonly name: string;
  readonly kind: DeviceKind;
  /** The descriptor the I/O loop watches; -1 once closed (or for a device in memory). */
  readonly fd: number;
  readonly failure: string | undefined;
  readonly stats: { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; errors: number };
  read(slot: number): number;
  write(slot: number, len: number): boolean;
  fail(why: string): void;
  close(): void;
  /**
   * After a failure, once the descriptor is closed: attaches again if it can, re-creating the
   * interface only when this process created it; true when the device works again.
   */
  reopen(): boolean;
}

/** Opens the device of that name and kind (the forwarder's, for its TUN and its TAPs). */
export type OpenDevice = (name: string, kind: DeviceKind) => PacketDevice;

/**
 * One TUN or TAP descriptor, opened with IFF_VNET_HDR and TCP offloads: a read may bring a
 * TCP super-packet of up to 64 KiB with a partial checksum, and a write may hand one to the
 * kernel, which segments it where needed. The virtio-net header travels in the pool's
 * per-slot metadata, with offsets made relative to the IP header (a TAP's count from the
 * Ethernet header).
 *
 * Reads drain until EAGAIN; a write that would block says so and the caller's output queue
 * keeps the packet (forward/output-queue). A vanished device (EBADFD once deleted, EIO, EBADF,
 * ENODEV) is recorded once and no longer read or written; the others go on.
 */
export class Device implements PacketDevice {
  fd: number;
  readonly stats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, errors: 0 };
  failure: string | undefined;
  /** What a header offset counts from, before the IP header. */
  private readonly l2: number;

  /** Whether this process made the interface (it did not exist at open): then it re-creates it. */
  private readonly created: boolean;

  /**
   * `queues`: how this descriptor attaches. With `workers` > 1 each worker attaches one queue of
   * a multi-queue device, and the first (`steer`) sets the device's steering by port
   * (steering.ts); with one worker a device made multi-queue is attached as its one queue.
   */
  constructor(readonly name: string, readonly kind: DeviceKind, private readonly pool: PacketPool,
    private readonly queues: { workers: number; steer: boolean } = { workers: 1, steer: false }) {
    this.created = !interfaceExists(name);
    this.fd = this.attach();
    this.l2 = kind === 'tap' ? ETH_HEADER : 0;
  }

  private attach(): number {
    const multi = this.queues.workers > 1 || isMultiQueue(this.name);
    const fd = openTunTap(this.name, this.kind, multi);
    if (this.queues.workers > 1 && this.queues.steer) {
      try {
        steerByPort(fd, this.kind === 'tap');
      } catch (e) {
        libc.close(fd);
        throw new Error(`${this.name}: steer the ${this.queues.workers} workers' queues: ${(e as Error).message}`);
      }
    }
    return fd;
  }

  reopen(): boolean {
    if (this.fd >= 0) return this.failure === undefined;
    // One made beforehand (by the lab, at boot) is its maker's to make again: wait for it.
    // One set down is the operator's to set up again: attaching would set it up (tuntap.ts).
    const exists = interfaceExists(this.name);
    if ((!this.created && !exists) || (exists && !interfaceUp(this.name))) return false;
    try {
      this.fd = this.attach();
    } catch {
      return false;
    }
    this.failure = undefined;
    return true;
  }

  private view(slot: number): Uint8Array {
    return this.kind === 'tap' ? this.pool.tapViews[slot] : this.pool.tunViews[slot];
  }

  /**
   * Reads one packet into `slot` (a big one: a super-packet may come); returns its length
   * without the virtio-net header (a frame for a TAP, a datagram for the TUN), 0 when nothing
   * is waiting or the device failed.
   */
  read(slot: number): number {
    if (this.fd < 0 || this.failure !== undefined) return 0;
    const v = this.view(slot);
    const n = libc.read(this.fd, v, v.length);
    if (n > VNET_HDR) {
      const p = this.pool;
      p.vnetFlags[slot] = v[0];
      p.gsoType[slot] = v[1];
      p.hdrLen[slot] = Math.max(0, (v[2] | (v[3] << 8)) - this.l2);
      p.gsoSize[slot] = v[4] | (v[5] << 8);
      p.csumStart[slot] = Math.max(0, (v[6] | (v[7] << 8)) - this.l2);
      p.csumOffset[slot] = v[8] | (v[9] << 8);
      this.stats.rxPackets++;
      this.stats.rxBytes += n - VNET_HDR;
      return n - VNET_HDR;
    }
    if (n < 0) {
      const e = libc.errno();
      if (e !== libc.EAGAIN && e !== libc.EINTR) this.fail(`read: ${libc.strerror(e)}`);
    }
    return 0;
  }

  /**
   * Writes `len` bytes of the slot (a frame for a TAP, a datagram for the TUN) behind its
   * virtio-net header. True when the packet is gone (written, or refused for good and
   * counted); false when the descriptor would block and the caller should keep it.
   */
  write(slot: number, len: number): boolean {
    if (this.fd < 0 || this.failure !== undefined) return true;
    const v = this.view(slot);
    const p = this.pool;
    const flags = p.vnetFlags[slot];
    const gso = p.gsoType[slot];
    v[0] = flags;
    v[1] = gso;
    const hdrLen = gso !== 0 ? p.hdrLen[slot] + this.l2 : 0;
    v[2] = hdrLen;
    v[3] = hdrLen >> 8;
    const gsoSize = gso !== 0 ? p.gsoSize[slot] : 0;
    v[4] = gsoSize;
    v[5] = gsoSize >> 8;
    const start = flags !== 0 ? p.csumStart[slot] + this.l2 : 0;
    v[6] = start;
    v[7] = start >> 8;
    const off = flags !== 0 ? p.csumOffset[slot] : 0;
    v[8] = off;
    v[9] = off >> 8;
    const n = libc.write(this.fd, v, len + VNET_HDR);
    if (n === len + VNET_HDR) {
      this.stats.txPackets++;
      this.stats.txBytes += len;
      return true;
    }
    if (n < 0) {
      const e = libc.errno();
      if (e === libc.EAGAIN || e === libc.EINTR) return false;
      if (e === EBADFD || e === libc.EIO || e === libc.EBADF || e === libc.ENODEV) this.fail(`write: ${libc.strerror(e)}`);
      else this.stats.errors++;
    }
    return true;
  }

  /**
   * Records that the device is gone (the first reason stays). The descriptor stays open until
   * the I/O loop has stopped watching it, then `close`.
   */
  fail(why: string): void {
    if (this.failure !== undefined) return;
    this.stats.errors++;
    this.failure = why;
  }

  /** Closes the descriptor, once. */
  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}

/** Whether the interface is administratively up (IFF_UP in its sysfs flags). */
function interfaceUp(name: string): boolean {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8'), 16) & 1) === 1;
  } catch {
    return false;
  }
}

/** Whether the network namespace has an interface of that name (sysfs is the namespace's under `ip netns exec`). */
function interfaceExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}
