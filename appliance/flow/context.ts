import type { PacketPool } from '../device/packet-pool';
import type { ApplianceSettings, ServerRecord } from '../config/tables';
import type { TrafficAnalyzer } from '../stages/traffic-analyzer';
import type { PriorityFinder } from '../stages/priority-finder';
import type { ServerAvailability, ServerSelection } from '../stages/server-selection';
import type { AlpRegistry } from '../stages/alp-registry';
import type { DivertedAddresses } from '../divert/table';
import type { Connection } from './connection';
import type { IpDatagram } from '../wire/ip';
import type { TcpView } from '../wire/tcp';
import type { ConnectionTable } from './table';
import { SegmentBuilder } from './segment-builder';
import { Reframer } from './family';
import { isV6 } from '../addr/address';
import type { FlowStats } from '../stats/flow-stats';
import type { ConnectionObserver } from '../stats/observer';
import { serverLocal } from './openers';

/** Where the flow layer's decisions go: the forwarder implements it. */
/** The connections held from peers, taken into the table on a leg's first segment: undefined when none is held. */
export interface HeldLookup {
  fromClient(ip: number, port: number): Connection | undefined;
  fromServer(server: number, port: number): Connection | undefined;
  /**
   * While a member has just started and may not hold its peers' connections yet (their resync
   * is under way): a segment for no connection is dropped, not reset (RFC 9293 3.10.7.1 would
   * reset a connection that lives on, the peers' or its own from before its restart); its
   * sender retransmits, and by then it is held.
   */
  readonly quiet: boolean;
}

export interface Sink {
  readonly pool: PacketPool;
  /** A datagram for the intranet (the TUN). The slot is the sink's from here on. */
  toIntranet(slot: number, len: number): void;
  /**
   * A datagram for server `server`, through its output queue and congestion control, judged
   * by its connection's ALP id, priority and discard eligibility; `own`: the appliance's.
   */
  toServer(server: number, slot: number, len: number, alp: number, priority: number, discardEligible: boolean, own: boolean): void;
}

/** What the flow layer reports about servers, and asks of them. */
export interface Health extends ServerAvailability {
  failed(server: number, why: string): void;
  succeeded(server: number): void;
  /** New data came from the server through the splice: its neighbour entry works (reachability.ts). */
  progressed(server: number): void;
  /** The active check (health/checker.ts) took the server down, or brought it up. */
  checkDown(server: number, down: boolean): void;
  /** The active check passes `rise` times in a row: what passive failures held against it goes. */
  checkPassed(server: number): void;
}

/** The stages built from one configuration; swapped whole on reload. */
export interface Stages {
  /** ALP ids, shared by every configuration of the process's life. */
  alps: AlpRegistry;
  analyzer: TrafficAnalyzer;
  priorities: PriorityFinder;
  selection: ServerSelection;
  settings: ApplianceSettings;
  /** The server records of this configuration (credentials may change on reload). */
  servers: ServerRecord[];
  /** The diverted-address table: diverted.ini, then what the operator changes live. */
  diversions: DivertedAddresses;
}

/** Window scale the appliance announces to clients; the splice rescales if a server differs. */
export const OUR_WSCALE = 7;
export const RECEIVE_WINDOW = 65535;
/** How long a closed or refused connection stays to absorb retransmitted FINs and ACKs. */
export const LINGER = 2;

/** Counters of the connection path, as `ctl status` shows them. */
function flowStats() {
  return {
    spliced: 0, refused: 0, retried: 0, translated: 0, diverted: 0, resetsSent: 0, unknownServerSegments: 0, handshakeTimeouts: 0,
    idleTimeouts: 0, poolExhausted: 0, replayGaveUp: 0, abandoned: 0, closed: 0, reset: 0, credentialsRefused: 0, movedReset: 0,
    /** New connections a server diversion gave another server; and those it could not (the target could not take them). */
    serverDiverted: 0, serverDivertSkipped: 0,
    /** Segments of a connection across families that their slot could not hold with the longer header. */
    reframeDropped: 0,
    /** Segments steered to this worker for a connection another worker owns (workers > 1: appliance/workers/). */
    misrouted: 0,
  };
}

/**
 * What the legs share: the table, the tables in force, the segment builder and the sink, the
 * set of connections with a timer running, and the counters. One per dispatcher.
 */
