import { ADDRESSES6 } from '../../appliance/addr/interner';
import { ConnState, type Connection } from '../../appliance/flow/connection';
import { clientDialect, D4 } from '../../appliance/flow/dialect';
import { describeDestination, parseSocks, SocksParse } from '../../appliance/flow/socks';
import { ConnectionTable } from '../../appliance/flow/table';
import { clientAcked, fromClientData, fromServerData, serverAcked, sized, synAckAcked, synAckSent } from '../../appliance/stats/passive';
import { readU32 } from '../../appliance/wire/ipv4';
import { ACK, PSH, SYN } from '../../appliance/wire/tcp';

/**
 * Synthetic established connections for the table-heap bench (table-heap.ts): each made the
 * way the dispatcher makes a spliced SOCKS4 CONNECT + small GET (client-leg.ts accept,
 * socks-responder.ts, server-leg.ts connect/onConnecting/splice, server-reply.ts, the splice's
 * first data each way, then transitions.ts settled: the Handshake dropped), with the values'
 * kinds as the real path gives them (uint32 ISNs, int32 sequence counts, seconds as doubles),
 * as the columns' types (flow/columns.ts) must hold them.
 */

export type Family = 4 | 6 | 'mixed';

/** Ports a server leg can allocate (table.ts: 1024-65535). */
export const PORTS_PER_SERVER = 64512;
/** IPv4 clients: 198.18.0.0/15, 16 source ports each (the count of IPv4 addresses costs nothing). */
const V4_BASE = 0xc6120000;
const V4_ADDRESSES = 1 << 17;
const V4_PORTS = 16;
const V6_PREFIX = [0x20, 0x01, 0x0d, 0xb8, 0x00, 0x18, 0, 0]; // 2001:db8:18::/64

/** The servers the table needs so that every connection gets a port: at least 4, ports are per server. */
export function serversFor(n: number): number {
  return Math.max(4, Math.ceil(n / PORTS_PER_SERVER));
}

/** Connection i's client: which family, and its ordinal within that family. */
export function isV6Client(family: Family, i: number): boolean {
  return family === 6 || (family === 'mixed' && (i & 1) === 1);
}

function ordinal(family: Family, i: number): number {
  return family === 'mixed' ? i >>> 1 : i;
}

/** Client i's IPv4 address and port. */
export function client4(family: Family, i: number): { ip: number; port: number } {
  const j = ordinal(family, i);
  const a = Math.floor(j / V4_PORTS);
  if (a >= V4_ADDRESSES) throw new Error(`more than ${V4_ADDRESSES * V4_PORTS} IPv4 clients do not fit 198.18.0.0/15`);
  return { ip: V4_BASE + a, port: 1024 + (j % V4_PORTS) };
}

/** Client i's IPv6 address (2001:db8:18::1:0:0 + its index, `perAddress` connections each) into b[0..16), and its port. */
export function client6(family: Family, i: number, perAddress: number, b: Uint8Array): number {
  const j = ordinal(family, i);
  const a = Math.floor(j / perAddress);
  b.set(V6_PREFIX, 0);
  b.fill(0, 8, 12);
  b[11] = 1; // 2001:db8:18::1:0:0 up: clear of the VIP
  b[12] = a >>> 24;
  b[13] = (a >>> 16) & 255;
  b[14] = (a >>> 8) & 255;
  b[15] = a & 255;
  return 1024 + (j % perAddress);
}

/** A small deterministic generator (xorshift32), so that two runs fill alike. */
class Random {
  private s = 0x2545f491;
  next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s;
    return s >>> 0;
  }
}

export class SyntheticFill {
  private readonly rnd = new Random();
  private readonly socks = Buffer.from([4, 1, 0, 80, 203, 0, 113, 0, 0]); // SOCKS4 CONNECT 203.0.113.x:80, empty user id
  private readonly parse = new SocksParse();
  private readonly addr6 = new Uint8Array(16);

  constructor(readonly family: Family, readonly perAddress = 1) {}

  /**
   * Connection i's client as ConnectionTable.create takes it: the address, the port. `hold`:
   * an IPv6 address is interned with a reference held, as ip.holdSrc() does for a SYN;
   * otherwise only looked up (-1 when nothing holds it), as the dispatcher's lookups see it.
   */
  client(i: number, hold: boolean): { ip: number; port: number } {
    if (!isV6Client(this.family, i)) return client4(this.family, i);
    const port = client6(this.family, i, this.perAddress, this.addr6);
    return { ip: hold ? ADDRESSES6.intern(this.addr6, 0) : ADDRESSES6.lookup(this.addr6, 0), port };
  }

  /** `n` spliced connections in `table`, over its servers in turn. */
  fillTable(table: ConnectionTable, n: number, servers: number): void {
    for (let i = 0; i < n; i++) {
      const { ip, port } = this.client(i, true);
      const c = table.create(ip, port, this.vip(i), performance.now() / 1000);
      if (c === undefined) throw new Error(`the table refused connection ${i}`);
      this.establish(c, i, table, servers);
    }
  }

