import type { ServerRecord } from '../config/tables';
import type { DivertedAddresses } from '../divert/table';
import type { DivertedEntry } from '../divert/endpoint';
import type { ServerAvailability, ServerSelection } from './server-selection';

/**
 * Server diversion: the network-management patent's monitor 125 diverts "traffic from the
 * overloaded mirror server 113 ... to the under-loaded mirror server 119". Here the mirror
 * servers are the SOCKS servers, and the instruction is an ordinary entry of the
 * diverted-address table whose original is one configured server's address:port and whose
 * diverted side is another's: new connections that Server ALP Selection gives the first go to
 * the second instead, when it may take them (ServerSelection.qualifies). Either server may be
 * reached over IPv4 or IPv6 (`[2001:db8::a]:1080 = 198.19.2.2:1080` too): addresses are
 * address numbers, and the two legs of a connection are independent of each other's family.
 * One entry applies, as for destinations: a chain is not followed. `divertedChoice` is the one
 * decision, for the live server leg (flow/server-leg.ts) and `socksalp replay` alike.
 *
 * Cost: `target` is one comparison of the table's version and one array read per new
 * connection; the array is recomputed, O(servers), when the table changed (or was replaced
 * by a reload).
 */
export class ServerDiversion {
  private readonly to: Int32Array;
  private table: DivertedAddresses | undefined;
  private version = -1;
  /** Per source server: the refusal already logged for the table's current version. */
  private readonly warned: Uint8Array;
  /** After `divertedChoice`: the server a diversion named that could not take the connection, or -1. */
  refused = -1;

  constructor(private readonly servers: readonly ServerRecord[]) {
    this.to = new Int32Array(servers.length).fill(-1);
    this.warned = new Uint8Array(servers.length);
  }

  /** The server that new connections for `server` go to instead, or -1 (none). */
  target(server: number, table: DivertedAddresses): number {
    if (table !== this.table || table.version !== this.version) this.recompute(table);
    return this.to[server];
  }

  /**
   * Server ALP Selection's choice `chosen` after the table's server diversions: the server an
   * entry diverts it to when that one may take the connection (ServerSelection.qualifies: usable,
   * listing the ALP, speaking a dialect for it, not tried), else `chosen`, with `refused` set to
   * the target that could not.
   */
  divertedChoice(chosen: number, table: DivertedAddresses, selection: ServerSelection, alp: number, carriers: number, availability: ServerAvailability, tried = 0): number {
    this.refused = -1;
    const to = this.target(chosen, table);
    if (to < 0) return chosen;
    if (selection.qualifies(to, alp, carriers, availability, tried)) return to;
    this.refused = to;
    return chosen;
  }

  /** True once per source and table version: whether a refused diversion should be logged now. */
  firstRefusal(server: number): boolean {
    if (this.warned[server] !== 0) return false;
    this.warned[server] = 1;
    return true;
  }

  private recompute(table: DivertedAddresses): void {
    this.table = table;
    this.version = table.version;
    this.warned.fill(0);
    for (let i = 0; i < this.servers.length; i++) {
      const s = this.servers[i];
      const to = table.size === 0 ? undefined : table.lookupAddress(s.address, s.port);
      this.to[i] = to === undefined || to.kind === 'name' ? -1 : serverAt(this.servers, to.address, to.port ?? s.port, i);
    }
  }
}

/** The index of the server at address:port other than `except`, or -1. */
function serverAt(servers: readonly ServerRecord[], address: number, port: number, except: number): number {
  for (let j = 0; j < servers.length; j++) if (j !== except && servers[j].address === address && servers[j].port === port) return j;
  return -1;
}

/**
 * For `check`, `ctl divert list` and the dashboard: the two servers an entry diverts between
 * (as ServerDiversion reads it for its original's exact address:port), or undefined.
 */
export function serverPair(e: DivertedEntry, servers: readonly ServerRecord[]): [from: ServerRecord, to: ServerRecord] | undefined {
  const o = e.original;
  const d = e.diverted;
  if (o.kind === 'name' || d.kind === 'name') return undefined;
  for (const from of servers) {
    if (from.address !== o.address || (o.port !== undefined && o.port !== from.port)) continue;
    const to = serverAt(servers, d.address, d.port ?? from.port, servers.indexOf(from));
    if (to >= 0) return [from, servers[to]];
  }
  return undefined;
}
