import { ConnState, type Connection } from './connection';
import type { ConnectionTable, Pass } from './table';

/** What the operators' views count over the table, by server and by ALP id. */
export interface Counts {
  activeByServer: number[];
  activeByAlp: number[];
  packetsByAlp: number[];
}

function empty(servers: number, alps: number): Counts {
  return { activeByServer: new Array<number>(servers).fill(0), activeByAlp: new Array<number>(alps).fill(0), packetsByAlp: new Array<number>(alps).fill(0) };
}

/**
 * Step 714's idle timer and the operators' census, spread out: each tick looks at an eighth of
 * the table (at least 1,000 entries), so a table of 100,000 is swept every second without a
 * pause the packets would feel. The walk survives between ticks (table.ts Pass): it skips
 * removed entries and sees new ones. What it counts on the way (active connections per server
 * and ALP, packets per ALP) is published once per pass: at most a second old, and never a
 * scan of the table on a request.
 */
export class Census {
  /** The last complete pass. */
  counts: Counts;
  private counting: Counts;
  private readonly sweep: Pass;

  constructor(private readonly table: ConnectionTable, private readonly servers: number, alps: number) {
    this.counts = empty(servers, alps);
    this.counting = empty(servers, alps);
    this.sweep = table.pass();
  }

  /** A reload named new ALPs: their counts start at 0. */
  growAlps(alps: number): void {
    for (const c of [this.counts, this.counting]) {
      while (c.activeByAlp.length < alps) c.activeByAlp.push(0);
      while (c.packetsByAlp.length < alps) c.packetsByAlp.push(0);
    }
  }

  /** One tick's share of the pass; `expire` gets each spliced connection idle for `idle` seconds. */
  step(now: number, idle: number, expire: (c: Connection) => void): void {
    const counting = this.counting;
    let budget = Math.max(1000, this.table.size >> 3);
    while (budget-- > 0) {
      const c = this.table.next(this.sweep);
      if (c === undefined) {
        this.table.rewind(this.sweep);
        this.counts = counting;
        this.counting = empty(this.servers, counting.activeByAlp.length);
        return;
      }
      const spliced = c.state === ConnState.Spliced;
      if (c.alp >= 0 && c.alp < counting.packetsByAlp.length) {
        counting.packetsByAlp[c.alp] += c.packetsIn + c.packetsOut;
        if (spliced) counting.activeByAlp[c.alp]++;
      }
      if (spliced && c.server >= 0) counting.activeByServer[c.server]++;
      if (spliced && now - c.lastSeen >= idle) expire(c);
    }
  }
}
