import { isV6 } from '../addr/address';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../wire/ethernet';
import type { PacketPool } from '../device/packet-pool';
import type { ServerRecord } from '../config/tables';
import { CongestionControl } from '../stages/congestion-control';
import type { Drops } from './drops';
import { OutputQueue } from './output-queue';

/**
 * The servers' side of the egress: one output queue per server with Socks ALP Congestion
 * Control over it (patent figure 9), and the counters operators see per server: packets and
 * bytes each way, and the discards by ALP id (AlpRegistry) and by priority.
 */
export class ServerEgress {
  readonly queues: OutputQueue[];
  readonly stats: { packetsOut: number; bytesOut: number; packetsIn: number; bytesIn: number }[];
  /** Per server, the EtherType of its leg's frames: its address's family. */
  readonly etherType: number[];
  /** Discards by congestion control, [server][alp id] and [server][priority]. */
  readonly discardsByAlp: Float64Array[];
  readonly discardsByPriority: Float64Array[];
  private readonly cc = new CongestionControl();
  private discardServer = 0;
  /** Where a discarded datagram is captured (set by the forwarder; its `capture` may be off). */
  lost: Drops | undefined;
  private readonly onDiscard = (alp: number, priority: number, slot: number, len: number): void => {
    this.discardsByAlp[this.discardServer][alp]++;
    this.discardsByPriority[this.discardServer][priority]++;
    if (this.lost?.capture !== undefined) this.lost.discarded(this.discardServer, slot, len, alp, priority);
  };

  constructor(servers: ServerRecord[], pool: PacketPool, alpCount: number) {
    this.queues = servers.map((s) => new OutputQueue(s.queueLimit, pool));
    this.stats = servers.map(() => ({ packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0 }));
    this.etherType = servers.map((s) => (isV6(s.address) ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4));
    this.discardsByAlp = servers.map(() => new Float64Array(alpCount));
    this.discardsByPriority = servers.map(() => new Float64Array(256));
  }

  /** A reload named new ALPs: their counters start at 0, the others keep theirs. */
  growAlps(count: number): void {
    for (let s = 0; s < this.discardsByAlp.length; s++) {
      const old = this.discardsByAlp[s];
      if (old.length >= count) continue;
      const grown = new Float64Array(count);
      grown.set(old);
      this.discardsByAlp[s] = grown;
    }
  }

  /**
   * Queues a framed datagram for `server` with its connection's ALP, priority and discard
   * eligibility, then runs figure 9 over the queue. False when the ring is full (the caller
   * drops the datagram); a datagram congestion control discards is counted here.
   */
  enqueue(server: number, slot: number, frameLen: number, alp: number, priority: number, discardEligible: boolean, own: boolean): boolean {
    const q = this.queues[server];
    if (!q.push(slot, frameLen, alp, priority, discardEligible, own)) return false;
    this.discardServer = server;
    this.cc.admit(q, q.bound, this.onDiscard);
    return true;
  }
}
