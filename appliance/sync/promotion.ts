import { ADDRESSES6 } from '../addr/interner';
import { releaseAddress } from '../addr/address';
import type { Appliance } from '../appliance';
import { FLAG_PICKUP_CLIENT, FLAG_PICKUP_SERVER } from '../flow/columns';
import { ConnState, type Connection } from '../flow/connection';
import type { ConnectionTable } from '../flow/table';
import { OPENERS } from '../flow/openers';
import { configured6 } from './members';
import { readU32 } from '../wire/ipv4';
import type { SyncEndpoint } from '../wire/sync-entry';
import type { HeldConnection } from './standby';

/** Why a held connection was not taken over (`ctl status` "sync" "promotion"). */
export interface PromotionSkips {
  /** Addressed to a VIP this appliance does not have. */
  vip: number;
  /** Its client's port, or its server-leg port, is in use here already. */
  taken: number;
  /** Closed (both FINs) when last synced: its ends are about to go anyway. */
  closing: number;
  /** The table is full. */
  full: number;
  /** Its server-leg address is one more than openers.ts has slots for. */
  opener: number;
}

/**
 * Becoming master (issue 16): each connection the standby held goes into the Socks ALP
 * Connection table as the peer spliced it, so that the next segment from either leg is spliced
 * as before: the same server and allocated server-leg port (claimed here, as the server knows
 * the connection by it), the sequence offsets and window shifts, the ALP by name, the server's
 * MAC as the peer knew it. Both legs re-anchor their sequence numbers on their first segment
 * (guard.ts's loose pickup), since the peer's sync is older than its last forwarded segment.
 */
export interface PromotionTarget {
  table: ConnectionTable;
  /** The intranet's VIPs (address numbers). */
  vips: ReadonlySet<number>;
  /** How many servers servers.ini names (the sync's server hash made sure they are the peer's). */
  servers: number;
  /** An ALP's id in this process (stages/alp-registry.ts), undefined when it has none. */
  alpId(name: string): number | undefined;
  /** The server's MAC as the peer knew it (forward/neighbours.ts seed). */
  seedMac(server: number, mac: Uint8Array): void;
  /** The opener slot (flow/openers.ts) of a server-leg address: 0 when it is the server's own `local` here, -1 when none is left. */
  openerSlot(server: number, local: Uint8Array, v6: boolean): number;
  /** Now, and a peer's ms since 1970, on the tables' clock (seconds). */
  now: number;
  wallToTable(ms: number): number;
}

/** The appliance's table, VIPs, servers, ALPs and neighbours as a promotion reads them. */
export function promotionTarget(a: Appliance, wallToTable: (ms: number) => number): PromotionTarget {
  const neighbours = a.forwarder.neighbours;
  return {
    table: a.dispatcher.table,
    vips: new Set(a.config.intranet.vips),
    servers: a.config.servers.length,
    alpId: (name) => a.alps.idOf(name),
    seedMac: (server, mac) => neighbours.seed(server, mac),
    openerSlot: (server, local, v6) => {
      const n = v6 ? configured6(local) : readU32(local, 12);
      return n === a.config.servers[server].local.address ? 0 : OPENERS.slot(n);
    },
    get now() {
      return a.now();
    },
    wallToTable,
  };
}

export function adoptHeld(t: PromotionTarget, held: Iterable<HeldConnection>): { adopted: Connection[]; skipped: PromotionSkips } {
  const adopted: Connection[] = [];
  const skipped: PromotionSkips = { vip: 0, taken: 0, closing: 0, full: 0, opener: 0 };
  for (const h of held) {
    const c = adoptOne(t, h, skipped);
    if (c !== undefined) adopted.push(c);
  }
  return { adopted, skipped };
}

/**
 * One held connection into the table, both legs to be picked up; undefined when it cannot be
 * (the reason counted in `skipped`). A connection whose server leg is another member's address
 * (an ECMP group) keeps that address (flow/openers.ts).
 */
export function adoptOne(t: PromotionTarget, h: HeldConnection, skipped: PromotionSkips): Connection | undefined {
  const { table, now } = t;
  // Half closed, it still carries the other way; closed, its ends are about to go anyway.
  if (h.state !== ConnState.Spliced) {
    skipped.closing++;
    return undefined;
  }
  const vip = configured(h.vip);
  if (vip < 0 || !t.vips.has(vip) || h.server >= t.servers) {
    skipped.vip++;
    return undefined;
  }
  const opener = t.openerSlot(h.server, h.local, h.local6);
  if (opener < 0) {
    skipped.opener++;
    return undefined;
  }
  const ip = h.client.v6 ? ADDRESSES6.intern(h.client.address, 0) : readU32(h.client.address, 12);
  if (table.lookupClient(ip, h.client.port) !== undefined) {
    releaseAddress(ip);
    skipped.taken++;
    return undefined;
  }
  const c = table.create(ip, h.client.port, vip, now);
  if (c === undefined) {
    releaseAddress(ip);
    skipped.full++;
    return undefined;
  }
  if (!table.claimServer(c, h.server, h.allocPort)) {
    table.remove(c);
    skipped.taken++;
    return undefined;
  }
  table.setState(c, ConnState.Spliced);
  c.hs = null;
  c.created = t.wallToTable(h.createdMs);
  c.alp = t.alpId(h.alp) ?? -1;
  c.priority = h.priority;
  c.discardEligible = h.discardEligible;
  c.version = h.version;
  c.dialect = h.dialect;
  c.leg = h.leg;
  c.clientIsn = h.clientIsn;
  c.delta = h.delta;
  c.upShift = h.upShift;
  c.upNext = h.upNext;
  c.downNext = h.downNext;
  c.clientScale = h.clientScale;
  c.serverScale = h.serverScale;
  c.windowShiftToClient = h.windowShiftToClient;
  c.windowShiftToServer = h.windowShiftToServer;
  c.winToClient = h.winToClient;
  c.winToServer = h.winToServer;
  c.finFromClient = h.finFromClient;
  c.finFromServer = h.finFromServer;
  c.destination = h.destination;
  c.diverted = h.diverted;
  c.opener = opener;
  c.pickup = FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER;
  t.seedMac(h.server, h.serverMac);
  return c;
}

/** The address number of a configured address (a VIP: IPv6 ones are interned for good), or -1. */
function configured(e: SyncEndpoint): number {
  return e.v6 ? ADDRESSES6.lookup(e.address, 0) : readU32(e.address, 12);
}
