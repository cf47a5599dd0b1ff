import type { ServerRecord } from '../config/tables';
import type { IpDatagram } from '../wire/ip';
import { ACK, FIN, RST, SYN, type TcpOptions, type TcpView } from '../wire/tcp';
import type { Connection } from './connection';
import { ConnectionTable } from './table';
import { rewriteToClient, rewriteToServer } from './splice';
import { Census } from './census';
import { ClientLeg } from './client-leg';
import { SegmentGuard } from './guard';
import { HealthChecker } from '../health/checker';
import { steeredQueue } from '../device/steering';
import { FlowContext, type Health, type HeldLookup, type Sink, type Stages } from './context';
import { SocksResponder } from './socks-responder';
import { ServerLeg } from './server-leg';
import { ServerReply } from './server-reply';
import { Clock } from './clock';
import { Ev, EVENTS, transitionTable, type Transition } from './machine';
import { Ending } from './ending';
import { Transitions } from './transitions';
import { EndReason } from '../stats/end-reason';
import { FlowStats } from '../stats/flow-stats';
import type { ConnectionObserver } from '../stats/observer';
import { sized } from '../stats/passive';
import { serverLocal } from './openers';

export type { Health, Sink, Stages } from './context';

/**
 * The connection path: the Socks ALP Connection table and each connection's life as an
 * explicit state machine (state x event -> transition: the table in machine.ts, the transitions
 * in transitions.ts), over four parts:
 * the client leg (client-leg.ts), the SOCKS responder (socks-responder.ts), the server leg
 * (server-leg.ts) and the splice fast path (`fromClient`/`fromServer`'s first lines, and
 * splice.ts), which established connections take without the table.
 */
export class Dispatcher {
  readonly table: ConnectionTable;
  private readonly cx: FlowContext;
  private readonly client: ClientLeg;
  private readonly responder: SocksResponder;
  private readonly leg: ServerLeg;
  /** RFC 5961 on both legs. */
  readonly guard: SegmentGuard;
  /** The active health checks through the servers. */
  readonly checker: HealthChecker;
  private readonly reply: ServerReply;
  private readonly ending: Ending;
  private readonly sweep: Census;
  private readonly transitions: (Transition | undefined)[];

  /**
   * With several workers (appliance/workers/), which share of the connections this one owns:
   * the client ports and allocated server-leg ports that the devices' steering program
   * (device/steering.ts) delivers to it. A follower runs no health checks
   * (the first worker's verdicts reach it).
   */
  private shard = { index: 0, count: 1, follower: false };
  /** Sends the datagram in `slot` (`length` bytes of IP) to worker `owner` (workers/), which takes it as read from its TUN. */
  handOver: ((slot: number, length: number, owner: number) => void) | undefined;

  /** The transitions and the packet they run on (transitions.ts). */
  private readonly tx: Transitions;
  private readonly expireIdle = (c: Connection): void => {
    this.cx.stats.idleTimeouts++;
    this.table.stats.expiredIdle++;
    this.ending.end(c, EndReason.IdleTimeout);
  };

  /** `serverBytes`: the bytes to and from server `i` since start, for its window's throughput (the egress counts them). */
  constructor(
    sink: Sink, health: Health, stages: Stages, servers: ServerRecord[], mss: number, log: (message: string) => void = () => undefined,
    serverBytes: (server: number) => number = () => 0,
  ) {
    const s = stages.settings;
    this.table = new ConnectionTable(servers.length, s.maxConnections, s.maxHalfOpen);
    this.sweep = new Census(this.table, servers.length, stages.alps.size);
    const flows = new FlowStats(servers.length, stages.alps.size, 0, () => this.sweep.counts, serverBytes);
    this.cx = new FlowContext(sink, health, stages, this.table, mss, flows);
    this.cx.observers.push(flows);
    this.client = new ClientLeg(this.cx);
    this.responder = new SocksResponder(this.cx, this.client);
    this.leg = new ServerLeg(this.cx, this.responder, log);
    this.reply = new ServerReply(this.cx, this.client, this.leg, this.responder);
    this.ending = new Ending(this.cx, this.client, this.leg);
    this.guard = new SegmentGuard(this.cx, this.client, this.leg);
    this.checker = new HealthChecker(this.cx, servers.length, log);
    const clock = new Clock(this.cx, this.client, this.leg, (c, why) => this.ending.end(c, why));
    this.tx = new Transitions(this.cx, this.table, this.client, this.responder, this.leg, this.reply, this.ending,
      (c, ev) => this.on(c, ev), (c, len) => this.counted(c, len));
    const tx = this.tx;
    this.transitions = transitionTable({
      synAgain: tx.synAgain, established: tx.established, collect: tx.collect, collectMore: tx.collectMore,
      clientGaveUp: tx.clientGaveUp, clientResetBeforeSplice: tx.clientResetBeforeSplice, dropEntry: tx.dropEntry,
      ackFin: tx.ackFin, tailToServer: tx.tailToServer, tailToClient: tx.tailToClient,
      serverAnswersSyn: tx.serverAnswersSyn, serverAnswersHandshake: tx.serverAnswersHandshake,
      halfOpenTimeout: clock.halfOpenTimeout, synTimer: clock.synTimer, replayTimer: clock.replayTimer, lingerTimer: clock.lingerTimer,
    });
  }

