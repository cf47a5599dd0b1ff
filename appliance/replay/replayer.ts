import type { Config } from '../config/tables';
import type { Stages } from '../flow/context';
import { clientKey } from '../flow/connection';
import { carriers, clientDialect, D5, DIALECT_NAMES, legDialect, speaks } from '../flow/dialect';
import { ATYP_IPV4, ATYP_IPV6, ATYP_NAME, CMD_CONNECT, describeDestination, METHOD_REFUSED, METHOD_USERPASS, parseSocks, SocksParse, SocksStatus, SOCKS_MAX_HANDSHAKE } from '../flow/socks';
import { formatEndpoint, type Destination } from '../divert/endpoint';
import { ADDRESSES6 } from '../addr/interner';
import type { Scheduler } from '../stages/schedulers/scheduler';
import { ServerDiversion } from '../stages/server-diversion';
import type { ServerAvailability } from '../stages/server-selection';
import { formatAddress, formatAddressPort } from '../addr/address';
import { ACK, FIN, RST, SYN } from '../wire/tcp';
import type { PacketFacts } from './packets';
import { ClientStream } from './client-stream';

/** What became of a connection: a server, refused by the appliance, no server for it, or a handshake the capture does not finish. */
export type Outcome = 'server' | 'refused' | 'no-server' | 'incomplete';

/** One SOCKS connection as the configuration would handle it. */
export interface Replayed {
  client: string;
  vip: string;
  /** Seconds from the capture's first packet to the SYN, and to its end (both FINs or a RST; null: open when the capture ends). */
  start: number;
  end: number | null;
  /** As the request names it, "203.0.113.80:80" or "web.socksalp.test:80"; '' before a complete request. */
  destination: string;
  /** Where the diverted-address table sends it; '' when it does not. */
  diverted: string;
  /** The client's dialect, then the server leg's when the appliance translates: "4a>5". */
  dialect: string;
  alp: string;
  priority: number | null;
  discardEligible: boolean | null;
  server: string;
  /** The server Server ALP Selection chose when a server diversion moved the connection to `server`; '' otherwise. */
  divertedFrom: string;
  /** The server a server diversion names that cannot take the connection (it stays on `server`); '' otherwise. */
  divertSkipped: string;
  outcome: Outcome;
  /** Why no server (refused, no server, incomplete); '' when a server was chosen. */
  why: string;
  /** How many servers round robin chose among (step 1007); 0 when there was one candidate. */
  roundRobin: number;
}

/** Step 1007's scheduler, watched: how many candidates the last choice had. */
class Watched implements Scheduler {
  readonly name: string;
  candidates = 0;
  constructor(private readonly inner: Scheduler) {
    this.name = inner.name;
  }
  pick(c: Int32Array, n: number): number {
    this.candidates = n;
    return this.inner.pick(c, n);
  }
}

/** A capture does not show health: every server is taken as up. */
const ALL_UP: ServerAvailability = { usable: () => true };

interface Conn {
  row: Replayed;
  isn: number;
  /** The client's bytes while the request is incomplete; dropped once it is. */
  stream: ClientStream | undefined;
  synAt: number;
  server: number;
  /** Counted in the table (false: its SYN was dropped at a limit, or it has ended). */
  inTable: boolean;
  finClient: boolean;
  finAppliance: boolean;
}

/**
 * Runs the client side of captured SOCKS connections through a configuration's stages, as the
 * live appliance would: the Connection table's limits from the SYN (max_connections,
 * max_half_open), the SOCKS handshake parsed by the appliance's own parser as the bytes come in
 * order (steps 705-706), then the Traffic Analyzer and Priority Finder (707-708), the
 * diverted-address table (the network-management patent's figure 3), Server ALP Selection
 * (figure 10) and the table's server diversions (stages/server-diversion.ts, as the server leg
 * applies them) at the moment the request completes. A connection counts against its server from
 * its request until both FINs or a RST. Servers are taken as up: health is not in a capture.
 */
export class Replayer {
  readonly rows: Replayed[] = [];
  readonly active: Int32Array;
  readonly peak: Int32Array;
  readonly stats = { retransmitted: 0, outOfOrder: 0, cutSegments: 0, withoutSyn: 0 };
  private readonly conns = new Map<number, Conn>();
  private readonly withoutSyn = new Set<number>();
  private readonly parse = new SocksParse();
  private readonly q = new SocksParse();
  private readonly serverDiversion: ServerDiversion;
  private tableSize = 0;
  private halfOpen = 0;
  private first = NaN;

  constructor(private readonly config: Config, private readonly stages: Stages, private readonly scheduler: Watched) {
    this.active = new Int32Array(config.servers.length);
    this.peak = new Int32Array(config.servers.length);
    this.serverDiversion = new ServerDiversion(config.servers);
  }

  /** A scheduler to build the stages with, for the replayer to watch. */
  static watch(inner: Scheduler): Watched {
    return new Watched(inner);
  }

