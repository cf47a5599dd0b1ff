import type { PacketDevice } from '../device/device';
import type { PacketPool } from '../device/packet-pool';
import { ETH_HEADER } from '../wire/ethernet';
import type { Demux } from './demux';
import type { Drops } from './drops';
import type { Segment } from './segments';

/** Packets read per device per wake-up before the others get their turn. */
const BATCH = 256;

/**
 * Reading the devices: device 0 is the TUN, device i + 1 the TAP of segment i. Each read lands
 * in a big slot, since a GSO super-packet may come; an ordinary packet is copied to a small
 * one and the big slot stays for the next read, so the few big slots are kept for what needs
 * them.
 */
export class Ingress {
  /** Per device, the big slot the next read lands in (-1: none taken yet). */
  private readonly landing: number[] = [];

  constructor(
    private readonly pool: PacketPool,
    private readonly tun: PacketDevice,
    private readonly segments: readonly Segment[],
    private readonly demux: Demux,
    private readonly drops: Drops,
  ) {
    for (let i = 0; i <= segments.length; i++) this.landing.push(-1);
  }

  /** Drains device `index` (0: the TUN, then one per segment); returns packets read. */
  readDevice(index: number): number {
    const dev = index === 0 ? this.tun : this.segments[index - 1].device;
    const l2 = index === 0 ? 0 : ETH_HEADER;
    this.drops.device = index;
    let got = 0;
    while (got < BATCH) {
      let landing = this.landing[index];
      if (landing < 0 && (landing = this.landing[index] = this.pool.takeBig()) < 0) {
        this.drops.drop(-1, 'pool-exhausted');
        break;
      }
      const n = dev.read(landing);
      if (n === 0) break; // nothing waiting, or the device failed (device-watch.ts says so)
      got++;
      let slot = landing;
      if (n - l2 <= this.pool.smallMaxIp) {
        slot = this.pool.take();
        if (slot < 0) {
          this.drops.drop(-1, 'pool-exhausted');
          continue;
        }
        this.pool.copy(landing, slot, n - l2);
      } else {
        this.landing[index] = -1;
      }
      try {
        if (index === 0) this.demux.fromIntranet(slot, n);
        else this.demux.fromSegment(index - 1, slot, n);
      } catch (e) {
        this.drops.internalError(e);
      }
    }
    return got;
  }

  /** Gives the landing slots back (stop). */
  release(): void {
    for (const s of this.landing) if (s >= 0) this.pool.give(s);
    this.landing.length = 0;
  }
}
