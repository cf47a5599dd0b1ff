import { ETH_HEADER } from '../wire/ethernet';

/**
 * Every datagram lives in a slot of one preallocated buffer from the device read to the
 * device write: the device reads into a slot, the stages rewrite it in place, the forwarder
 * queues the slot's index and writes it out. Per slot the IP header starts at ETH_HEADER, so
 * an Ethernet header can be put in front of a datagram read from the TUN without moving it.
 *
 * Views at the two offsets a descriptor reads or writes from are made once here, because the
 * FFI takes a view's start as the pointer: no object is made per packet.
 */
export class PacketPool {
  readonly buf: Buffer;
  readonly slotSize: number;
  /** View starting at each slot's Ethernet header (TAP I/O). */
  readonly frameViews: Uint8Array[] = [];
  /** View starting at each slot's IP header (TUN I/O). */
  readonly ipViews: Uint8Array[] = [];
  private readonly free: Int32Array;
  private freeCount: number;

  constructor(readonly slots: number, maxIpLength: number) {
    this.slotSize = Math.ceil((ETH_HEADER + maxIpLength) / 64) * 64;
    this.buf = Buffer.alloc(slots * this.slotSize);
    this.free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) {
      this.free[i] = slots - 1 - i;
      const base = i * this.slotSize;
      this.frameViews.push(this.buf.subarray(base, base + this.slotSize));
      this.ipViews.push(this.buf.subarray(base + ETH_HEADER, base + this.slotSize));
    }
    this.freeCount = slots;
  }

  get available(): number {
    return this.freeCount;
  }

  /** A free slot's index, or -1 when all are in use (the caller drops and counts). */
  take(): number {
    return this.freeCount === 0 ? -1 : this.free[--this.freeCount];
  }

  give(slot: number): void {
    this.free[this.freeCount++] = slot;
  }

  /** Offset of the slot's Ethernet header in `buf`. */
  frameOffset(slot: number): number {
    return slot * this.slotSize;
  }

  /** Offset of the slot's IP header in `buf`. */
  ipOffset(slot: number): number {
    return slot * this.slotSize + ETH_HEADER;
  }

  get maxIpLength(): number {
    return this.slotSize - ETH_HEADER;
  }
}
