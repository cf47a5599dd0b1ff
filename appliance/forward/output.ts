import type { PacketDevice } from '../device/device';
import type { PacketPool } from '../device/packet-pool';
import { emitEthernet, ETHERTYPE_IPV6, ETH_HEADER } from '../wire/ethernet';
import type { Drops } from './drops';
import type { ServerEgress } from './egress';
import type { Neighbours } from './neighbours';
import { FinMerge } from './fin-merge';
import { OutputQueue } from './output-queue';
import type { Segment } from './segments';

/**
 * The queued side of the output: the TUN's queue and the servers' (ServerEgress). Datagrams
 * are queued as a batch produces them and written by `flush` after it, so a device that would
 * block keeps them queued, and the I/O loop waits for it to take more (`wantsWrite`).
 */
export class Output {
  /** Room for every slot of the pool: the intranet's side has no congestion control. */
  private readonly tunQueue: OutputQueue;
  /** A bare FIN joins the data segment before it in the TUN's queue (fin-merge.ts); `merged` for the status. */
  readonly fins: FinMerge;
  /** The device `flush` is draining a server queue into, for `writeTap`. */
  private drainDevice: PacketDevice | undefined;
  // Handed to `drain` at each flush: bound once, so flushing makes no closures.
  private readonly writeTun = (slot: number, len: number): boolean => this.tun.write(slot, len);
  private readonly writeTap = (slot: number, len: number): boolean => this.drainDevice!.write(slot, len);

  constructor(
    private readonly pool: PacketPool,
    private readonly tun: PacketDevice,
    private readonly segments: readonly Segment[],
    private readonly serverSegment: readonly number[],
    private readonly egress: ServerEgress,
    private readonly neighbours: Neighbours,
    private readonly drops: Drops,
  ) {
    this.tunQueue = new OutputQueue(pool.smallSlots + pool.bigSlots, pool);
    this.fins = new FinMerge(pool);
  }

  toIntranet(slot: number, len: number): void {
    const q = this.tunQueue;
    if (q.length > 0 && this.fins.into(q.lastSlot, q.lastLen, slot, len)) {
      this.pool.give(slot);
      return;
    }
    if (!this.tunQueue.push(slot, len, 0, 0, false, true)) this.drops.dropOut(slot, 'queue-full', 0, len, false);
  }

  /**
   * Figure 9 then the queue: the datagram is framed for its server and queued with its
   * connection's ALP, priority and discard eligibility; over the bound, congestion control
   * discards. The appliance's own segments are protected.
   */
  toServer(server: number, slot: number, len: number, alp: number, priority: number, discardEligible: boolean, own: boolean): void {
    const mac = this.neighbours.serverMac[server];
    if (mac === undefined) {
      this.drops.dropOut(slot, this.egress.etherType[server] === ETHERTYPE_IPV6 ? 'no-ndp' : 'no-arp', this.serverSegment[server] + 1, len, false);
      return;
    }
    const seg = this.segments[this.serverSegment[server]];
    emitEthernet(this.pool.buf, this.pool.frameOffset(slot), mac, seg.mac, this.egress.etherType[server]);
    if (!this.egress.enqueue(server, slot, ETH_HEADER + len, alp, priority, discardEligible, own)) {
      this.drops.dropOut(slot, 'queue-full', this.serverSegment[server] + 1, len, true);
      return;
    }
    const st = this.egress.stats[server];
    st.packetsOut++;
    st.bytesOut += len;
  }

  /** Writes what the batch queued; true when a device would block and still holds some. */
  flush(): boolean {
    let waiting = false;
    this.tunQueue.drain(this.writeTun);
    if (this.tunQueue.length > 0) waiting = true;
    const queues = this.egress.queues;
    for (let s = 0; s < queues.length; s++) {
      const q = queues[s];
      if (q.length === 0) continue;
      this.drainDevice = this.segments[this.serverSegment[s]].device;
      q.drain(this.writeTap);
      if (q.length > 0) waiting = true;
    }
    return waiting;
  }

  /** Device `index` (0: the TUN, then one per segment) has something to write (for POLLOUT). */
  wantsWrite(index: number): boolean {
    if (index === 0) return this.tunQueue.length > 0;
    const seg = index - 1;
    const queues = this.egress.queues;
    for (let s = 0; s < queues.length; s++) if (this.serverSegment[s] === seg && queues[s].length > 0) return true;
    return false;
  }
}