  /**
   * The VIP the client addressed, read per datagram as ip.dst gives it (a fresh number each
   * time: a uint32 above 2^31, or an interned IPv6 number, is a heap number in V8). The IPv6
   * VIP is configured: interned once and held for good.
   */
  private vip(i: number): number {
    return isV6Client(this.family, i) ? this.dst6[0] : readU32(this.dst4, 0);
  }

  private readonly dst4 = Uint8Array.of(198, 18, 0, 254);
  private readonly dst6 = Float64Array.of(ADDRESSES6.intern(Uint8Array.of(...V6_PREFIX, 0, 0, 0, 0, 0, 0, 0, 0xfe), 0)); // 2001:db8:18::fe

  /** The life of a SOCKS4 CONNECT + GET up to the handshake's state being dropped. */
  private establish(c: Connection, i: number, table: ConnectionTable, servers: number): void {
    const v6 = isV6Client(this.family, i);
    const ipHeader = v6 ? 40 : 20;
    let us = this.rnd.next() | 0; // FlowContext.us: a wrapping int32 microsecond clock
    const h = c.hs!;
    // client-leg.ts accept: the SYN, and the SYN-ACK timed.
    c.clientIsn = this.rnd.next();
    c.packetsIn = 1;
    c.bytesIn = c.minLength = c.maxLength = ipHeader + 40;
    c.flagsIn = SYN;
    h.ourIsn = this.rnd.next();
    h.ourNext = (h.ourIsn + 1) >>> 0;
    h.ourWscale = 7;
    h.clientWscale = 7;
    synAckSent(c, us, false);
    // The client's ACK, then its SOCKS4 request: socks-responder.ts advance, transitions.ts collect.
    us = (us + 150 + (this.rnd.next() & 255)) | 0;
    this.datagramIn(c, ipHeader + 32, ACK);
    synAckAcked(c, us);
    this.datagramIn(c, ipHeader + 32 + 9, ACK | PSH);
    this.socks[7] = i & 255;
    const p = parseSocks(this.socks, 0, this.socks.length, this.parse);
    c.version = p.version;
    c.destination = `${describeDestination(this.socks, 0, p)}:${p.port}`;
    c.dialect = clientDialect(p);
    c.alp = 1;
    c.priority = 2;
    c.discardEligible = false;
    // server-leg.ts connect: a port towards the server, the SYN.
    if (!table.bindServer(c, i % servers)) throw new Error(`no port left towards server ${i % servers}`);
    c.leg = D4;
    c.upShift = 0;
    table.setState(c, ConnState.Connecting);
    // onConnecting: the server's SYN-ACK; both ends scale by 7, so no rescaling.
    this.datagramOut(c, ipHeader + 40, SYN | ACK);
    h.serverNext = (this.rnd.next() + 1) >>> 0;
    c.handshakeUs = c.rttServerUs = 200 + (this.rnd.next() & 1023);
    c.windowShiftToServer = c.windowShiftToClient = 0;
    c.clientScale = c.serverScale = 7;
    table.setState(c, ConnState.Replaying);
    // replay and splice: the request went out.
    h.replayedTo = 9;
    c.delta = (h.ourNext - h.serverNext) | 0;
    c.upNext = (c.clientIsn + 1 + h.replayedTo) | 0;
    c.downNext = h.serverNext | 0;
    table.setState(c, ConnState.Spliced);
    // server-reply.ts take: the 8-byte SOCKS4 reply, translated and sent to the client.
    this.datagramOut(c, ipHeader + 32 + 8, ACK | PSH);
    c.replyUs = c.handshakeUs + 300;
    h.ourNext = (h.ourNext + 8) >>> 0;
    h.replyEnd = h.serverNext = (h.serverNext + 8) >>> 0;
    c.delta = (h.ourNext - h.replyEnd) | 0;
    // The splice's first data each way (splice.ts), timed (stats/passive.ts): a GET, its answer.
    const get = 78;
    this.datagramIn(c, ipHeader + 32 + get, ACK | PSH);
    if (fromClientData(c, c.upNext, (c.upNext + get) | 0, us)) c.upNext = (c.upNext + get) | 0;
    c.winToServer = 502;
    us = (us + 400) | 0;
    serverAcked(c, c.upNext, us);
    const answer = 1200;
    this.datagramOut(c, ipHeader + 32 + answer, ACK | PSH);
    if (fromServerData(c, c.downNext, (c.downNext + answer) | 0, us)) c.downNext = (c.downNext + answer) | 0;
    c.winToClient = 509;
    us = (us + 150) | 0;
    clientAcked(c, c.downNext, us);
    this.datagramIn(c, ipHeader + 32, ACK);
    // transitions.ts settled: both ends have everything; the handshake's state goes.
    c.hs = null;
  }

  /** What dispatcher.ts fromClient / fromServer count for every datagram. */
  private datagramIn(c: Connection, len: number, flags: number): void {
    c.lastSeen = performance.now() / 1000;
    c.packetsIn++;
    c.bytesIn += len;
    c.flagsIn |= flags;
    sized(c, len);
  }

  private datagramOut(c: Connection, len: number, flags: number): void {
    c.lastSeen = performance.now() / 1000;
    c.packetsOut++;
    c.bytesOut += len;
    c.flagsOut |= flags;
    sized(c, len);
  }
}
