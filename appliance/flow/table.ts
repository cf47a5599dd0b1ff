import { releaseAddress } from '../addr/address';
import { ConnState, Connection } from './connection';
import { COLUMNS } from './columns';
import { ClientIndex } from './client-index';
import { HEALTH_CHECK, ServerPorts } from './server-ports';

const C = COLUMNS;

/**
 * A walk over the table, oldest first, that may be spread over time (the census's sweep, the
 * interim flow export): it skips connections removed on the way and reaches those added at the
 * end, as a Map's iterator does. `last`: the connection number visited last, -1 before the first.
 */
export class Pass {
  last = -1;
}

/**
 * The Socks ALP Connection table: connections by (Cx_Source_IP_Address, Cx_Source_Port), the
 * patent's key, and by (server, allocated port) for the reverse direction. Half-open entries
 * (handshake not yet spliced) are counted apart and capped, so a SYN flood cannot fill it.
 *
 * The connections' fields are columns (columns.ts) indexed by connection number; the two
 * indexes hold numbers (client-index.ts, server-ports.ts); the table keeps its connections in
 * a list through the columns, oldest first, which its walks follow.
 */
export class ConnectionTable {
  private readonly byClient = new ClientIndex();
  private readonly byServer: ServerPorts;
  /** The list's ends: connection numbers, -1 when empty. */
  private oldest = -1;
  private newest = -1;
  private count = 0;
  private readonly passes: Pass[] = [];
  halfOpen = 0;
  readonly stats = { created: 0, removed: 0, refusedFull: 0, refusedHalfOpen: 0, expiredIdle: 0, expiredHalfOpen: 0 };

  constructor(servers: number, private maxConnections: number, private maxHalfOpen: number) {
    this.byServer = new ServerPorts(servers);
  }

  /** From now on, ports towards the servers are taken among those steered to worker `index` of `count`. */
  partition(index: number, count: number): void {
    this.byServer.partition(index, count);
  }

  /** From now on, ports towards the servers are member `index` (0-based) of `count`'s share (an ECMP group, sync/members.ts), less those `held` names. */
  share(index: number, count: number, held?: (server: number, port: number) => boolean): void {
    this.byServer.share(index, count, held);
  }

  get size(): number {
    return this.count;
  }

  setLimits(maxConnections: number, maxHalfOpen: number): void {
    this.maxConnections = maxConnections;
    this.maxHalfOpen = maxHalfOpen;
  }

  lookupClient(ip: number, port: number): Connection | undefined {
    const n = this.byClient.find(ip, port);
    return n < 0 ? undefined : C.handles[n]!;
  }

  lookupServer(server: number, port: number): Connection | undefined {
    const n = this.byServer.connection(server, port);
    return n < 0 ? undefined : C.handles[n]!;
  }

  /** Whether `c` is in the table now (a handle kept after its removal is not). */
  holds(c: Connection): boolean {
    return c.id >= 0 && this.byClient.find(c.clientIp, c.clientPort) === c.id;
  }

  /** A new half-open entry, or undefined when a limit forbids it (counted). */
  create(ip: number, port: number, vip: number, now: number): Connection | undefined {
    if (this.count >= this.maxConnections) {
      this.stats.refusedFull++;
      return undefined;
    }
    if (this.halfOpen >= this.maxHalfOpen) {
      this.stats.refusedHalfOpen++;
      return undefined;
    }
    const c = new Connection(ip, port, vip, now, this.maxConnections);
    const n = c.id;
    this.byClient.insert(n);
    C.older[n] = this.newest;
    C.newer[n] = -1;
    if (this.newest >= 0) C.newer[this.newest] = n;
    else this.oldest = n;
    this.newest = n;
    this.count++;
    this.halfOpen++;
    this.stats.created++;
    return c;
  }

  /**
   * Gives the connection a source port on `server`'s leg. Ports rotate through 1024-65535 so
   * that a port comes back as late as possible (the server may still hold the old 4-tuple in
   * TIME-WAIT). False when every port towards that server is taken.
   */
  bindServer(c: Connection, server: number): boolean {
    this.unbindServer(c);
    const p = this.byServer.take(server, c.id);
    if (p < 0) return false;
    c.server = server;
    c.allocPort = p;
    return true;
  }

  /** Gives the connection the port an HA peer allocated it towards `server` (sync/promotion.ts); false when that port is taken here. */
  claimServer(c: Connection, server: number, port: number): boolean {
    this.unbindServer(c);
    if (!this.byServer.claim(server, port, c.id)) return false;
    c.server = server;
    c.allocPort = port;
    return true;
  }

  /** A port towards `server` for the appliance's own use (a health check), or -1; `releasePort` gives it back. */
  takePort(server: number): number {
    return this.byServer.take(server, HEALTH_CHECK);
  }

  releasePort(server: number, port: number): void {
    this.byServer.release(server, port);
  }

  private unbindServer(c: Connection): void {
    if (c.server < 0) return;
    this.byServer.release(c.server, c.allocPort);
    c.server = -1;
    c.allocPort = 0;
  }

  /** Moves a connection to `state`, keeping the half-open count (states before the splice) right, either way. */
  setState(c: Connection, state: ConnState): void {
    const wasHalf = c.halfOpen;
    c.state = state;
    if (wasHalf && !c.halfOpen) this.halfOpen--;
    else if (!wasHalf && c.halfOpen) this.halfOpen++; // failed over after the request went out
  }

  /** Takes `c` out of the table and retires its handle (connection.ts): read what is needed of it before. */
  remove(c: Connection): void {
    if (!this.holds(c)) return;
    const n = c.id;
    this.byClient.delete(n);
    releaseAddress(c.clientIp);
    if (c.halfOpen) this.halfOpen--;
    this.unbindServer(c);
    const older = C.older[n];
    const newer = C.newer[n];
    for (const p of this.passes) if (p.last === n) p.last = older;
    if (older >= 0) C.newer[older] = newer;
    else this.oldest = newer;
    if (newer >= 0) C.older[newer] = older;
    else this.newest = older;
    this.count--;
    this.stats.removed++;
    c.retire();
  }

  /** A walk from the oldest connection (see Pass); `endPass` when it is given up before its end. */
  pass(): Pass {
    const p = new Pass();
    this.passes.push(p);
    return p;
  }

  /** The walk's next connection, or undefined at the end (`rewind` starts it again). */
  next(p: Pass): Connection | undefined {
    const n = p.last < 0 ? this.oldest : C.newer[p.last];
    if (n < 0) return undefined;
    p.last = n;
    return C.handles[n]!;
  }

  rewind(p: Pass): void {
    p.last = -1;
  }

  endPass(p: Pass): void {
    const i = this.passes.indexOf(p);
    if (i >= 0) this.passes.splice(i, 1);
  }

  /** The connections now, oldest first, as an array of their own: for a loop that ends some. */
  connections(): Connection[] {
    const all: Connection[] = [];
    for (let n = this.oldest; n >= 0; n = C.newer[n]) all.push(C.handles[n]!);
    return all;
  }
}
