import { releaseAddress } from '../addr/address';
import { steeredQueue } from '../device/steering';
import { clientKey, ConnState, Connection, serverKey } from './connection';

/**
 * The Socks ALP Connection table: connections by (Cx_Source_IP_Address, Cx_Source_Port), the
 * patent's key, and by (server, allocated port) for the reverse direction. Half-open entries
 * (handshake not yet spliced) are counted apart and capped, so a SYN flood cannot fill it.
 */
export class ConnectionTable {
  readonly byClient = new Map<number, Connection>();
  private readonly byServer = new Map<number, Connection>();
  /** Per server, the next port to try and which ports are in use. */
  private readonly nextPort: number[];
  private readonly portsInUse: Uint8Array[];
  halfOpen = 0;
  /** Allocated ports are those the devices steer to this worker (Dispatcher.setShard). */
  private workers = 1;
  private worker = 0;
  readonly stats = { created: 0, removed: 0, refusedFull: 0, refusedHalfOpen: 0, expiredIdle: 0, expiredHalfOpen: 0 };

  constructor(servers: number, private maxConnections: number, private maxHalfOpen: number) {
    // A random start per server: after a restart, the ports of the connections the servers may
    // still hold from before are unlikely to come back first.
    this.nextPort = Array.from({ length: servers }, () => 1024 + Math.floor(Math.random() * 64512));
    this.portsInUse = Array.from({ length: servers }, () => new Uint8Array(65536));
  }

  /** From now on, ports towards the servers are taken among those steered to worker `index` of `count`. */
  partition(index: number, count: number): void {
    this.workers = count;
    this.worker = index;
  }

  get size(): number {
    return this.byClient.size;
  }

  setLimits(maxConnections: number, maxHalfOpen: number): void {
    this.maxConnections = maxConnections;
    this.maxHalfOpen = maxHalfOpen;
  }

  lookupClient(ip: number, port: number): Connection | undefined {
    return this.byClient.get(clientKey(ip, port));
  }

  lookupServer(server: number, port: number): Connection | undefined {
    return this.byServer.get(serverKey(server, port));
  }

  /** A new half-open entry, or undefined when a limit forbids it (counted). */
  create(ip: number, port: number, vip: number, now: number): Connection | undefined {
    if (this.byClient.size >= this.maxConnections) {
      this.stats.refusedFull++;
      return undefined;
    }
    if (this.halfOpen >= this.maxHalfOpen) {
      this.stats.refusedHalfOpen++;
      return undefined;
    }
    const c = new Connection(clientKey(ip, port), ip, port, vip, now);
    this.byClient.set(c.key, c);
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
    const p = this.takePort(server);
    if (p < 0) return false;
    c.server = server;
    c.allocPort = p;
    this.byServer.set(serverKey(server, p), c);
    return true;
  }

  /** A port towards `server` for the appliance's own use (a health check), or -1; `releasePort` gives it back. */
  takePort(server: number): number {
    const used = this.portsInUse[server];
    let p = this.nextPort[server];
    for (let n = 0; n < 64512; n++) {
      if (used[p] === 0 && (this.workers === 1 || steeredQueue(p, this.workers) === this.worker)) {
        used[p] = 1;
        this.nextPort[server] = p === 65535 ? 1024 : p + 1;
        return p;
      }
      p = p === 65535 ? 1024 : p + 1;
    }
    return -1;
  }

  releasePort(server: number, port: number): void {
    this.portsInUse[server][port] = 0;
  }

  private unbindServer(c: Connection): void {
    if (c.server < 0) return;
    this.releasePort(c.server, c.allocPort);
    this.byServer.delete(serverKey(c.server, c.allocPort));
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

  remove(c: Connection): void {
    if (this.byClient.get(c.key) !== c) return;
    this.byClient.delete(c.key);
    releaseAddress(c.clientIp);
    if (c.halfOpen) this.halfOpen--;
    this.unbindServer(c);
    this.stats.removed++;
  }
}