  private on(c: Connection, ev: Ev): boolean {
    const fn = this.transitions[c.state * EVENTS + ev];
    return fn !== undefined && fn(c);
  }

  get stats() {
    return this.cx.stats;
  }

  /** The per-server and per-ALP figures (stats/flow-stats.ts). */
  get flowStats(): FlowStats {
    return this.cx.flows;
  }

  /** `s` hears of every connection once settled, and of its end (issue 16's sync, sync/pair.ts). */
  sync(s: { spliced(c: Connection): void; changed(c: Connection): void } & ConnectionObserver): void {
    this.cx.sync = s;
    this.cx.observers.push(s);
  }

  /** Segments for no connection of the table look for one in `h` (an ECMP member's, sync/adoption.ts). */
  adoptFrom(h: HeldLookup): void {
    this.cx.held = h;
  }

  /** `o` hears of every connection's end from now on (the flow export). */
  observe(o: ConnectionObserver): void {
    this.cx.observers.push(o);
  }

  /**
   * The time, once per wake-up: the statistics' microsecond clock (FlowContext.us) and the
   * tables' seconds, so that a connection's first and last datagram are timed to the wake-up
   * that read them, not to the last 100 ms tick.
   */
  stamp(us: number, now = this.cx.now): void {
    this.cx.us = us;
    this.cx.now = now;
  }

  /** Connections with a timer running (handshakes, unacknowledged replays, lingering closes). */
  get watching(): number {
    return this.cx.watched.size;
  }

  /** What the operators' views count over the table (census.ts). */
  get census() {
    return this.sweep.counts;
  }

  /**
   * New tables apply to new connections; established ones keep their server, their ALP id
   * and the priority and discard eligibility it had when they were classified.
   */
  reconfigure(stages: Stages): void {
    this.cx.stages = stages;
    this.table.setLimits(stages.settings.maxConnections, stages.settings.maxHalfOpen);
    this.sweep.growAlps(stages.alps.size);
    this.cx.flows.growAlps(stages.alps.size);
  }

  /** The diverted-address table in force, which the operator may change live. */
  get diversions() {
    return this.cx.stages.diversions;
  }

  /**
   * `move` for SOCKS connections after the diverted-address table changed (ending.ts):
   * returns how many were reset on both legs.
   */
  moveDiverted(): number {
    return this.ending.moveDiverted();
  }

  /** Server `server` cannot be reached: handshakes under way towards it fail over now (ending.ts). */
  serverGone(server: number, why: string): void {
    this.ending.serverGone(server, why);
  }

  /** The appliance stops: every connection still in the table ends now, for the observers' records. */
  endAll(): void {
    this.ending.endAll();
  }

  /** Step 702, with the tables in force. */
  isSocks(dstPort: number): boolean {
    return this.cx.stages.analyzer.isSocks(dstPort);
  }

  // ---------------------------------------------------------------- the two entry points

