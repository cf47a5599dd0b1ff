import { ETH_HEADER } from '../wire/ethernet';

/** struct virtio_net_hdr: what IFF_VNET_HDR puts before every packet read or written. */
export const VNET_HDR = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
/** Largest IP datagram: a GSO super-packet can be this long. */
export const MAX_IP = 65535;

/**
 * Every datagram lives in a slot of one preallocated buffer from the device read to the
 * device write: the device reads into a slot, the stages rewrite it in place, the forwarder
 * queues the slot's index and writes it out. A slot is laid out so that both kinds of device
 * can use it without moving the datagram:
 *
 *   base +0   virtio-net header for TAP I/O (10 bytes)
 *   base +10  Ethernet header (14 bytes)
 *   base +14  virtio-net header for TUN I/O (the last 10 bytes before the IP header)
 *   base +24  IP header and the rest
 *
 * The virtio-net header is parsed into per-slot metadata at read and written back at write,
 * so the overlap between the two header places never matters.
 *
 * Small slots hold ordinary packets; a few big slots hold GSO super-packets (up to 64 KiB).
 * Devices read into a big slot, and an ordinary packet is then copied to a small slot, so
 * the big ones stay free for what needs them. The buffer is not zero-filled: pages become
 * resident only as slots are used.
 *
 * Views at the two offsets a descriptor reads or writes from are made once here, because the
 * FFI takes a view's start as the pointer: no object is made per packet.
 */
export class PacketPool {
  readonly buf: Buffer;
  readonly smallSize: number;
  private readonly bigSize: number;
  /** View at each slot's TAP virtio-net header (TAP I/O). */
  readonly tapViews: Uint8Array[] = [];
  /** View at each slot's TUN virtio-net header (TUN I/O). */
  readonly tunViews: Uint8Array[] = [];
  /** Per-slot virtio-net metadata; offsets relative to the IP header. */
  readonly vnetFlags: Uint8Array;
  readonly gsoType: Uint8Array;
  readonly gsoSize: Uint16Array;
  readonly hdrLen: Uint16Array;
  readonly csumStart: Uint16Array;
  readonly csumOffset: Uint16Array;
  private readonly freeSmall: Int32Array;
  private readonly freeBig: Int32Array;
  private smallCount: number;
  private bigCount: number;

  constructor(readonly smallSlots: number, maxSmallIp: number, readonly bigSlots = 64) {
    this.smallSize = Math.ceil((VNET_HDR + ETH_HEADER + maxSmallIp) / 64) * 64;
    this.bigSize = Math.ceil((VNET_HDR + ETH_HEADER + MAX_IP) / 64) * 64;
    const slots = smallSlots + bigSlots;
    this.buf = Buffer.allocUnsafeSlow(smallSlots * this.smallSize + bigSlots * this.bigSize);
    this.freeSmall = new Int32Array(smallSlots);
    this.freeBig = new Int32Array(bigSlots);
    for (let i = 0; i < slots; i++) {
      const base = this.base(i);
      const end = base + this.capacity(i);
      this.tapViews.push(this.buf.subarray(base, end));
      this.tunViews.push(this.buf.subarray(base + ETH_HEADER, end));
    }
    for (let i = 0; i < smallSlots; i++) this.freeSmall[i] = smallSlots - 1 - i;
    for (let i = 0; i < bigSlots; i++) this.freeBig[i] = slots - 1 - i;
    this.smallCount = smallSlots;
    this.bigCount = bigSlots;
    this.vnetFlags = new Uint8Array(slots);
    this.gsoType = new Uint8Array(slots);
    this.gsoSize = new Uint16Array(slots);
    this.hdrLen = new Uint16Array(slots);
    this.csumStart = new Uint16Array(slots);
    this.csumOffset = new Uint16Array(slots);
  }

  get available(): number {
    return this.smallCount;
  }

  /** Bytes from the slot's start: header places and the largest datagram it can hold. */
  private capacity(slot: number): number {
    return slot < this.smallSlots ? this.smallSize : this.bigSize;
  }

  private base(slot: number): number {
    return slot < this.smallSlots ? slot * this.smallSize : this.smallSlots * this.smallSize + (slot - this.smallSlots) * this.bigSize;
  }

  /** A free small slot's index, or -1 when all are in use (the caller drops and counts). */
  take(): number {
    if (this.smallCount === 0) return -1;
    return this.freeSlot(this.freeSmall[--this.smallCount]);
  }

  /** A free big slot, for reading into, or -1. */
  takeBig(): number {
    if (this.bigCount === 0) return -1;
    return this.freeSlot(this.freeBig[--this.bigCount]);
  }

  private freeSlot(slot: number): number {
    this.vnetFlags[slot] = 0;
    this.gsoType[slot] = 0;
    return slot;
  }

  give(slot: number): void {
    if (slot < this.smallSlots) this.freeSmall[this.smallCount++] = slot;
    else this.freeBig[this.bigCount++] = slot;
  }

  /** Offset of the slot's Ethernet header in `buf`. */
  frameOffset(slot: number): number {
    return this.base(slot) + VNET_HDR;
  }

  /** Offset of the slot's IP header in `buf`. */
  ipOffset(slot: number): number {
    return this.base(slot) + VNET_HDR + ETH_HEADER;
  }

  /** The kernel left the slot's transport checksum partial (IFF_VNET_HDR NEEDS_CSUM): it fills it in on output. */
  checksumPartial(slot: number): boolean {
    return (this.vnetFlags[slot] & VNET_F_NEEDS_CSUM) !== 0;
  }

  /** The longest IP datagram `slot` holds. */
  ipRoom(slot: number): number {
    return this.capacity(slot) - VNET_HDR - ETH_HEADER;
  }

  /** The longest IP datagram a small slot holds. */
  get smallMaxIp(): number {
    return this.smallSize - VNET_HDR - ETH_HEADER;
  }

  /** Copies `ipLength` bytes of datagram (and its Ethernet header place) and metadata to another slot. */
  copy(from: number, to: number, ipLength: number): void {
    this.buf.copy(this.buf, this.frameOffset(to), this.frameOffset(from), this.ipOffset(from) + ipLength);
    this.vnetFlags[to] = this.vnetFlags[from];
    this.gsoType[to] = this.gsoType[from];
    this.gsoSize[to] = this.gsoSize[from];
    this.hdrLen[to] = this.hdrLen[from];
    this.csumStart[to] = this.csumStart[from];
    this.csumOffset[to] = this.csumOffset[from];
  }
}
