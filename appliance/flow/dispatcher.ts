import type { ServerRecord } from '../config/tables';
import type { Ipv4View } from '../wire/ipv4';
import { ACK, FIN, RST, SYN, type TcpOptions, type TcpView } from '../wire/tcp';
import { ConnState, type Connection } from './connection';
import { ConnectionTable } from './table';
import { rewriteToClient, rewriteToServer } from './splice';
import { Census } from './census';
import { ClientLeg } from './client-leg';
import { FlowContext, LINGER, type Health, type Sink, type Stages } from './context';
import { Handshaken, SocksResponder } from './socks-responder';
import { FORWARD, REPLAY_RTO, ServerLeg, SYN_RTO } from './server-leg';

export type { Health, Sink, Stages } from './context';

/**
 * What happens to a connection: the columns of its transition table. Client segments are
 * told apart by their flags (RFC 9293 3.10.7), server segments are one event whose meaning the
 * state gives, and the clock is the last.
 */
const enum Ev {
  ClientSyn = 0,
  Client = 1,
  ClientFin = 2,
  ClientRst = 3,
  Server = 4,
  Timer = 5,
}
const EVENTS = 6;

/** A transition: true when it took the packet's slot (forwarded it), false to have it released. */
type Transition = (c: Connection) => boolean;

