import { formatAddress, isV6 } from '../addr/address';
import { ADDRESSES6 } from '../addr/interner';
import { answerFor, type Segment } from '../forward/segments';
import type { Neighbours } from '../forward/neighbours';
import { readU32 } from '../wire/ipv4';
import type { SyncStandby } from './standby';

/** A peer not heard for this long is taken for gone: three heartbeats (sender.ts sends one a second at least). */
export const SILENT_MS = 3000;
const CHECK_MS = 500;
/**
 * How often a member announces again what it answers for, its own addresses and a silent
 * peer's (keepalived's garp_master_refresh): a bridge that learnt one of those MACs on another
 * member's port, in the race of a return with a takeover (the survivor answered an ARP request
 * once more before it heard the one back), learns it again within this.
 */
export const REFRESH_MS = 5000;

/**
 * An ECMP group's server side (issue 16): each member talks to the servers from its own
 * address on each segment (servers.ini `local`), so the servers answer the member that opened
 * a leg. When a member falls silent (no datagram for SILENT_MS), one survivor answers for its
 * addresses, with its MACs (segments.ts `also`), and announces them (RFC 5227 3; RFC 4861 7.2.6), so that the
 * bridges send the servers' replies to it: the connections the silent member opened are then
 * taken over leg by leg as their segments come (adoption.ts). Which survivor: the one whose
 * sender id is lowest among those heard lately, this one included, which every member works
 * out alike from the same heartbeats; when the silent one is heard again it answers for its
 * addresses itself (it announces them at its start) and the survivor lets go. Both families:
 * ARP for IPv4 addresses, Neighbor Discovery for IPv6 ones.
 */
export class Members {
  /** Addresses answered for, by their text: the segment's index. */
  private readonly answering = new Map<string, { address: number; segment: number; macs: Uint8Array }>();
  private timer: NodeJS.Timeout | undefined;
  /** When the addresses were last announced (Date.now); 0 before the start. */
  private announcedMs = 0;
  readonly stats = { takeovers: 0, releases: 0 };

  constructor(
    private readonly standby: SyncStandby,
    private readonly self: number,
    private readonly segments: readonly Segment[],
    private readonly neighbours: Neighbours,
    private readonly log: (m: string) => void,
  ) {}

  /** From a start whose own addresses were just announced (pair.ts). */
  start(now = Date.now()): void {
    this.announcedMs = now;
    this.timer ??= setInterval(() => this.check(Date.now()), CHECK_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The peers heard within SILENT_MS of `now`, and the silent ones. */
  peers(now: number): { live: number[]; silent: number[] } {
    const live: number[] = [];
    const silent: number[] = [];
    for (const [id, p] of this.standby.peers) (now - p.lastMs < SILENT_MS ? live : silent).push(id);
    return { live, silent };
  }

  /** Takes over, or lets go of, the silent peers' addresses as the heartbeats say. */
  check(now: number): void {
    const { live, silent } = this.peers(now);
    const want = new Map<string, number>();
    if (live.every((id) => id > this.self)) {
      for (const id of silent) {
        for (const [key, e] of this.standby.locals.get(id) ?? []) want.set(key, e.v6 ? configured6(e.address) : readU32(e.address, 12));
      }
    }
    for (const [key, a] of this.answering) {
      if (want.has(key)) continue;
      answerFor(this.segments, a.address, false);
      this.answering.delete(key);
      this.stats.releases++;
      this.log(`members: ${formatAddress(a.address)} answered by its own member again; no longer here`);
    }
    for (const [key, address] of want) {
      if (this.answering.has(key)) continue;
      const segment = answerFor(this.segments, address, true);
      if (segment < 0) continue;
      const g = this.segments[segment];
      const macs = isV6(address) ? g.also6Macs[g.also6.indexOf(address)] : g.alsoMacs[g.also.indexOf(address)];
      this.answering.set(key, { address, segment, macs });
      this.neighbours.announceFor(segment, address, macs);
      this.stats.takeovers++;
      this.log(`members: answering for ${formatAddress(address)} on ${g.tap}: its member is silent`);
    }
    if (this.announcedMs === 0 || now - this.announcedMs < REFRESH_MS) return;
    this.announcedMs = now;
    this.neighbours.announce();
    for (const a of this.answering.values()) this.neighbours.announceFor(a.segment, a.address, a.macs);
  }

  status(now = Date.now()) {
    const { live, silent } = this.peers(now);
    return { live: live.length, silent: silent.length, answeringFor: [...this.answering.values()].map((a) => formatAddress(a.address)), ...this.stats };
  }
}

/** A peer's IPv6 segment address as an address number, interned for good: few, and configured on some member, as VIPs are. */
export function configured6(bytes: Uint8Array): number {
  const n = ADDRESSES6.lookup(bytes, 0);
  return n >= 0 ? n : ADDRESSES6.intern(bytes, 0);
}
