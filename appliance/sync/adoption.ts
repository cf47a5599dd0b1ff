import type { Connection } from '../flow/connection';
import type { HeldLookup } from '../flow/context';
import { adoptOne, type PromotionSkips, type PromotionTarget } from './promotion';
import type { SyncStandby } from './standby';

/**
 * An ECMP group's takeover, one connection at a time (issue 16): the router's resilient
 * next-hop group moves a flow to another member when one leaves or joins, and the server's
 * replies go to the address of the member that opened the leg, wherever that member's address
 * is now answered. So the first segment of either leg that reaches a member for a connection
 * it does not serve, but holds from a peer's sync, puts that connection into its table
 * (promotion.ts's adoptOne) and is spliced at once, its leg picked up loosely (guard.ts). A
 * leg may stay with another member for good: each member then carries one direction, as
 * conntrackd's active-active setups with asymmetric paths do, which is why the legs are
 * picked up one by one and each judged on its own numbers.
 */
export class LazyAdoption implements HeldLookup {
  readonly stats = { fromClient: 0, fromServer: 0 };
  readonly skipped: PromotionSkips = { vip: 0, taken: 0, closing: 0, full: 0, opener: 0 };

  /** performance.now() until which segments of no connection are not reset (HeldLookup.quiet). */
  private quietUntil = 0;

  constructor(private readonly target: PromotionTarget, private readonly standby: SyncStandby) {}

  get quiet(): boolean {
    return this.quietUntil > 0 && performance.now() < this.quietUntil;
  }

  /** From now on for `ms`: a member's start (sync/pair.ts). */
  quietFor(ms: number): void {
    this.quietUntil = performance.now() + ms;
  }

  fromClient(ip: number, port: number): Connection | undefined {
    const h = this.standby.byClient(ip, port);
    const c = h === undefined ? undefined : adoptOne(this.target, h, this.skipped);
    if (c !== undefined) {
      c.adopted = true;
      this.stats.fromClient++;
    }
    return c;
  }

  fromServer(server: number, port: number): Connection | undefined {
    const h = this.standby.onServer(server, port);
    const c = h === undefined ? undefined : adoptOne(this.target, h, this.skipped);
    if (c !== undefined) {
      c.adopted = true;
      this.stats.fromServer++;
    }
    return c;
  }
}