/**
 * The connection path: the Socks ALP Connection table and each connection's life as an
 * explicit state machine (state x event -> transition, the table below), over four parts:
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
  private readonly sweep: Census;
  private readonly transitions: (Transition | undefined)[];

  // The packet being handled, for the transitions (set per packet; nothing allocated).
  private slot = -1;
  private ip!: Ipv4View;
  private tcp!: TcpView;
  private opts!: TcpOptions;
  private len = 0;
  private readonly expireIdle = (c: Connection): void => {
    this.cx.stats.idleTimeouts++;
    this.table.stats.expiredIdle++;
    this.remove(c);
  };

  constructor(sink: Sink, health: Health, stages: Stages, servers: ServerRecord[], mss: number) {
    const s = stages.settings;
    this.table = new ConnectionTable(servers.length, s.maxConnections, s.maxHalfOpen);
    this.cx = new FlowContext(sink, health, stages, this.table, mss);
    this.client = new ClientLeg(this.cx);
    this.responder = new SocksResponder(this.cx, this.client);
    this.leg = new ServerLeg(this.cx, this.client, this.responder);
    this.sweep = new Census(this.table.byClient, servers.length, stages.alps.size);
    this.transitions = this.buildTransitions();
  }

  /**
   * The table. Rows are states (connection.ts), columns events; an empty cell ignores the
   * event. Each cell names the patent step (figure 7: 702-714; figure 10: 1001-1008) or the
   * RFC it follows.
   */
  private buildTransitions(): (Transition | undefined)[] {
    const t: (Transition | undefined)[] = new Array(7 * EVENTS).fill(undefined);
    const row = (state: ConnState, cells: Partial<Record<Ev, Transition>>) => {
      for (const [ev, fn] of Object.entries(cells)) t[state * EVENTS + Number(ev)] = fn;
    };
    row(ConnState.SynReceived, {
      [Ev.ClientSyn]: this.synAgain, //               RFC 9293 3.10.7.4: a retransmitted SYN, answered again
      [Ev.Client]: this.established, //               step 705: the handshake completes; bytes may come with it
      [Ev.ClientFin]: this.established,
      [Ev.ClientRst]: this.dropEntry, //              RFC 9293 3.10.7.4: RST in SYN-RECEIVED
      [Ev.Timer]: this.halfOpenTimeout, //            half_open_timeout: a SYN flood cannot fill the table
    });
    row(ConnState.Collecting, {
      [Ev.Client]: this.collect, //                   steps 705-710: reassemble, answer SOCKS5, classify, select
      [Ev.ClientFin]: this.clientGaveUp, //           the client left before the splice
      [Ev.ClientRst]: this.dropEntry,
      [Ev.Timer]: this.halfOpenTimeout,
    });
    row(ConnState.Connecting, {
      [Ev.Client]: this.collectMore, //               early data waits with the request
      [Ev.ClientFin]: this.clientGaveUp,
      [Ev.ClientRst]: this.dropEntry,
      [Ev.Server]: this.serverAnswersSyn, //          step 1008's server: SYN-ACK, RST or a stale 4-tuple (RFC 9293 3.10.7.3)
      [Ev.Timer]: this.synTimer, //                   SYN retransmission, then connect_timeout: the next server
    });
    row(ConnState.Replaying, {
      [Ev.Client]: this.collectMore,
      [Ev.ClientFin]: this.clientGaveUp,
      [Ev.ClientRst]: this.clientResetBeforeSplice,
      [Ev.Server]: this.serverAnswersHandshake, //    the server's answers checked against the client's
      [Ev.Timer]: this.replayTimer, //                the replay retransmitted until acknowledged
    });
    row(ConnState.Spliced, {
      [Ev.Client]: this.tailToServer, //              step 711: forward, while the handshake's tail is settled
      [Ev.ClientFin]: this.tailToServer,
      [Ev.ClientRst]: this.tailToServer,
      [Ev.Server]: this.tailToClient, //              the server's reply translated, then forwarded
      [Ev.Timer]: this.replayTimer,
    });
    row(ConnState.Refused, {
      [Ev.ClientFin]: this.ackFin, //                 the client closes cleanly after the refusal
      [Ev.Timer]: this.lingerTimer,
    });
    row(ConnState.Closed, {
      [Ev.Client]: this.tailToServer, //              step 714: retransmissions during the linger still pass
      [Ev.ClientFin]: this.tailToServer,
      [Ev.ClientRst]: this.tailToServer,
      [Ev.Server]: this.tailToClient,
      [Ev.Timer]: this.lingerTimer,
    });
    return t;
  }

  private on(c: Connection, ev: Ev): boolean {
    const fn = this.transitions[c.state * EVENTS + ev];
    return fn !== undefined && fn(c);
  }

  get stats() {
    return this.cx.stats;
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
  }

  /** Step 702, with the tables in force. */
  isSocks(dstPort: number): boolean {
    return this.cx.stages.analyzer.isSocks(dstPort);
  }

  // ---------------------------------------------------------------- the two entry points

  fromClient(slot: number, ip: Ipv4View, tcp: TcpView, o: TcpOptions, len: number): void {
    const flags = tcp.flags;
    let c = this.table.lookupClient(ip.src, tcp.srcPort);
    if (c !== undefined && (flags & (SYN | ACK | RST)) === SYN && tcp.seq !== c.clientIsn) {
      // A new connection from a port whose old entry still lingers (the server closed first,
      // so the client kept no TIME-WAIT): the old one is over; this SYN starts afresh.
      this.abandon(c);
      c = undefined;
    }
    if (c === undefined) {
      if ((flags & (SYN | ACK | RST)) === SYN) this.client.accept(ip, tcp, o); // step 705
      else if ((flags & RST) === 0) this.client.resetUnknown(ip, tcp); // RFC 9293 3.10.7.1
      this.cx.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.cx.now;
    c.packetsIn++;
    c.bytesIn += len;
    if (c.hs === null && c.server >= 0) {
      // The splice fast path (step 711): rewrite in place, note a close, queue for the server.
      const srv = this.cx.server(c);
      rewriteToServer(ip, tcp, o, c, srv.local.address, srv.address, srv.port);
      this.trackClose(c, flags, true);
      this.cx.sink.toServer(c.server, slot, len, c.alp, c.priority, c.discardEligible, false);
      return;
    }
    const ev = flags & RST ? Ev.ClientRst : (flags & (SYN | ACK)) === SYN ? Ev.ClientSyn : flags & FIN ? Ev.ClientFin : Ev.Client;
    this.handle(c, ev, slot, ip, tcp, o, len);
  }

  fromServer(server: number, slot: number, ip: Ipv4View, tcp: TcpView, o: TcpOptions, len: number): void {
    const srv = this.cx.stages.servers[server];
    const c = tcp.srcPort === srv.port && ip.src === srv.address ? this.table.lookupServer(server, tcp.dstPort) : undefined;
    if (c === undefined) {
      this.cx.stats.unknownServerSegments++;
      if ((tcp.flags & RST) === 0 && tcp.srcPort === srv.port) this.leg.resetUnknown(server, ip, tcp);
      this.cx.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.cx.now;
    c.packetsOut++;
    c.bytesOut += len;
    if (c.hs === null) {
      // The splice fast path, the other way: rewrite in place, note a close, queue for the client.
      rewriteToClient(ip, tcp, o, c, this.cx.stages.analyzer.socksPort);
      this.trackClose(c, tcp.flags, false);
      this.cx.sink.toIntranet(slot, len);
      return;
    }
    this.handle(c, Ev.Server, slot, ip, tcp, o, len);
  }

  private handle(c: Connection, ev: Ev, slot: number, ip: Ipv4View, tcp: TcpView, o: TcpOptions, len: number): void {
    this.slot = slot;
    this.ip = ip;
    this.tcp = tcp;
    this.opts = o;
    this.len = len;
    const taken = this.on(c, ev);
    this.slot = -1;
    if (!taken) this.cx.sink.pool.give(slot);
  }

  // ---------------------------------------------------------------- transitions: the client leg

  private readonly synAgain: Transition = (c) => {
    if (this.tcp.seq === c.clientIsn) this.client.synAck(c);
    return false;
  };

  private readonly established: Transition = (c) => {
    const tcp = this.tcp;
    if ((tcp.flags & ACK) === 0 || tcp.ack !== c.hs!.ourNext) return false;
    this.table.setState(c, ConnState.Collecting);
    return this.collect(c);
  };

  /** Steps 705-710: the bytes in, the SOCKS answers, then the ALP and Server ALP Selection. */
  private readonly collect: Transition = (c) => {
    if (!this.client.collect(c, this.tcp)) return false;
    const r = this.responder.advance(c);
    if (r !== Handshaken.Request) return false;
    // Steps 707-708: the ALP from DSTPORT, its priority and discard eligibility, kept with the
    // connection for its life; then Server ALP Selection (figure 10) and the server leg.
    const st = this.cx.stages;
    c.alp = st.analyzer.alpOf(this.responder.parse.port);
    c.priority = st.priorities.priorityOf(c.alp);
    c.discardEligible = st.priorities.isDiscardEligible(c.alp);
    this.leg.connect(c);
    return false;
  };

  /** Bytes after the request, before the splice: kept and acknowledged; the replay takes them. */
  private readonly collectMore: Transition = (c) => {
    if (this.client.collect(c, this.tcp)) this.client.ack(c);
    return false;
  };

  /** The client gave up before the splice: nothing to keep on either leg. */
  private readonly clientGaveUp: Transition = (c) => {
    if (c.state !== ConnState.Collecting) this.leg.resetLeg(c);
    const tcp = this.tcp;
    this.client.to(c, c.hs!.ourNext, (tcp.seq + tcp.seqLength) >>> 0, RST | ACK);
    this.remove(c);
    return false;
  };

  private readonly clientResetBeforeSplice: Transition = (c) => {
    this.leg.resetLeg(c);
    this.remove(c);
    return false;
  };

  private readonly dropEntry: Transition = (c) => {
    this.remove(c);
    return false;
  };

  private readonly ackFin: Transition = (c) => {
    const tcp = this.tcp;
    if (c.hs !== null) this.client.to(c, c.hs.ourNext, (tcp.seq + tcp.seqLength) >>> 0, ACK);
    return false;
  };

  /**
   * Spliced, with the handshake's state still kept: the client's ACK of what the appliance
   * answered it is noted; a retransmission that starts inside the client's own handshake is
   * answered here (those bytes are not the server's to see); the rest is forwarded.
   */
  private readonly tailToServer: Transition = (c) => {
    const tcp = this.tcp;
    const h = c.hs!;
    this.client.noteAck(c, tcp);
    if (tcp.payloadLength > 0 && ((tcp.seq - c.clientIsn - 1 - h.requestEnd) | 0) < 0) {
      this.client.resend(c);
      return false;
    }
    const srv = this.cx.server(c);
    if (c.server < 0) return false;
    rewriteToServer(this.ip, tcp, this.opts, c, srv.local.address, srv.address, srv.port);
    this.trackClose(c, tcp.flags, true);
    this.cx.sink.toServer(c.server, this.slot, this.len, c.alp, c.priority, c.discardEligible, false);
    this.settled(c);
    return true;
  };

  // ---------------------------------------------------------------- transitions: the server leg

  private readonly serverAnswersSyn: Transition = (c) => {
    this.leg.onConnecting(c, this.ip, this.tcp, this.opts);
    return false;
  };

  private readonly serverAnswersHandshake: Transition = (c) => {
    this.leg.onReplaying(c, this.tcp);
    return false;
  };

  /** Spliced, with the handshake's state still kept: the server's reply, then forwarding. */
  private readonly tailToClient: Transition = (c) => {
    const tcp = this.tcp;
    const r = this.leg.onSpliced(c, tcp);
    if (r !== FORWARD) {
      if (r & FIN) this.trackClose(c, FIN, false);
      this.settled(c);
      return false;
    }
    rewriteToClient(this.ip, tcp, this.opts, c, this.cx.stages.analyzer.socksPort);
    this.trackClose(c, tcp.flags, false);
    this.cx.sink.toIntranet(this.slot, this.len);
    this.settled(c);
    return true;
  };

  /**
   * Both ends have everything the appliance sent in the other's stead (the server the replay,
   * the client the reply): the handshake's state goes; the splice needs none of it.
   */
  private settled(c: Connection): void {
    const h = c.hs;
    if (h === null || c.state !== ConnState.Spliced || !h.replied) return;
    if (h.serverAcked < h.replayedTo || h.ourAcked < h.sentLength) return;
    c.hs = null;
    this.cx.watched.delete(c);
  }

  // ---------------------------------------------------------------- transitions: the clock

  private readonly halfOpenTimeout: Transition = (c) => {
    if (this.cx.now < c.hs!.deadline) return false;
    this.cx.stats.handshakeTimeouts++;
    this.table.stats.expiredHalfOpen++;
    this.client.reset(c);
    this.remove(c);
    return false;
  };

  private readonly synTimer: Transition = (c) => {
    const h = c.hs!;
    const now = this.cx.now;
    if (now < h.deadline) return false;
    const timeout = this.cx.stages.settings.connectTimeout;
    if (now - h.connectStarted >= timeout) {
      this.leg.failed(c, `did not answer within ${timeout} s`);
    } else {
      h.retries++;
      h.deadline = now + (SYN_RTO << h.retries);
      this.leg.syn(c);
    }
    return false;
  };

  private readonly replayTimer: Transition = (c) => {
    const h = c.hs!;
    const now = this.cx.now;
    if (now < h.deadline || h.serverAcked >= h.replayedTo) return false;
    if (++h.retries > 6) {
      this.cx.stats.replayGaveUp++;
      this.leg.resetLeg(c);
      this.client.reset(c);
      this.remove(c);
      return false;
    }
    h.deadline = now + REPLAY_RTO * (1 << h.retries);
    this.leg.send(c, h.serverAcked, h.replayedTo);
    return false;
  };

  private readonly lingerTimer: Transition = (c) => {
    if (this.cx.now >= c.closeAt) this.remove(c);
    return false;
  };

  /** Runs the timers of every connection that has one; then a share of the idle sweep. */
  tick(now: number): void {
    this.cx.now = now;
    for (const c of this.cx.watched) {
      if (c.hs === null) {
        if (now >= c.closeAt) this.remove(c); // closed after the handshake was dropped
        continue;
      }
      this.on(c, Ev.Timer);
    }
    this.sweep.step(now, this.cx.stages.settings.idleTimeout, this.expireIdle);
  }

  // ---------------------------------------------------------------- endings

  /** Step 714: FIN from both sides, or a RST, closes the entry after a short linger. */
  private trackClose(c: Connection, flags: number, fromClient: boolean): void {
    if ((flags & (FIN | RST)) === 0) return;
    if (flags & RST) {
      this.cx.stats.reset++;
      c.finFromClient = c.finFromServer = true;
    } else if (fromClient) c.finFromClient = true;
    else c.finFromServer = true;
    if (c.finFromClient && c.finFromServer && c.state !== ConnState.Closed) {
      this.cx.stats.closed++;
      this.table.setState(c, ConnState.Closed);
      c.closeAt = this.cx.now + LINGER;
      this.cx.watched.add(c);
    }
  }

  /** Ends a connection the client has moved on from, telling a server leg still open. */
  private abandon(c: Connection): void {
    this.cx.stats.abandoned++;
    if (c.state === ConnState.Spliced || c.state === ConnState.Replaying) this.leg.resetLeg(c);
    this.remove(c);
  }

  private remove(c: Connection): void {
    this.cx.watched.delete(c);
    c.hs = null;
    this.table.remove(c);
  }
}
