import type { CapacityRule, ServerRecord } from '../config/tables';
import type { Scheduler } from './schedulers/scheduler';

/** What selection needs to know of a server beyond its configuration record. */
export interface ServerAvailability {
  /** Reachable as far as the appliance knows: ARP resolved, not failing. */
  usable(server: number): boolean;
}

/**
 * Socks Server ALP Selection (patent figure 10), once per connection.
 *
 *   List1 = usable servers whose Socks_Server_ALP_List holds the ALP, or ALL (step 1003),
 *           that speak a dialect the request can be translated into (flow/dialect.ts) and
 *           were not already tried;
 *   empty -> the default server when it qualifies (claim 9), else none: the client is refused;
 *   one   -> it;
 *   more  -> List2 = List1 servers whose capacity meets the first capacity_for_priority rule
 *            the priority reaches (step 1005); List2 empty -> List1;
 *            one -> it; more -> the scheduler (step 1007).
 */
export class ServerSelection {
  /** servesAlp[server * alpCount + alp] */
  private readonly servesAlp: Uint8Array;
  private readonly alpCount: number;
  private readonly list1: Int32Array;
  private readonly list2: Int32Array;
  private readonly defaultServer: number;

  /**
   * @param alpNames ALP names by AlpRegistry id, removed ones included
   * @param speaks per server, the SOCKS dialects it takes as a mask (flow/dialect.ts)
   */
  constructor(
    private readonly servers: ServerRecord[],
    private readonly speaks: readonly number[],
    alpNames: readonly string[],
    private readonly rules: CapacityRule[],
    private readonly scheduler: Scheduler,
  ) {
    const alpCount = alpNames.length;
    this.servesAlp = new Uint8Array(servers.length * alpCount);
    servers.forEach((s, i) => {
      alpNames.forEach((name, a) => {
        if (s.alps.all || s.alps.names.includes(name)) this.servesAlp[i * alpCount + a] = 1;
      });
    });
    this.alpCount = alpCount;
    this.list1 = new Int32Array(servers.length);
    this.list2 = new Int32Array(servers.length);
    this.defaultServer = servers.findIndex((s) => s.isDefault);
  }

  /** The capacity a priority asks for (step 1005); 0 when no rule applies. */
  capacityFor(priority: number): number {
    for (const r of this.rules) if (priority >= r.priority) return r.capacity;
    return 0;
  }

  /**
   * @param carriers the dialects that can carry the request, as a mask (flow/dialect.ts)
   * @param tried bit i set: server i already failed this connection
   * @returns the server index, or -1 when no server can take the connection
   */
  select(alp: number, priority: number, carriers: number, availability: ServerAvailability, tried = 0): number {
    let n1 = 0;
    for (let i = 0; i < this.servers.length; i++) {
      if (this.servesAlp[i * this.alpCount + alp] === 1 && this.eligible(i, carriers, availability, tried)) this.list1[n1++] = i;
    }
    if (n1 === 0) {
      const d = this.defaultServer;
      return d >= 0 && this.eligible(d, carriers, availability, tried) ? d : -1;
    }
    if (n1 === 1) return this.list1[0];
    const want = this.capacityFor(priority);
    let n2 = 0;
    for (let k = 0; k < n1; k++) {
      const i = this.list1[k];
      if (this.servers[i].capacity >= want) this.list2[n2++] = i;
    }
    if (n2 === 0) return this.scheduler.pick(this.list1, n1);
    if (n2 === 1) return this.list2[0];
    return this.scheduler.pick(this.list2, n2);
  }

  /**
   * Whether server `i` may take a connection of `alp` that another server was chosen for (a
   * server diversion, stages/server-diversion.ts): usable, listing the ALP (or ALL), speaking a
   * dialect the request can be carried in, not tried yet. Capacity rules do not apply: the
   * monitor chose it for its spare capacity.
   */
  qualifies(i: number, alp: number, carriers: number, availability: ServerAvailability, tried = 0): boolean {
    return this.servesAlp[i * this.alpCount + alp] === 1 && this.eligible(i, carriers, availability, tried);
  }

  private eligible(i: number, carriers: number, availability: ServerAvailability, tried: number): boolean {
    return availability.usable(i) && (this.speaks[i] & carriers) !== 0 && (tried & (1 << i)) === 0;
  }
}
