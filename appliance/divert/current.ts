import { releaseAddress, retainAddress } from '../addr/address';

/**
 * The current connections (network-management patent, figure 2b, table 211): for each diverted
 * non-SOCKS flow, the pair of pairs of figure 3,
 *   first pair   (client, client port) -> (original destination, its port)   as the client sent it
 *   second pair  (own address, own port) -> (diverted destination, its port) as it leaves
 * found from a client's datagram by the first pair and from a reply by the second.
 *
 * Entries are rows of typed arrays (no object per flow), indexed twice by open-addressing hashes
 * with linear probing and backward-shift deletion, so that a lookup, an insert and a removal
 * allocate nothing. The own address is that of the egress segment, so a row keeps the segment
 * index and the key of the second pair is (protocol, diverted address, diverted port, segment,
 * own port). Own ports are allocated per (protocol, segment), rotating through 1024-65535 so a
 * port comes back as late as possible.
 *
 * Addresses are address numbers of either family (addr/address.ts): an IPv4 address as
 * itself, an IPv6 one interned above 2^32, so one row layout and one pair of indexes serve both;
 * the columns are Float64Array (exact for every such number, and read as fast as Uint32Array:
 * an IPv4 row's hash and comparisons are those it always had). A row holds a reference to each
 * IPv6 address it keeps, given back when it goes, so a flow's client stays interned while its
 * row lives and a lookup by a datagram's numbers (-1 when not interned) finds it or nothing.
 */

/** Row flags. */
export const FLOW_REPLIED = 1;
export const FLOW_FIN_CLIENT = 2;
export const FLOW_FIN_SERVER = 4;
/** A RST was seen, or both FINs: lingering for retransmissions, then removed. */
export const FLOW_CLOSING = 8;

const FIRST_PORT = 1024;
const PORTS = 65536 - FIRST_PORT;

export class CurrentConnections {
  readonly capacity: number;
  // ---- the rows
  readonly proto: Uint8Array;
  readonly flags: Uint8Array;
  readonly segment: Int16Array;
  readonly clientAddr: Float64Array;
  readonly clientPort: Uint16Array;
  readonly origAddr: Float64Array;
  readonly origPort: Uint16Array;
  readonly divAddr: Float64Array;
  readonly divPort: Uint16Array;
  readonly ownPort: Uint16Array;
  /** Where the diverted datagrams go on the segment: the route's gateway or the destination. */
  readonly nextHop: Float64Array;
  /** Seconds (the data path's clock): when the row was made and last used. */
  readonly created: Float64Array;
  readonly lastSeen: Float64Array;
  /** TCP: the next sequence number each side will send, as the other side sees it (for a reset). */
  readonly clientNext: Uint32Array;
  readonly serverNext: Uint32Array;
  readonly packetsOut: Float64Array;
  readonly bytesOut: Float64Array;
  readonly packetsIn: Float64Array;
  readonly bytesIn: Float64Array;
  /** 1 for a row in use. */
  readonly used: Uint8Array;

  private readonly free: Int32Array;
  private freeTop: number;
  private count = 0;
  // ---- the two indexes: row + 1, 0 for an empty slot
  private readonly byClient: Int32Array;
  private readonly byServer: Int32Array;
  private readonly mask: number;
  // ---- own ports: per (protocol, segment) a map of ports in use and the next to try
  private readonly ports = new Map<number, { inUse: Uint8Array; next: number }>();

  readonly stats = { created: 0, removed: 0, refusedFull: 0, refusedPorts: 0, expired: 0 };

