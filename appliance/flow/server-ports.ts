import { steeredQueue } from '../device/steering';

/** Per server: a port's entry is FREE, HEALTH_CHECK, or connection number + 1. */
const FREE = 0;
/** A port the appliance took for itself (health/checker.ts): taken, but no connection's. */
export const HEALTH_CHECK = -2;
const FIRST_PORT = 1024;
const PORTS = 65536 - FIRST_PORT;

/**
 * The table's index by (server, allocated port), which is also the server leg's port
 * allocation: per server an Int32Array(65536) from port to connection number. 256 KiB per
 * server, written only where ports are taken, so an idle appliance's pages stay untouched.
 */
export class ServerPorts {
  private readonly ports: Int32Array[];
  /** Per server, the next port to try. */
  private readonly nextPort: number[];
  /** Ports taken are those the devices steer to worker `worker` of `workers` (Dispatcher.setShard). */
  private workers = 1;
  private worker = 0;
  /** An ECMP member takes the ports p with p % members === member (sync/members.ts), so that no two members open the same one. */
  private members = 1;
  private member = 0;
  /**
   * Ports a peer's connection still uses towards a server (an ECMP member back from a restart:
   * the connections it opened before live on with its peers, which sync them back here).
   */
  private held: ((server: number, port: number) => boolean) | undefined;

  constructor(servers: number) {
    this.ports = Array.from({ length: servers }, () => new Int32Array(65536));
    // A random start per server: after a restart, the ports of the connections the servers may
    // still hold from before are unlikely to come back first.
    this.nextPort = Array.from({ length: servers }, () => FIRST_PORT + Math.floor(Math.random() * PORTS));
  }

  partition(index: number, count: number): void {
    this.workers = count;
    this.worker = index;
  }

  /** Member `index` (0-based) of `count` of an ECMP group: its share of every server's ports, less those `held` says a peer's connection has. */
  share(index: number, count: number, held?: (server: number, port: number) => boolean): void {
    this.members = count;
    this.member = index;
    this.held = held;
  }

  /** The connection on `port` towards `server`, or -1 (free, or a health check's). */
  connection(server: number, port: number): number {
    const e = this.ports[server][port];
    return e > 0 ? e - 1 : -1;
  }

  /** A free port towards `server`, now `owner`'s (a connection number, or HEALTH_CHECK), or -1 when every one is taken. */
  take(server: number, owner: number): number {
    const used = this.ports[server];
    let p = this.nextPort[server];
    for (let n = 0; n < PORTS; n++) {
      if (used[p] === FREE && (this.workers === 1 || steeredQueue(p, this.workers) === this.worker) && p % this.members === this.member && (this.held === undefined || !this.held(server, p))) {
        used[p] = owner === HEALTH_CHECK ? HEALTH_CHECK : owner + 1;
        this.nextPort[server] = p === 65535 ? FIRST_PORT : p + 1;
        return p;
      }
      p = p === 65535 ? FIRST_PORT : p + 1;
    }
    return -1;
  }

  /** Takes `port` towards `server` for connection `owner` (an HA peer's, sync/promotion.ts); false when it is not free. */
  claim(server: number, port: number, owner: number): boolean {
    const used = this.ports[server];
    if (port < FIRST_PORT || used[port] !== FREE) return false;
    used[port] = owner + 1;
    return true;
  }

  release(server: number, port: number): void {
    this.ports[server][port] = FREE;
  }
}
