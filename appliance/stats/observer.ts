import type { Connection } from '../flow/connection';

/** Who hears of each connection's end: the aggregates (flow-stats.ts) and the flow export. */
export interface ConnectionObserver {
  /** `c` leaves the table now, with `c.endReason` set; its server and port are still bound. */
  ended(c: Connection): void;
}
