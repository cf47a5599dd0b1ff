import type { ServerRecord } from '../config/tables';
import type { Connection } from './connection';

/** Slots: the connection column is a byte, and slot 0 means the appliance's own address. */
const MAX_SLOTS = 256;

/**
 * The server-leg addresses of connections another member of an ECMP group opened (issue 16,
 * sync/members.ts): the server knows such a connection by that member's `local` address on its
 * segment, so a member that serves it sends from that address. Each connection holds a byte
 * (Connection.opener): 0 for its server's own `local`, else a slot here. Few addresses ever
 * come (members times segments times families), so slots are never given back.
 */
export class Openers {
  private readonly addresses: number[] = [-1];
  private readonly slots = new Map<number, number>();

  /** The slot of address number `a` (interned for good by the caller if IPv6), -1 when all are taken. */
  slot(a: number): number {
    let s = this.slots.get(a);
    if (s !== undefined) return s;
    if (this.addresses.length === MAX_SLOTS) return -1;
    s = this.addresses.push(a) - 1;
    this.slots.set(a, s);
    return s;
  }

  address(slot: number): number {
    return this.addresses[slot];
  }
}

export const OPENERS = new Openers();

/** The address connection `c` is known by on its server's segment. */
export function serverLocal(c: Connection, srv: ServerRecord): number {
  const s = c.opener;
  return s === 0 ? srv.local.address : OPENERS.address(s);
}
