import type { PacketPool } from '../device/packet-pool';
import type { ApplianceSettings, ServerRecord } from '../config/tables';
import type { Ipv4View } from '../wire/ipv4';
import { ACK, FIN, PSH, RST, SYN, type TcpOptions, type TcpView } from '../wire/tcp';
import type { TrafficAnalyzer } from '../stages/traffic-analyzer';
import type { PriorityFinder } from '../stages/priority-finder';
import type { AlpRegistry } from '../stages/alp-registry';
import type { ServerAvailability, ServerSelection } from '../stages/server-selection';
import { ConnState, Phase, type Connection } from './connection';
import { ConnectionTable } from './table';
import { SegmentBuilder } from './segment-builder';
import { rewriteToClient, rewriteToServer } from './splice';
import {
  ATYP_NAME, describeDestination, METHOD_REFUSED, METHOD_USERPASS, parseSocks, SocksParse, SocksStatus, SOCKS_MAX_HANDSHAKE,
  SOCKS5_COMMAND_NOT_SUPPORTED, SOCKS5_GENERAL_FAILURE, SOCKS5_HOST_UNREACHABLE, CMD_CONNECT, writeFailureReply,
} from './socks';

/** Where the dispatcher's decisions go: the forwarder implements it. */
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

/** What the dispatcher reports about servers, and asks of them. */
export interface Health extends ServerAvailability {
  failed(server: number, why: string): void;
  succeeded(server: number): void;
}

/** The stages built from one configuration; swapped whole on reload. */
export interface Stages {
  /** ALP ids, shared by every configuration of the process's life. */
  alps: AlpRegistry;
  analyzer: TrafficAnalyzer;
  priorities: PriorityFinder;
  selection: ServerSelection;
  settings: ApplianceSettings;
}

/** Window scale the appliance announces to clients; the splice rescales if a server differs. */
const OUR_WSCALE = 7;
const RECEIVE_WINDOW = 65535;
/** First SYN retransmission; doubled each time until connect_timeout. */
const SYN_RTO = 1;
const REPLAY_RTO = 0.3;
/** The client bytes kept before the splice: the longest handshake, and some early data. */
const COLLECT_MAX = SOCKS_MAX_HANDSHAKE + 2048;
/** How long a closed or refused connection stays to absorb retransmitted FINs and ACKs. */
const LINGER = 2;

/**
 * Late binding and the splice, per connection. The appliance answers the client's TCP
 * handshake itself (and, for SOCKS5, the method negotiation), reassembles the SOCKS request,
 * runs the stages (Traffic Analyzer ALP, Priority Finder, Server ALP Selection), then opens
 * the server leg with rewritten addresses, replays the client's bytes phase by phase,
 * checks and swallows the server's answers to what it already answered, and joins the legs.
 * A server that resets or stays silent is marked failed and the next one is tried; the client
 * is refused only when no server is left.
 */
export class Dispatcher {
  readonly table: ConnectionTable;
  private readonly builder: SegmentBuilder;
  private readonly parse = new SocksParse();
  /** Connections with a timer running: handshakes, replays, lingering closes. */
  private readonly watched = new Set<Connection>();
  now = 0;
  private sweep: Iterator<Connection>;
  readonly stats = {
    spliced: 0, refused: 0, retried: 0, resetsSent: 0, unknownServerSegments: 0,
    handshakeTimeouts: 0, idleTimeouts: 0, poolExhausted: 0, replayGaveUp: 0, abandoned: 0, closed: 0, reset: 0,
  };

  /** Connections with a timer running (handshakes, unacknowledged replays, lingering closes). */
  get watching(): number {
    return this.watched.size;
  }

  constructor(
    private readonly sink: Sink,
    private readonly health: Health,
    private stages: Stages,
    private readonly servers: ServerRecord[],
    private readonly mss: number,
  ) {
    const s = stages.settings;
    this.table = new ConnectionTable(servers.length, s.maxConnections, s.maxHalfOpen);
    this.sweep = this.table.byClient.values();
    this.census = Dispatcher.emptyCensus(servers.length, stages.alps.size);
    this.counting = Dispatcher.emptyCensus(servers.length, stages.alps.size);
    this.builder = new SegmentBuilder(sink.pool);
  }