  /** Any packet of the capture, for the clock. */
  tick(time: number): void {
    if (Number.isNaN(this.first)) this.first = time;
  }

  /** A TCP segment from a client to a VIP's SOCKS port. */
  fromClient(f: PacketFacts): void {
    const key = clientKey(f.src, f.srcPort);
    let c = this.conns.get(key);
    const flags = f.flags;
    if ((flags & (SYN | ACK | RST)) === SYN) {
      if (c !== undefined && c.isn === f.seq && (c.inTable || c.row.end === null)) {
        if (!c.inTable) this.admit(c, f.time); // the client's retry of a SYN a limit dropped
        return;
      }
      if (c !== undefined) this.close(c, f.time); // the port again: the old connection is over (as dispatcher.ts)
      c = this.open(f, key);
      this.admit(c, f.time);
      return;
    }
    if (c === undefined || !c.inTable) {
      if (c === undefined && !this.withoutSyn.has(key)) {
        this.withoutSyn.add(key);
        this.stats.withoutSyn++;
      }
      return;
    }
    if (flags & RST) {
      this.close(c, f.time);
      return;
    }
    const s = c.stream;
    if (s !== undefined && f.payloadLength > 0) {
      if (f.cut) this.stats.cutSegments++;
      const [r, o] = [s.retransmitted, s.outOfOrder];
      if (s.add(f.seq, f.buf, f.payloadOffset, f.payloadLength)) this.advance(c, f.time);
      this.stats.retransmitted += s.retransmitted - r;
      this.stats.outOfOrder += s.outOfOrder - o;
    }
    if (flags & FIN) {
      c.finClient = true;
      if (c.finAppliance) this.close(c, f.time);
    }
  }

  /** A TCP segment from a VIP's SOCKS port to a client: only its FIN or RST matters here. */
  fromAppliance(f: PacketFacts): void {
    const c = this.conns.get(clientKey(f.dst, f.dstPort));
    if (c === undefined || !c.inTable) return;
    if (f.flags & RST) this.close(c, f.time);
    else if (f.flags & FIN) {
      c.finAppliance = true;
      if (c.finClient) this.close(c, f.time);
    }
  }

  /** Connections whose request the capture does not finish get their reason. */
  finish(): void {
    for (const c of this.conns.values()) {
      const s = c.stream;
      if (c.row.outcome !== 'incomplete' || c.row.why !== '' || s === undefined) continue;
      const p = parseSocks(s.bytes, 0, s.length, this.parse);
      c.row.why = s.length === 0 ? 'no SOCKS bytes after the SYN'
        : s.hasGap ? 'a gap in the client\'s bytes that the capture never fills'
          : p.status === SocksStatus.Negotiating ? 'a SOCKS5 greeting, but no request in the capture'
            : `${s.length} bytes of a SOCKS${p.version} handshake, not yet a request`;
    }
  }

  private open(f: PacketFacts, key: number): Conn {
    const row: Replayed = {
      client: formatAddressPort(f.src, f.srcPort), vip: formatAddress(f.dst), start: this.since(f.time), end: null,
      destination: '', diverted: '', dialect: '', alp: '', priority: null, discardEligible: null, server: '', divertedFrom: '', divertSkipped: '', outcome: 'incomplete', why: '', roundRobin: 0,
    };
    this.rows.push(row);
    const c: Conn = { row, isn: f.seq, stream: new ClientStream(f.seq, SOCKS_MAX_HANDSHAKE), synAt: f.time, server: -1, inTable: false, finClient: false, finAppliance: false };
    this.conns.set(key, c);
    return c;
  }

  /** The Connection table's limits at the SYN (flow/table.ts `create`): over one, the SYN is dropped. */
  private admit(c: Conn, time: number): void {
    const s = this.config.appliance;
    if (this.tableSize >= s.maxConnections) return this.refuse(c, `max_connections (${s.maxConnections}) reached: the SYN was dropped`);
    if (this.halfOpen >= s.maxHalfOpen) return this.refuse(c, `max_half_open (${s.maxHalfOpen}) reached: the SYN was dropped`);
    c.inTable = true;
    c.synAt = time;
    if (c.row.outcome === 'refused') c.row.why = '';
    c.row.outcome = 'incomplete';
    this.tableSize++;
    this.halfOpen++;
  }