  constructor(capacity: number) {
    this.capacity = capacity;
    this.proto = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.segment = new Int16Array(capacity);
    this.clientAddr = new Float64Array(capacity);
    this.clientPort = new Uint16Array(capacity);
    this.origAddr = new Float64Array(capacity);
    this.origPort = new Uint16Array(capacity);
    this.divAddr = new Float64Array(capacity);
    this.divPort = new Uint16Array(capacity);
    this.ownPort = new Uint16Array(capacity);
    this.nextHop = new Float64Array(capacity);
    this.created = new Float64Array(capacity);
    this.lastSeen = new Float64Array(capacity);
    this.clientNext = new Uint32Array(capacity);
    this.serverNext = new Uint32Array(capacity);
    this.packetsOut = new Float64Array(capacity);
    this.bytesOut = new Float64Array(capacity);
    this.packetsIn = new Float64Array(capacity);
    this.bytesIn = new Float64Array(capacity);
    this.used = new Uint8Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.byClient = new Int32Array(size);
    this.byServer = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The row whose first pair is this, or -1. */
  findClient(proto: number, client: number, clientPort: number, orig: number, origPort: number): number {
    const t = this.byClient;
    for (let i = clientSlot(proto, client, clientPort, orig, origPort, this.mask); ; i = (i + 1) & this.mask) {
      const v = t[i];
      if (v === 0) return -1;
      const r = v - 1;
      if (this.clientPort[r] === clientPort && this.clientAddr[r] === client && this.origAddr[r] === orig && this.origPort[r] === origPort && this.proto[r] === proto) return r;
    }
  }

  /** The row whose second pair is this (a reply from `div`:`divPort` to our `ownPort` on `segment`), or -1. */
  findServer(proto: number, div: number, divPort: number, segment: number, ownPort: number): number {
    const t = this.byServer;
    for (let i = serverSlot(proto, div, divPort, segment, ownPort, this.mask); ; i = (i + 1) & this.mask) {
      const v = t[i];
      if (v === 0) return -1;
      const r = v - 1;
      if (this.ownPort[r] === ownPort && this.divAddr[r] === div && this.divPort[r] === divPort && this.segment[r] === segment && this.proto[r] === proto) return r;
    }
  }

  /**
   * A new row for a flow the table diverts (figure 3, event 3), with an own port on `segment`;
   * -1 when the table is full or every own port there is taken (both counted). The addresses
   * are numbers in use (an IPv6 one interned): the row holds a reference of its own to each.
   */
  add(proto: number, client: number, clientPort: number, orig: number, origPort: number, div: number, divPort: number, segment: number, nextHop: number, now: number): number {
    if (this.freeTop === 0) {
      this.stats.refusedFull++;
      return -1;
    }
    const own = this.takePort(proto, segment);
    if (own < 0) {
      this.stats.refusedPorts++;
      return -1;
    }
    const r = this.free[--this.freeTop];
    this.used[r] = 1;
    this.proto[r] = proto;
    this.flags[r] = 0;
    this.segment[r] = segment;
    this.clientAddr[r] = client;
    this.clientPort[r] = clientPort;
    this.origAddr[r] = orig;
    this.origPort[r] = origPort;
    this.divAddr[r] = div;
    this.divPort[r] = divPort;
    this.ownPort[r] = own;
    this.nextHop[r] = nextHop;
    retainAddress(client);
    retainAddress(orig);
    retainAddress(div);
    retainAddress(nextHop);
    this.created[r] = now;
    this.lastSeen[r] = now;
    this.clientNext[r] = 0;
    this.serverNext[r] = 0;
    this.packetsOut[r] = this.bytesOut[r] = this.packetsIn[r] = this.bytesIn[r] = 0;
    this.insert(this.byClient, clientSlot(proto, client, clientPort, orig, origPort, this.mask), r);
    this.insert(this.byServer, serverSlot(proto, div, divPort, segment, own, this.mask), r);
    this.count++;
    this.stats.created++;
    return r;
  }

  /** The mid-connection diversion (patent): row `r` now goes to `div`:`divPort` by `segment`. */
  retarget(r: number, div: number, divPort: number, segment: number, nextHop: number): boolean {
    const proto = this.proto[r];
    let own = this.ownPort[r];
    if (segment !== this.segment[r]) {
      own = this.takePort(proto, segment);
      if (own < 0) return false;
      this.givePort(proto, this.segment[r], this.ownPort[r]);
    }
    this.unlink(this.byServer, r, serverSlot(proto, this.divAddr[r], this.divPort[r], this.segment[r], this.ownPort[r], this.mask));
    retainAddress(div);
    releaseAddress(this.divAddr[r]);
    this.divAddr[r] = div;
    this.divPort[r] = divPort;
    this.segment[r] = segment;
    this.ownPort[r] = own;
    this.setNextHop(r, nextHop);
    this.insert(this.byServer, serverSlot(proto, div, divPort, segment, own, this.mask), r);
    return true;
  }

  /** Row `r`'s next hop, after a reload's routes. */
  setNextHop(r: number, nextHop: number): void {
    retainAddress(nextHop);
    releaseAddress(this.nextHop[r]);
    this.nextHop[r] = nextHop;
  }

  remove(r: number): void {
    if (this.used[r] === 0) return;
    const proto = this.proto[r];
    this.unlink(this.byClient, r, clientSlot(proto, this.clientAddr[r], this.clientPort[r], this.origAddr[r], this.origPort[r], this.mask));
    this.unlink(this.byServer, r, serverSlot(proto, this.divAddr[r], this.divPort[r], this.segment[r], this.ownPort[r], this.mask));
    this.givePort(proto, this.segment[r], this.ownPort[r]);
    releaseAddress(this.clientAddr[r]);
    releaseAddress(this.origAddr[r]);
    releaseAddress(this.divAddr[r]);
    releaseAddress(this.nextHop[r]);
    this.used[r] = 0;
    this.free[this.freeTop++] = r;
    this.count--;
    this.stats.removed++;
  }

  private takePort(proto: number, segment: number): number {
    const k = proto * 65536 + segment;
    let p = this.ports.get(k);
    if (p === undefined) this.ports.set(k, (p = { inUse: new Uint8Array(65536), next: FIRST_PORT + Math.floor(Math.random() * PORTS) }));
    let port = p.next;
    for (let n = 0; n < PORTS; n++) {
      if (p.inUse[port] === 0) {
        p.inUse[port] = 1;
        p.next = port === 65535 ? FIRST_PORT : port + 1;
        return port;
      }
      port = port === 65535 ? FIRST_PORT : port + 1;
    }
    return -1;
  }

  private givePort(proto: number, segment: number, port: number): void {
    const p = this.ports.get(proto * 65536 + segment);
    if (p !== undefined) p.inUse[port] = 0;
  }

  private insert(t: Int32Array, slot: number, r: number): void {
    let i = slot;
    while (t[i] !== 0) i = (i + 1) & this.mask;
    t[i] = r + 1;
  }

  /**
   * Removes row `r` from index `t`, whose home slot for it is `slot`, by backward shift (Knuth's
   * algorithm R): later rows of the probe run move up into the hole when their home slot allows,
   * so no tombstone is left and lookups stay short.
   */
  private unlink(t: Int32Array, r: number, slot: number): void {
    const m = this.mask;
    let i = slot;
    while (t[i] !== r + 1) {
      if (t[i] === 0) return;
      i = (i + 1) & m;
    }
    let hole = i;
    for (let j = (hole + 1) & m; t[j] !== 0; j = (j + 1) & m) {
      const home = this.homeOf(t, t[j] - 1);
      // Row at j may fill the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        t[hole] = t[j];
        hole = j;
      }
    }
    t[hole] = 0;
  }

  private homeOf(t: Int32Array, r: number): number {
    const m = this.mask;
    return t === this.byClient
      ? clientSlot(this.proto[r], this.clientAddr[r], this.clientPort[r], this.origAddr[r], this.origPort[r], m)
      : serverSlot(this.proto[r], this.divAddr[r], this.divPort[r], this.segment[r], this.ownPort[r], m);
  }
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  return h ^ (h >>> 13);
}

function clientSlot(proto: number, client: number, clientPort: number, orig: number, origPort: number, mask: number): number {
  let h = mix(proto, client);
  h = mix(h, orig);
  h = mix(h, clientPort * 65536 + origPort);
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 15)) & mask;
}

function serverSlot(proto: number, div: number, divPort: number, segment: number, ownPort: number, mask: number): number {
  let h = mix(proto + segment * 256, div);
  h = mix(h, divPort * 65536 + ownPort);
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 15)) & mask;
}
