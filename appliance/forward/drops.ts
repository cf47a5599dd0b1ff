import type { PacketPool } from '../device/packet-pool';

/** Why packets were dropped, counted by reason; one log line the first time each happens. */
export const DROP_REASONS = [
  'malformed-ethernet', 'not-ipv4', 'malformed-ip', 'bad-ip-checksum', 'malformed-tcp', 'bad-tcp-checksum', 'malformed-arp', 'malformed-icmp',
  'no-route', 'ttl-exceeded', 'no-arp', 'queue-full', 'pool-exhausted', 'not-for-us', 'unsupported',
  'diverted-flows-full', 'rp-filter', 'spoofed-source',
] as const;
type DropReason = (typeof DROP_REASONS)[number];

/**
 * What the forwarder loses, and why. A flood of bad packets must cost a counter, not a log
 * line each: every kind of loss (a drop reason, a failed device, an internal error's message)
 * is logged the first time only.
 */
export class Drops {
  readonly byReason: Record<DropReason, number>;
  /** Packets a bug of ours met (each dropped, the first of each kind logged). */
  internalErrors = 0;
  private readonly logged = new Set<string>();

  constructor(private readonly pool: PacketPool, private readonly log: (message: string) => void) {
    this.byReason = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  }

  /** True the first time `key` comes, so the caller builds its message only then. */
  first(key: string): boolean {
    if (this.logged.has(key)) return false;
    this.logged.add(key);
    return true;
  }

  /** Counts a drop and gives its slot back (-1: there was none, as when the pool ran out). */
  drop(slot: number, reason: DropReason): void {
    this.byReason[reason]++;
    if (this.first(reason)) this.log(`dropping packets: ${reason} (counted from now on, logged once)`);
    if (slot >= 0) this.pool.give(slot);
  }

  /**
   * A bug met by one packet must not stop the others: the packet is lost (its slot too, since
   * where it stood is unknown), counted, and the first one of each kind logged.
   */
  internalError(e: unknown): void {
    this.internalErrors++;
    const what = (e as Error)?.message ?? String(e);
    if (this.first(`internal:${what}`)) {
      this.log(`internal error, packet dropped (counted, logged once): ${what}${process.env.SOCKSALP_DEBUG ? `\n${(e as Error)?.stack}` : ''}`);
    }
  }
}