  fromClient(slot: number, ip: IpDatagram, tcp: TcpView, o: TcpOptions, len: number): void {
    const flags = tcp.flags;
    let c = this.table.lookupClient(ip.src, tcp.srcPort);
    // An ECMP peer's connection whose flow the router moved here (sync/adoption.ts).
    if (c === undefined && (flags & (SYN | ACK | RST)) !== SYN && this.cx.held !== undefined) c = this.cx.held.fromClient(ip.src, tcp.srcPort);
    // RFC 5961: resets and SYNs on a synchronized connection, checked before anything else.
    if (c !== undefined && flags & (RST | SYN) && this.guard.fromClient(c, tcp, flags)) {
      this.cx.sink.pool.give(slot);
      return;
    }
    if (c !== undefined && (flags & (SYN | ACK | RST)) === SYN && tcp.seq !== c.clientIsn) {
      // A new connection from a port whose old entry still lingers (the server closed first,
      // so the client kept no TIME-WAIT): the old one is over; this SYN starts afresh.
      this.ending.abandon(c);
      c = undefined;
    }
    if (c === undefined) {
      const owner = this.shard.count > 1 ? steeredQueue(tcp.srcPort, this.shard.count) : 0;
      if (owner !== this.shard.index) {
        // Another worker's client: only a datagram the steering could not read a port of (a
        // reassembled one, IPv6 behind extension headers) comes here. Handed over to the
        // worker that holds (or will hold) the connection, so that it is never split.
        this.cx.stats.misrouted++;
        this.handOver?.(slot, ip.totalLength, owner);
        this.cx.sink.pool.give(slot);
        return;
      }
      if ((flags & (SYN | ACK | RST)) === SYN) this.client.accept(ip, tcp, o); // step 705
      else if ((flags & RST) === 0 && !this.cx.held?.quiet) this.client.resetUnknown(ip, tcp); // RFC 9293 3.10.7.1
      this.cx.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.cx.now;
    c.packetsIn++;
    c.bytesIn += len;
    c.flagsIn |= flags;
    sized(c, len);
    if (c.hs === null && c.server >= 0) {
      // The splice fast path (step 711): rewrite in place, note a close, queue for the server.
      if (!this.guard.inWindowFromClient(c, tcp)) {
        this.cx.sink.pool.give(slot);
        return;
      }
      const srv = this.cx.server(c);
      this.counted(c, len);
      rewriteToServer(ip, tcp, o, c, serverLocal(c, srv), srv.address, srv.port, this.cx.us);
      this.ending.trackClose(c, flags, true);
      this.cx.forwardToServer(c, srv, slot, ip, tcp, len);
      return;
    }
    const ev = flags & RST ? Ev.ClientRst : (flags & (SYN | ACK)) === SYN ? Ev.ClientSyn : flags & FIN ? Ev.ClientFin : Ev.Client;
    this.handle(c, ev, slot, ip, tcp, o, len);
  }

  fromServer(server: number, slot: number, ip: IpDatagram, tcp: TcpView, o: TcpOptions, len: number): void {
    const srv = this.cx.stages.servers[server];
    const fromServer = tcp.srcPort === srv.port && ip.src === srv.address;
    let c = fromServer ? this.table.lookupServer(server, tcp.dstPort) : undefined;
    // An ECMP peer's connection, its server's replies answered here now (sync/members.ts).
    if (c === undefined && fromServer && this.cx.held !== undefined && !this.checker.owns(server, tcp.dstPort)) c = this.cx.held.fromServer(server, tcp.dstPort);
    if (c === undefined) {
      // A health check's port is taken from the table but holds no connection.
      if (fromServer && this.checker.owns(server, tcp.dstPort)) {
        this.checker.receive(server, tcp);
        this.cx.sink.pool.give(slot);
        return;
      }
      if (this.shard.count > 1 && steeredQueue(tcp.dstPort, this.shard.count) !== this.shard.index) this.cx.stats.misrouted++;
      else this.cx.stats.unknownServerSegments++;
      if ((tcp.flags & RST) === 0 && tcp.srcPort === srv.port && !this.cx.held?.quiet) this.leg.resetUnknown(server, ip, tcp);
      this.cx.sink.pool.give(slot);
      return;
    }
    if (tcp.flags & (RST | SYN) && this.guard.fromServer(c, tcp, tcp.flags)) {
      this.cx.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.cx.now;
    c.packetsOut++;
    c.bytesOut += len;
    c.flagsOut |= tcp.flags;
    sized(c, len);
    if (c.hs === null) {
      // The splice fast path, the other way: rewrite in place, note a close, queue for the client.
      if (!this.guard.inWindowFromServer(c, tcp)) {
        this.cx.sink.pool.give(slot);
        return;
      }
      const before = c.downNext;
      this.counted(c, len);
      rewriteToClient(ip, tcp, o, c, this.cx.stages.analyzer.socksPort, this.cx.us);
      if (c.downNext !== before) this.cx.health.progressed(c.server);
      this.ending.trackClose(c, tcp.flags, false);
      this.cx.forwardToClient(c, slot, ip, tcp, len);
      return;
    }
    this.handle(c, Ev.Server, slot, ip, tcp, o, len);
  }

  private handle(c: Connection, ev: Ev, slot: number, ip: IpDatagram, tcp: TcpView, o: TcpOptions, len: number): void {
    const tx = this.tx;
    tx.slot = slot;
    tx.ev = ev;
    tx.ip = ip;
    tx.tcp = tcp;
    tx.opts = o;
    tx.len = len;
    const taken = this.on(c, ev);
    tx.slot = -1;
    if (!taken) this.cx.sink.pool.give(slot);
  }

  /** Runs the timers of every connection that has one; then a share of the idle sweep. */
  tick(now: number): void {
    this.cx.now = now;
    for (const c of this.cx.watched) {
      if (c.hs === null) {
        if (now >= c.closeAt) this.ending.end(c, EndReason.Fin); // closed after the handshake was dropped
        continue;
      }
      this.on(c, Ev.Timer);
    }
    this.sweep.step(now, this.cx.stages.settings.idleTimeout, this.expireIdle);
    this.cx.flows.tick(now);
    if (!this.shard.follower) this.checker.tick(now);
  }

  /** Worker `index` of `count` (appliance/workers/): its share of client and server-leg ports (steeredQueue). */
  setShard(index: number, count: number): void {
    this.shard = { index, count, follower: index > 0 };
    this.table.partition(index, count);
  }

  // ---------------------------------------------------------------- endings

  /** Bytes forwarded for a connection's ALP, its window's throughput (stats/flow-stats.ts; servers' bytes are the egress's). */
  private counted(c: Connection, len: number): void {
    if (c.alp >= 0) this.cx.flows.alpBytes[c.alp] += len;
  }
}