  /** Steps 705-710 on the bytes so far (flow/socks-responder.ts, then transitions.ts `collect` and server-leg.ts `connect`). */
  private advance(c: Conn, time: number): void {
    const s = c.stream!;
    const p = parseSocks(s.bytes, 0, s.length, this.parse);
    const row = c.row;
    if (p.status === SocksStatus.Invalid) return this.reject(c, p.version === 4 || p.version === 5 ? `a malformed SOCKS${p.version} handshake` : 'not a SOCKS handshake');
    if (p.version === 5 && p.greetingEnd > 0 && p.method === METHOD_REFUSED) return this.reject(c, 'the SOCKS5 greeting offers neither "no authentication" nor username/password');
    if (p.status !== SocksStatus.Complete) return;
    row.destination = `${describeDestination(s.bytes, 0, p)}:${p.port}`;
    row.dialect = DIALECT_NAMES[clientDialect(p)];
    if (p.command !== CMD_CONNECT) return this.reject(c, `command ${p.command} is not CONNECT`);
    const settings = this.config.appliance;
    if (time - c.synAt > settings.halfOpenTimeout) return this.reject(c, `the request came ${(time - c.synAt).toFixed(1)} s after the SYN, past half_open_timeout (${settings.halfOpenTimeout} s)`);
    const st = this.stages;
    const alp = st.analyzer.alpOf(p.port);
    row.alp = st.alps.names[alp];
    row.priority = st.priorities.priorityOf(alp);
    row.discardEligible = st.priorities.isDiscardEligible(alp);
    // Figure 3: the server leg asks for the diverted destination; the ALP stays the client's.
    const q = this.q;
    q.reset();
    q.atyp = p.atyp;
    // An IPv6 destination nothing holds is in no entry (leg-diversion.ts looks it up the same way).
    const v6 = p.atyp === ATYP_IPV6 ? ADDRESSES6.lookup(s.bytes, p.hostOffset) : -1;
    const dest: Destination | undefined = p.atyp === ATYP_IPV4 ? { kind: 'ipv4', address: p.ipv4, port: p.port }
      : p.atyp === ATYP_NAME ? { kind: 'name', name: describeDestination(s.bytes, 0, p), port: p.port }
        : v6 >= 0 ? { kind: 'ipv6', address: v6, port: p.port } : undefined;
    const to = dest === undefined || st.diversions.size === 0 ? undefined : st.diversions.divert(dest);
    if (to !== undefined) {
      row.diverted = formatEndpoint(to);
      q.atyp = to.kind === 'ipv4' ? ATYP_IPV4 : to.kind === 'ipv6' ? ATYP_IPV6 : ATYP_NAME;
    }
    let need = carriers(q);
    // The client's own username/password can only be passed on in SOCKS5.
    if (p.version === 5 && p.method === METHOD_USERPASS) need &= D5;
    this.scheduler.candidates = 0;
    const chosen = st.selection.select(alp, row.priority, need, ALL_UP);
    this.halfOpen--;
    c.stream = undefined;
    if (chosen < 0) {
      row.outcome = 'no-server';
      row.why = this.whyNoServer(row.alp, q.atyp);
      return;
    }
    const sd = this.serverDiversion;
    const server = sd.divertedChoice(chosen, st.diversions, st.selection, alp, need, ALL_UP);
    if (server !== chosen) row.divertedFrom = this.config.servers[chosen].name;
    if (sd.refused >= 0) row.divertSkipped = this.config.servers[sd.refused].name;
    const srv = this.config.servers[server];
    const own = clientDialect(p);
    const leg = legDialect(q, speaks(srv), own);
    if (leg !== own && leg !== 0) row.dialect += `>${DIALECT_NAMES[leg]}`;
    row.server = srv.name;
    row.outcome = 'server';
    row.roundRobin = this.scheduler.candidates;
    c.server = server;
    this.active[server]++;
    if (this.active[server] > this.peak[server]) this.peak[server] = this.active[server];
  }

  private whyNoServer(alp: string, atyp: number): string {
    const servers = this.config.servers;
    const listing = servers.filter((s) => s.alps.all || s.alps.names.includes(alp));
    const what = atyp === ATYP_NAME ? 'a host name' : atyp === ATYP_IPV4 ? 'an IPv4 destination' : 'an IPv6 destination';
    if (listing.length > 0) return `no server for ALP ${alp} can carry ${what} in a dialect it speaks`;
    const d = servers.find((s) => s.isDefault);
    return d === undefined ? `no server for ALP ${alp}, and no default server` : `no server for ALP ${alp}, and the default server ${d.name} cannot carry ${what}`;
  }

  /** The appliance answers the client itself with a failure (socks-responder.ts `refuse`). */
  private reject(c: Conn, why: string): void {
    this.halfOpen--;
    c.stream = undefined;
    this.refuse(c, why);
  }

  private refuse(c: Conn, why: string): void {
    c.row.outcome = 'refused';
    c.row.why = why;
  }

  private close(c: Conn, time: number): void {
    if (!c.inTable) return;
    c.inTable = false;
    c.row.end = this.since(time);
    this.tableSize--;
    if (c.stream !== undefined) this.halfOpen--;
    if (c.server >= 0) this.active[c.server]--;
  }

  /** Seconds since the capture's first packet, to the microsecond. */
  since(time: number): number {
    return Math.round((time - this.first) * 1e6) / 1e6;
  }
}