export class FlowContext {
  readonly builder: SegmentBuilder;
  /** The other family's header for the segments of a connection whose legs differ (family.ts). */
  readonly reframer: Reframer;
  /** Connections with a timer running: handshakes, replays, lingering closes. */
  readonly watched = new Set<Connection>();
  /** Whether some server is reached over IPv6: a client's segments may then cross an IPv6 leg. */
  v6Servers: boolean;
  readonly stats = flowStats();
  now = 0;
  /**
   * A finer clock for the statistics, in microseconds, set once per wake-up: an int32 that
   * wraps every 71 minutes, which differences of a few seconds do not notice.
   */
  us = 0;
  /** Who hears of each connection's end (the aggregates first, then the flow export). */
  readonly observers: ConnectionObserver[] = [];
  /** The HA pair's sync when ha.ini is set (sync/pair.ts): hears of each connection once it is spliced and settled, and of its closes. */
  sync: { spliced(c: Connection): void; changed(c: Connection): void } | undefined = undefined;
  /** Where a segment for no connection in the table may find one an ECMP peer synced (sync/adoption.ts). */
  held: HeldLookup | undefined = undefined;

  constructor(
    readonly sink: Sink,
    readonly health: Health,
    public stages: Stages,
    readonly table: ConnectionTable,
    /** The MSS over IPv4 legs: the smaller MTU of the legs, less 40 (legMss for IPv6). */
    readonly mss: number,
    readonly flows: FlowStats,
  ) {
    this.builder = new SegmentBuilder(sink.pool);
    this.reframer = new Reframer(sink.pool);
    this.v6Servers = stages.servers.some((s) => isV6(s.address));
  }

  /**
   * The MSS for segments that may cross an IPv6 leg (`v6`): its header is 20 bytes longer
   * than IPv4's, so each leg's segments fit its MTU whichever family the other leg is.
   */
  legMss(v6: boolean): number {
    return v6 ? this.mss - 20 : this.mss;
  }

  /** The MSS offered to a client: its segments go on to a server leg of either family. */
  clientMss(c: Connection): number {
    return this.legMss(this.v6Servers || isV6(c.clientIp));
  }

  /** The MSS of a connection's server leg: what the server sends goes on over the client's leg. */
  serverMss(c: Connection): number {
    return this.legMss(isV6(c.clientIp) || isV6(this.stages.servers[c.server].address));
  }

  /** A connection's identity towards its server, from the records of the tables in force. */
  server(c: Connection): ServerRecord {
    return this.stages.servers[c.server];
  }

  /**
   * A segment the splice rewrote, to the server, in the server leg's family: a connection
   * whose legs differ gets the other header first (family.ts). One its slot cannot hold with
   * the longer header (a sender past the MSS it was offered) is dropped and counted.
   */
  forwardToServer(c: Connection, srv: ServerRecord, slot: number, ip: IpDatagram, tcp: TcpView, len: number): void {
    if (ip.v6 !== isV6(srv.address) && (len = this.reframer.reframe(slot, ip, tcp, serverLocal(c, srv), srv.address)) < 0) {
      this.stats.reframeDropped++;
      this.sink.pool.give(slot);
      return;
    }
    this.sink.toServer(c.server, slot, len, c.alp, c.priority, c.discardEligible, false);
  }

  /** A segment the splice rewrote, to the client, in the client leg's family. */
  forwardToClient(c: Connection, slot: number, ip: IpDatagram, tcp: TcpView, len: number): void {
    if (ip.v6 !== isV6(c.clientIp) && (len = this.reframer.reframe(slot, ip, tcp, c.vip, c.clientIp)) < 0) {
      this.stats.reframeDropped++;
      this.sink.pool.give(slot);
      return;
    }
    this.sink.toIntranet(slot, len);
  }

  /** A segment the appliance built itself, to the client; counts a pool that ran dry. */
  emitToClient(slot: number): void {
    if (slot < 0) {
      this.stats.poolExhausted++;
      return;
    }
    this.sink.toIntranet(slot, this.builder.lastLength);
  }

  /** A segment the appliance built itself, to the connection's server: protected from discards. */
  emitToServer(c: Connection, slot: number): void {
    if (slot < 0) {
      this.stats.poolExhausted++;
      return;
    }
    this.sink.toServer(c.server, slot, this.builder.lastLength, c.alp, c.priority, c.discardEligible, true);
  }
}