  /**
   * New tables apply to new connections; established ones keep their server, their ALP id
   * and the priority and discard eligibility it had when they were classified.
   */
  reconfigure(stages: Stages): void {
    this.stages = stages;
    this.table.setLimits(stages.settings.maxConnections, stages.settings.maxHalfOpen);
    const alps = stages.alps.size;
    for (const c of [this.census, this.counting]) {
      while (c.activeByAlp.length < alps) c.activeByAlp.push(0);
      while (c.packetsByAlp.length < alps) c.packetsByAlp.push(0);
    }
  }

  /** Step 702, with the tables in force. */
  isSocks(dstPort: number): boolean {
    return this.stages.analyzer.isSocks(dstPort);
  }

  // ---------------------------------------------------------------- client side

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
      if ((flags & (SYN | ACK | RST)) === SYN) this.accept(ip, tcp, o);
      else if ((flags & RST) === 0) this.resetClientUnknown(ip, tcp);
      this.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.now;
    c.packetsIn++;
    c.bytesIn += len;

    if (c.state === ConnState.Spliced || (c.state === ConnState.Closed && c.server >= 0)) {
      this.forwardToServer(c, slot, ip, tcp, o, len);
      return;
    }
    this.sink.pool.give(slot);
    if (flags & RST) {
      if (c.state === ConnState.Connecting || c.state === ConnState.Replaying) this.resetServerLeg(c);
      this.remove(c);
      return;
    }
    switch (c.state) {
      case ConnState.SynReceived:
        if ((flags & (SYN | ACK)) === SYN && tcp.seq === c.clientIsn) {
          this.sendSynAck(c);
          return;
        }
        if ((flags & ACK) === 0 || tcp.ack !== c.hs!.ourNext) return;
        this.table.setState(c, ConnState.Collecting);
        this.collect(c, tcp);
        return;
      case ConnState.Collecting:
      case ConnState.Connecting:
      case ConnState.Replaying:
        if (flags & FIN) {
          // The client gave up before the splice: nothing to keep on either leg.
          if (c.state !== ConnState.Collecting) this.resetServerLeg(c);
          this.sendToClient(c, c.hs!.ourNext, (tcp.seq + tcp.seqLength) >>> 0, RST | ACK);
          this.remove(c);
          return;
        }
        this.collect(c, tcp);
        return;
      case ConnState.Refused:
      case ConnState.Closed:
        // Acknowledge the client's FIN so that it closes cleanly; ignore the rest.
        if (flags & FIN && c.hs !== null) this.sendToClient(c, c.hs.ourNext, (tcp.seq + tcp.seqLength) >>> 0, ACK);
        return;
    }
  }

  /** Step 705 onwards for a new client: SYN-ACK with options that fit both legs. */
  private accept(ip: Ipv4View, tcp: TcpView, o: TcpOptions): void {
    const c = this.table.create(ip.src, tcp.srcPort, ip.dst, this.now);
    if (c === undefined) return;
    c.clientIsn = tcp.seq;
    const h = c.hs!;
    h.clientNext = (tcp.seq + 1) >>> 0;
    h.clientWscale = o.wscale;
    h.clientSackOk = o.sackPermitted;
    h.clientMss = o.mss > 0 ? o.mss : 536;
    h.ourIsn = this.builder.isn();
    h.ourNext = (h.ourIsn + 1) >>> 0;
    h.ourWscale = o.wscale >= 0 ? OUR_WSCALE : -1;
    h.deadline = this.now + this.stages.settings.halfOpenTimeout;
    this.watched.add(c);
    this.sendSynAck(c);
  }

  private sendSynAck(c: Connection): void {
    const h = c.hs!;
    const slot = this.builder.build(
      c.vip, this.stages.analyzer.socksPort, c.clientIp, c.clientPort, h.ourIsn, h.clientNext, SYN | ACK, RECEIVE_WINDOW,
      undefined, 0, 0, this.mss, h.ourWscale, h.clientSackOk,
    );
    this.emitToClient(slot);
  }

  /** Takes the client's handshake bytes in order, answers SOCKS5 negotiation, binds when complete. */
  private collect(c: Connection, tcp: TcpView): void {
    const h = c.hs!;
    const n = tcp.payloadLength;
    if (n === 0) return;
    // Bytes before clientNext are retransmissions; a gap means a lost segment: re-ACK and wait.
    const skip = (h.clientNext - tcp.seq) | 0;
    if (skip < 0) {
      this.ackClient(c);
      return;
    }
    if (skip < n) {
      const take = n - skip;
      if (h.collectedLength + take > COLLECT_MAX) {
        // More than any handshake, and the server is not there yet: let the client retransmit.
        this.ackClient(c);
        return;
      }
      if (h.collected === null || h.collectedLength + take > h.collected.length) {
        // Most handshakes are a few dozen bytes: start small, grow by doubling.
        let size = h.collected === null ? 64 : h.collected.length * 2;
        while (size < h.collectedLength + take) size *= 2;
        const grown = Buffer.allocUnsafe(Math.min(size, COLLECT_MAX));
        h.collected?.copy(grown, 0, 0, h.collectedLength);
        h.collected = grown;
      }
      const from = tcp.payloadOffset + skip;
      (tcp.buf as Buffer).copy(h.collected, h.collectedLength, from, from + take);
      h.collectedLength += take;
      h.clientNext = (h.clientNext + take) >>> 0;
    }
    if (c.state !== ConnState.Collecting) {
      // Bytes after the request wait with it; the replay sends them on.
      this.ackClient(c);
      return;
    }
    this.advanceHandshake(c);
  }

  private advanceHandshake(c: Connection): void {
    const h = c.hs!;
    const buf = h.collected!;
    const p = parseSocks(buf, 0, h.collectedLength, this.parse);
    c.version = p.version;
    if (p.status === SocksStatus.Invalid) {
      this.refuse(c, SOCKS5_GENERAL_FAILURE, p.version === 4 || p.version === 5);
      return;
    }
    const answeredBefore = h.answered;
    if (p.version === 5 && p.greetingEnd > 0) {
      h.greetingEnd = p.greetingEnd;
      h.method = p.method;
      if (h.answered === 0) {
        // The method reply: [5, method]; with no acceptable method, the close follows it.
        this.replyToClient(c, 5, p.method, p.method === METHOD_REFUSED);
        if (p.method === METHOD_REFUSED) {
          this.refused(c);
          return;
        }
      }
      if (p.method === METHOD_USERPASS && p.authEnd > p.greetingEnd && h.answered === 2) {
        // RFC 1929 success, given optimistically: the chosen server has the last word.
        h.authEnd = p.authEnd;
        this.replyToClient(c, 1, 0, false);
      }
    }
    if (p.status !== SocksStatus.Complete) {
      if (h.answered === answeredBefore) this.ackClient(c); // an answer carries the ACK already
      return;
    }
    h.authEnd = p.authEnd;
    c.destination = `${describeDestination(buf, 0, p)}:${p.port}`;
    c.dialect = p.version === 5 ? '5' : p.atyp === ATYP_NAME ? '4a' : '4';
    if (p.command !== CMD_CONNECT) {
      this.refuse(c, SOCKS5_COMMAND_NOT_SUPPORTED, true);
      return;
    }
    // Steps 707-710: the ALP from DSTPORT, its priority and discard eligibility, kept with the
    // connection for its life; then Server ALP Selection.
    const st = this.stages;
    c.alp = st.analyzer.alpOf(p.port);
    c.priority = st.priorities.priorityOf(c.alp);
    c.discardEligible = st.priorities.isDiscardEligible(c.alp);
    this.ackClient(c);
    this.connect(c);
  }

  /** Sends a 2-byte SOCKS5 answer ([5, method] or [1, status]) in the server's stead. */
  private replyToClient(c: Connection, a: number, b: number, fin: boolean): void {
    const h = c.hs!;
    const bytes = this.scratch;
    bytes[0] = a;
    bytes[1] = b;
    const flags = ACK | PSH | (fin ? FIN : 0);
    this.sendToClient(c, h.ourNext, h.clientNext, flags, bytes, 0, 2);
    h.ourNext = (h.ourNext + 2 + (fin ? 1 : 0)) >>> 0;
    h.answered += 2;
  }

  private readonly scratch = Buffer.alloc(16);

  /** The SOCKS failure reply for the client's version (when it has one), then the close. */
  private refuse(c: Connection, code: number, withReply: boolean): void {
    const h = c.hs!;
    let n = 0;
    if (withReply && (c.version === 4 || c.version === 5)) n = writeFailureReply(c.version, code, this.scratch, 0);
    this.sendToClient(c, h.ourNext, h.clientNext, ACK | PSH | FIN, this.scratch, 0, n);
    h.ourNext = (h.ourNext + n + 1) >>> 0;
    this.refused(c);
  }

  private refused(c: Connection): void {
    const h = c.hs!;
    this.stats.refused++;
    this.table.setState(c, ConnState.Refused);
    h.collected = null;
    c.closeAt = this.now + LINGER * 2;
    this.watched.add(c);
  }

  // ---------------------------------------------------------------- server leg

  /** Figure 10, then the SYN to the chosen server with the rewritten addresses. */
  private connect(c: Connection): void {
    const h = c.hs!;
    const st = this.stages;
    for (;;) {
      const s = st.selection.select(c.alp, c.priority, c.dialect, this.health, h.tried);
      if (s < 0) {
        this.refuse(c, SOCKS5_HOST_UNREACHABLE, true);
        return;
      }
      if (this.table.bindServer(c, s)) break;
      h.tried |= 1 << s; // every port towards it is taken
    }
    this.table.setState(c, ConnState.Connecting);
    h.retries = 0;
    h.connectStarted = this.now;
    h.deadline = this.now + SYN_RTO;
    h.phase = c.version === 5 ? Phase.Greeting : Phase.Request;
    h.swallowed = 0;
    h.replayedTo = 0;
    h.serverAcked = 0;
    this.watched.add(c);
    this.sendSyn(c);
  }

  private sendSyn(c: Connection): void {
    const h = c.hs!;
    const srv = this.servers[c.server];
    // The server leg starts at the client's ISN, so client-to-server sequence numbers need no change.
    const slot = this.builder.build(
      srv.local.address, c.allocPort, srv.address, srv.port, c.clientIsn, 0, SYN, RECEIVE_WINDOW,
      undefined, 0, 0, Math.min(h.clientMss, this.mss), h.clientWscale, h.clientSackOk,
    );
    this.emitToServer(c, slot);
  }

  fromServer(server: number, slot: number, ip: Ipv4View, tcp: TcpView, o: TcpOptions, len: number): void {
    const srv = this.servers[server];
    const c = tcp.srcPort === srv.port && ip.src === srv.address ? this.table.lookupServer(server, tcp.dstPort) : undefined;
    if (c === undefined) {
      this.stats.unknownServerSegments++;
      if ((tcp.flags & RST) === 0 && tcp.srcPort === srv.port) this.resetServerUnknown(server, ip, tcp);
      this.sink.pool.give(slot);
      return;
    }
    c.lastSeen = this.now;
    c.packetsOut++;
    c.bytesOut += len;
    const flags = tcp.flags;
    if (c.state === ConnState.Spliced || c.state === ConnState.Closed) {
      if (c.hs !== null && flags & ACK) this.noteServerAck(c, tcp.ack); // the replay is not acknowledged yet
      rewriteToClient(ip, tcp, o, c, this.stages.analyzer.socksPort);
      this.trackClose(c, flags, false);
      this.sink.toIntranet(slot, len);
      return;
    }
    this.sink.pool.give(slot);
    const h = c.hs!;
    if (c.state === ConnState.Connecting) {
      if (flags & RST) {
        if ((flags & ACK) && tcp.ack === ((c.clientIsn + 1) >>> 0)) this.serverFailed(c, 'refused the connection');
        return;
      }
      if ((flags & (SYN | ACK)) !== (SYN | ACK) || tcp.ack !== ((c.clientIsn + 1) >>> 0)) {
        // RFC 9293 3.10.7.3, SYN-SENT: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>. It is
        // how a server still holding this 4-tuple from before a restart (it answers our SYN
        // with a challenge ACK) lets go of it; the SYN then goes again.
        if (flags & ACK) {
          this.resetServerUnknown(c.server, ip, tcp);
          this.sendSyn(c);
        }
        return;
      }
      h.serverNext = (tcp.seq + 1) >>> 0;
      const clientScaled = h.clientWscale >= 0;
      const serverScaled = clientScaled && o.wscale >= 0;
      h.serverWscale = serverScaled ? o.wscale : -1;
      // Window fields in bytes: client leg scales by clientWscale/ourWscale, server leg by clientWscale/serverWscale.
      c.windowShiftToServer = (clientScaled ? h.clientWscale : 0) - (serverScaled ? h.clientWscale : 0);
      c.windowShiftToClient = (serverScaled ? h.serverWscale : 0) - (clientScaled ? h.ourWscale : 0);
      this.table.setState(c, ConnState.Replaying);
      this.health.succeeded(c.server);
      this.replay(c);
      return;
    }
    if (c.state !== ConnState.Replaying) return;
    if (flags & RST) {
      this.serverFailed(c, 'reset the connection during the SOCKS handshake');
      return;
    }
    if (flags & SYN) {
      this.ackServer(c); // our ACK of its SYN-ACK was lost
      return;
    }
    if (flags & ACK) this.noteServerAck(c, tcp.ack);
    const n = tcp.payloadLength;
    if (n === 0) return;
    if (tcp.seq !== h.serverNext) {
      this.ackServer(c);
      return;
    }
    // The server's answers to the greeting and auth: compare with what the client was told.
    const b = tcp.buf;
    const at = tcp.payloadOffset;
    const expectA = h.phase === Phase.Greeting ? 5 : 1;
    const expectB = h.phase === Phase.Greeting ? h.method : 0;
    for (let i = 0; i < n; i++) {
      const want = h.swallowed % 2 === 0 ? expectA : expectB;
      if (b[at + i] !== want) {
        this.resetServerLeg(c);
        this.refuse(c, SOCKS5_GENERAL_FAILURE, true);
        return;
      }
      h.swallowed++;
    }
    h.serverNext = (h.serverNext + n) >>> 0;
    if (h.swallowed % 2 !== 0) {
      this.ackServer(c);
      return;
    }
    h.swallowed = 0;
    h.phase = h.phase === Phase.Greeting && h.method === METHOD_USERPASS ? Phase.Auth : Phase.Request;
    this.replay(c);
  }

  /**
   * Sends the current phase's client bytes to the server: the greeting, the user/password
   * sub-negotiation, or the request with whatever the client sent after it. Sending the
   * request is the splice: from then on the server's bytes go to the client.
   */
  private replay(c: Connection): void {
    const h = c.hs!;
    const end = h.phase === Phase.Greeting ? h.greetingEnd : h.phase === Phase.Auth ? h.authEnd : h.collectedLength;
    const start = h.phase === Phase.Greeting ? 0 : h.phase === Phase.Auth ? h.greetingEnd : h.authEnd;
    this.sendReplay(c, start, end);
    h.replayedTo = end;
    h.retries = 0;
    h.deadline = this.now + REPLAY_RTO;
    if (h.phase === Phase.Request) this.splice(c);
  }

  private sendReplay(c: Connection, start: number, end: number): void {
    const h = c.hs!;
    const srv = this.servers[c.server];
    const maxSeg = this.mss;
    for (let at = start; at < end; at += maxSeg) {
      const n = Math.min(maxSeg, end - at);
      const slot = this.builder.build(
        srv.local.address, c.allocPort, srv.address, srv.port, (c.clientIsn + 1 + at) >>> 0, h.serverNext, ACK | PSH,
        this.windowToServer(c), h.collected!, at, n,
      );
      this.emitToServer(c, slot);
    }
  }

  private splice(c: Connection): void {
    const h = c.hs!;
    c.delta = (h.ourNext - h.serverNext) | 0;
    this.table.setState(c, ConnState.Spliced);
    this.stats.spliced++;
    // Keep only what a retransmission of the replay may need; free the rest with the buffer.
    if (h.replayedTo === h.serverAcked) this.endReplay(c);
  }

  private noteServerAck(c: Connection, ack: number): void {
    const h = c.hs!;
    const acked = (ack - c.clientIsn - 1) | 0;
    if (acked > h.serverAcked) h.serverAcked = Math.min(acked, h.replayedTo);
    if (c.state === ConnState.Spliced && h.serverAcked >= h.replayedTo) this.endReplay(c);
  }

  /** The server has all of the replay: the handshake state goes; the splice needs none of it. */
  private endReplay(c: Connection): void {
    if (c.state !== ConnState.Spliced) return;
    c.hs = null;
    this.watched.delete(c);
  }

  private serverFailed(c: Connection, why: string): void {
    const h = c.hs!;
    this.health.failed(c.server, why);
    h.tried |= 1 << c.server;
    this.stats.retried++;
    this.connect(c);
  }

  // ---------------------------------------------------------------- spliced traffic

  private forwardToServer(c: Connection, slot: number, ip: Ipv4View, tcp: TcpView, o: TcpOptions, len: number): void {
    const srv = this.servers[c.server];
    const flags = tcp.flags;
    rewriteToServer(ip, tcp, o, c, srv.local.address, srv.address, srv.port);
    this.trackClose(c, flags, true);
    this.sink.toServer(c.server, slot, len, c.alp, c.priority, c.discardEligible, false);
  }

  /** Step 714: FIN from both sides, or a RST, closes the entry after a short linger. */
  private trackClose(c: Connection, flags: number, fromClient: boolean): void {
    if ((flags & (FIN | RST)) === 0) return;
    if (flags & RST) {
      this.stats.reset++;
      c.finFromClient = c.finFromServer = true;
    } else if (fromClient) c.finFromClient = true;
    else c.finFromServer = true;
    if (c.finFromClient && c.finFromServer && c.state !== ConnState.Closed) {
      this.stats.closed++;
      this.table.setState(c, ConnState.Closed);
      c.closeAt = this.now + LINGER;
      this.watched.add(c);
    }
  }

  // ---------------------------------------------------------------- timers

  /** Runs the handshake, retransmission and linger timers; every second, the idle sweep. */
  tick(now: number): void {
    this.now = now;
    const st = this.stages.settings;
    for (const c of this.watched) {
      const h = c.hs;
      if (h === null) {
        if (now >= c.closeAt) this.remove(c); // closed after the handshake was dropped
        continue;
      }
      switch (c.state) {
        case ConnState.SynReceived:
        case ConnState.Collecting:
          if (now >= h.deadline) {
            this.stats.handshakeTimeouts++;
            this.table.stats.expiredHalfOpen++;
            this.sendToClient(c, h.ourNext, h.clientNext, RST | ACK);
            this.remove(c);
          }
          break;
        case ConnState.Connecting:
          if (now < h.deadline) break;
          if (now - h.connectStarted >= st.connectTimeout) {
            this.serverFailed(c, `did not answer within ${st.connectTimeout} s`);
          } else {
            h.retries++;
            h.deadline = now + (SYN_RTO << h.retries);
            this.sendSyn(c);
          }
          break;
        case ConnState.Replaying:
        case ConnState.Spliced:
          if (now < h.deadline || h.serverAcked >= h.replayedTo) break;
          if (++h.retries > 6) {
            this.stats.replayGaveUp++;
            this.resetServerLeg(c);
            this.sendToClient(c, h.ourNext, h.clientNext, RST | ACK);
            this.remove(c);
            break;
          }
          h.deadline = now + REPLAY_RTO * (1 << h.retries);
          this.sendReplay(c, h.serverAcked, h.replayedTo);
          break;
        case ConnState.Refused:
        case ConnState.Closed:
          if (now >= c.closeAt) this.remove(c);
          break;
      }
    }
    this.sweepIdle(now, st.idleTimeout);
  }

  /**
   * Step 714's timer, spread out: each tick looks at an eighth of the table (at least 1,000
   * entries), so a table of 100,000 is swept every second without a pause the packets would feel.
   * The iterator survives between ticks; a Map's iterator skips deleted entries and sees new ones.
   */
  private sweepIdle(now: number, idle: number): void {
    const table = this.table.byClient;
    const counting = this.counting;
    let budget = Math.max(1000, table.size >> 3);
    while (budget-- > 0) {
      const next = this.sweep.next();
      if (next.done) {
        this.sweep = table.values();
        this.publishCensus();
        return;
      }
      const c = next.value;
      if (c.alp >= 0 && c.alp < counting.packetsByAlp.length) {
        counting.packetsByAlp[c.alp] += c.packetsIn + c.packetsOut;
        if (c.state === ConnState.Spliced) counting.activeByAlp[c.alp]++;
      }
      if (c.state === ConnState.Spliced && c.server >= 0) counting.activeByServer[c.server]++;
      if (c.state === ConnState.Spliced && now - c.lastSeen >= idle) {
        this.stats.idleTimeouts++;
        this.table.stats.expiredIdle++;
        this.remove(c);
      }
    }
  }

  /**
   * What the operators' views count over the table (active connections per server and ALP,
   * packets per ALP), gathered by the idle sweep as it passes and published once per pass:
   * at most a second old, and never a scan of the table on a request.
   */
  census = Dispatcher.emptyCensus(0, 0);
  private counting = Dispatcher.emptyCensus(0, 0);

  private static emptyCensus(servers: number, alps: number) {
    return { activeByServer: new Array<number>(servers).fill(0), activeByAlp: new Array<number>(alps).fill(0), packetsByAlp: new Array<number>(alps).fill(0) };
  }

  private publishCensus(): void {
    this.census = this.counting;
    this.counting = Dispatcher.emptyCensus(this.servers.length, this.stages.alps.size);
  }

  /** Ends a connection the client has moved on from, telling a server leg still open. */
  private abandon(c: Connection): void {
    this.stats.abandoned++;
    if (c.state === ConnState.Spliced || c.state === ConnState.Replaying) this.resetServerLeg(c);
    this.remove(c);
  }

  private remove(c: Connection): void {
    this.watched.delete(c);
    c.hs = null;
    this.table.remove(c);
  }

  // ---------------------------------------------------------------- segments of our own

  private windowToServer(c: Connection): number {
    const h = c.hs!;
    return h.serverWscale >= 0 ? RECEIVE_WINDOW >> h.clientWscale : RECEIVE_WINDOW;
  }

  private ackClient(c: Connection): void {
    const h = c.hs!;
    this.sendToClient(c, h.ourNext, h.clientNext, ACK);
  }

  private ackServer(c: Connection): void {
    const h = c.hs!;
    const srv = this.servers[c.server];
    const slot = this.builder.build(
      srv.local.address, c.allocPort, srv.address, srv.port, (c.clientIsn + 1 + h.replayedTo) >>> 0, h.serverNext, ACK, this.windowToServer(c),
    );
    this.emitToServer(c, slot);
  }

  private sendToClient(c: Connection, seq: number, ack: number, flags: number, payload?: Buffer, off = 0, n = 0): void {
    const h = c.hs!;
    const window = h.ourWscale >= 0 ? RECEIVE_WINDOW >> h.ourWscale : RECEIVE_WINDOW;
    const slot = this.builder.build(c.vip, this.stages.analyzer.socksPort, c.clientIp, c.clientPort, seq, ack, flags, window, payload, off, n);
    this.emitToClient(slot);
  }

  private emitToClient(slot: number): void {
    if (slot < 0) {
      this.stats.poolExhausted++;
      return;
    }
    this.sink.toIntranet(slot, this.builder.lastLength);
  }

  private emitToServer(c: Connection, slot: number): void {
    if (slot < 0) {
      this.stats.poolExhausted++;
      return;
    }
    this.sink.toServer(c.server, slot, this.builder.lastLength, c.alp, c.priority, c.discardEligible, true);
  }

  /** Tells the server its leg is abandoned (the client left, or a later server was chosen). */
  private resetServerLeg(c: Connection): void {
    // Once the handshake state is gone the appliance no longer knows where the client's
    // stream stands; a RST would not be accepted, and the server's own timers end that leg.
    const h = c.hs;
    if (h === null || c.server < 0 || c.state === ConnState.Connecting) return;
    const srv = this.servers[c.server];
    const slot = this.builder.build(srv.local.address, c.allocPort, srv.address, srv.port, (c.clientIsn + 1 + h.replayedTo) >>> 0, h.serverNext, RST | ACK, 0);
    this.stats.resetsSent++;
    this.emitToServer(c, slot);
  }

  /** RFC 9293's answer to a segment for no connection: RST, ACK-ing it if it had no ACK. */
  private resetClientUnknown(ip: Ipv4View, tcp: TcpView): void {
    const hasAck = (tcp.flags & ACK) !== 0;
    const slot = this.builder.build(
      ip.dst, tcp.dstPort, ip.src, tcp.srcPort, hasAck ? tcp.ack : 0, (tcp.seq + tcp.seqLength) >>> 0, hasAck ? RST : RST | ACK, 0,
    );
    this.stats.resetsSent++;
    this.emitToClient(slot);
  }

  private resetServerUnknown(server: number, ip: Ipv4View, tcp: TcpView): void {
    const hasAck = (tcp.flags & ACK) !== 0;
    const slot = this.builder.build(
      ip.dst, tcp.dstPort, ip.src, tcp.srcPort, hasAck ? tcp.ack : 0, (tcp.seq + tcp.seqLength) >>> 0, hasAck ? RST : RST | ACK, 0,
    );
    this.stats.resetsSent++;
    if (slot >= 0) this.sink.toServer(server, slot, this.builder.lastLength, 0, 255, false, true);
  }
}
