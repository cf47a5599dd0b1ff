import type { IpDatagram } from '../wire/ip';
import { ACK, PSH, RST, seqLater, SYN, type TcpOptions, type TcpView } from '../wire/tcp';
import { ConnState, Phase, type Connection } from './connection';
import { RECEIVE_WINDOW, type FlowContext } from './context';
import { carriers, clientDialect, compose, composedLength, D5, legDialect, speaks, type Composed, type Credentials } from './dialect';
import { METHOD_USERPASS, parseSocks, SocksParse, SOCKS5_GENERAL_FAILURE, SOCKS5_HOST_UNREACHABLE } from './socks';
import type { SocksResponder } from './socks-responder';
import { EndReason } from '../stats/end-reason';
import { LegDiversion } from './leg-diversion';
import { serverLocal } from './openers';

/** First SYN retransmission; doubled each time until connect_timeout. */
export const SYN_RTO = 1;
export const REPLAY_RTO = 0.3;
/** The longest server answer kept: a SOCKS5 reply with a 255-byte name. */
export const ANSWER_MAX = 4 + 1 + 255 + 2;

/**
 * The server leg: Server ALP Selection's choice (figure 10), the SYN from the segment's own
 * address, the handshake in a dialect the server speaks (dialect.ts) replayed phase by phase,
 * the server's answers checked against what the client was told (its reply: server-reply.ts),
 * and failover to the next candidate when a server resets, stays silent
 * or refuses (the client never sees it). The leg starts at the client's ISN, so the client's
 * later bytes shift by `upShift` only (what the leg sent before them, less the client's own).
 */
export class ServerLeg {
  private readonly composed: Composed = { greetingEnd: 0, authEnd: 0, requestEnd: 0, method: -1 };
  /** The diverted-address table on this leg: the destination it asks for, the server it goes to. */
  private readonly diversion: LegDiversion;

  constructor(private readonly cx: FlowContext, private readonly responder: SocksResponder, log: (message: string) => void = () => undefined) {
    this.diversion = new LegDiversion(cx, log);
  }

  /** Steps 1001-1008 then the SYN: the next server that can carry the request, in a dialect it speaks. */
  connect(c: Connection): void {
    const cx = this.cx;
    const h = c.hs!;
    const p = parseSocks(h.collected!, 0, h.collectedLength, this.responder.parse);
    const q = this.diversion.destination(c, p);
    // The client's own username/password can only be passed on in SOCKS5.
    let need = carriers(q);
    if (p.version === 5 && h.method === METHOD_USERPASS) need &= D5;
    for (;;) {
      const chosen = cx.stages.selection.select(c.alp, c.priority, need, cx.health, h.tried);
      if (chosen < 0) {
        // Servers were tried and failed: the client's refusal is theirs (stats/end-reason.ts).
        if (h.tried !== 0) c.endReason = EndReason.ServerFailed;
        this.responder.refuse(c, SOCKS5_HOST_UNREACHABLE, true);
        return;
      }
      const s = this.diversion.server(c, chosen, need);
      if (cx.table.bindServer(c, s)) break;
      h.tried |= 1 << s; // every port towards it is taken
    }
    this.prepare(c, p, q);
    cx.table.setState(c, ConnState.Connecting);
    h.retries = 0;
    h.connectStarted = cx.now;
    h.synAtUs = cx.us;
    h.deadline = cx.now + SYN_RTO;
    h.phase = h.greetingEnd > 0 ? Phase.Greeting : Phase.Request;
    h.answerLength = 0;
    h.replayedTo = 0;
    h.serverAcked = 0;
    cx.watched.add(c);
    this.syn(c);
  }


  /** The chosen server's dialect and what the leg will send it (dialect.ts), for request `q` (`p` diverted, or `p`). */
  private prepare(c: Connection, p: SocksParse, q: SocksParse): void {
    const h = c.hs!;
    const srv = this.cx.server(c);
    const leg = legDialect(q, speaks(srv), clientDialect(p));
    if (leg === 0) throw new Error(`server ${srv.name} was chosen for a request it cannot carry`);
    let creds: Credentials | undefined = srv.credentials;
    h.ownCredentials = creds !== undefined;
    if (!creds && p.version === 5 && h.method === METHOD_USERPASS) {
      // RFC 1929 [1 ULEN UNAME PLEN PASSWD], the client's own, passed on.
      const b = h.collected!;
      const u = p.greetingEnd + 2;
      const ulen = b[u - 1];
      creds = { username: b.subarray(u, u + ulen), password: b.subarray(u + ulen + 1, u + ulen + 1 + b[u + ulen]) };
    }
    const size = composedLength(leg, q, creds);
    if (h.composed === null || h.composed.length < size) h.composed = Buffer.allocUnsafe(size);
    const r = this.composed;
    compose(leg, q === p ? h.collected! : this.diversion.bytes, q, creds, h.composed, r);
    h.greetingEnd = r.greetingEnd;
    h.authEnd = r.authEnd;
    h.composedEnd = r.requestEnd;
    h.offered = r.method;
    c.leg = leg;
    c.upShift = r.requestEnd - p.requestEnd;
  }

  syn(c: Connection): void {
    const h = c.hs!;
    const cx = this.cx;
    const srv = cx.server(c);
    cx.emitToServer(c, cx.builder.build(
      serverLocal(c, srv), c.allocPort, srv.address, srv.port, c.clientIsn, 0, SYN, RECEIVE_WINDOW,
      undefined, 0, 0, Math.min(h.clientMss, cx.serverMss(c)), h.clientWscale, h.clientSackOk,
    ));
  }

  /** Connecting: the server's answer to the SYN. */
  onConnecting(c: Connection, ip: IpDatagram, tcp: TcpView, o: TcpOptions): void {
    const h = c.hs!;
    const flags = tcp.flags;
    if (flags & RST) {
      if ((flags & ACK) && tcp.ack === ((c.clientIsn + 1) >>> 0)) this.failed(c, 'refused the connection');
      return;
    }
    if ((flags & (SYN | ACK)) !== (SYN | ACK) || tcp.ack !== ((c.clientIsn + 1) >>> 0)) {
      // RFC 9293 3.10.7.3, SYN-SENT: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>. It is
      // how a server still holding this 4-tuple from before a restart (it answers our SYN
      // with a challenge ACK) lets go of it; the SYN then goes again.
      if (flags & ACK) {
        this.resetUnknown(c.server, ip, tcp);
        this.syn(c);
      }
      return;
    }
    h.serverNext = (tcp.seq + 1) >>> 0;
    c.handshakeUs = (this.cx.us - h.synAtUs) | 0;
    // The server leg's first round trip (stats/passive.ts), unless the SYN went twice (Karn).
    if (h.retries === 0) c.rttServerUs = c.handshakeUs;
    const clientScaled = h.clientWscale >= 0;
    const serverScaled = clientScaled && o.wscale >= 0;
    h.serverWscale = serverScaled ? o.wscale : -1;
    // Window fields in bytes: client leg scales by clientWscale/ourWscale, server leg by clientWscale/serverWscale.
    c.windowShiftToServer = (clientScaled ? h.clientWscale : 0) - (serverScaled ? h.clientWscale : 0);
    c.windowShiftToClient = (serverScaled ? h.serverWscale : 0) - (clientScaled ? h.ourWscale : 0);
    c.clientScale = clientScaled ? h.ourWscale : 0;
    c.serverScale = serverScaled ? h.clientWscale : 0;
    this.cx.table.setState(c, ConnState.Replaying);
    this.cx.health.succeeded(c.server);
    this.replay(c);
  }

  /** Replaying: the server's answers to the SOCKS5 greeting and sub-negotiation. */
  onReplaying(c: Connection, tcp: TcpView): void {
    const h = c.hs!;
    const flags = tcp.flags;
    if (flags & RST) {
      this.failed(c, 'reset the connection during the SOCKS handshake');
      return;
    }
    if (flags & SYN) {
      this.ack(c); // our ACK of its SYN-ACK was lost
      return;
    }
    if (flags & ACK) this.noteAck(c, tcp.ack);
    if (!this.take(c, tcp, 2)) return;
    const a = h.answer!;
    if (h.phase === Phase.Greeting) {
      if (a[0] !== 5 || a[1] !== h.offered) {
        this.failed(c, `answered the SOCKS5 greeting with method ${a[1]}, not ${h.offered}`, true);
        return;
      }
      h.phase = h.offered === METHOD_USERPASS ? Phase.Auth : Phase.Request;
    } else if (a[1] !== 0) {
      // RFC 1929: a non-zero status refuses the credentials.
      if (h.ownCredentials) {
        this.cx.stats.credentialsRefused++;
        this.failed(c, 'refused the appliance\'s username and password', true);
      } else {
        this.resetLeg(c);
        this.responder.refuse(c, SOCKS5_GENERAL_FAILURE, true);
      }
      return;
    } else {
      h.phase = Phase.Request;
    }
    h.answerLength = 0;
    this.replay(c);
  }

  /**
   * Takes the server's next in-order bytes of an answer into `h.answer`; true once `need`
   * bytes are there. Out-of-order bytes get a duplicate ACK.
   */
  private take(c: Connection, tcp: TcpView, need: number): boolean {
    const h = c.hs!;
    const n = tcp.payloadLength;
    if (n === 0) return false;
    if (tcp.seq !== h.serverNext) {
      this.ack(c);
      return false;
    }
    if (h.answer === null) h.answer = Buffer.allocUnsafe(need);
    const want = need - h.answerLength;
    const k = Math.min(n, want);
    h.answer.set(tcp.buf.subarray(tcp.payloadOffset, tcp.payloadOffset + k), h.answerLength);
    h.answerLength += k;
    h.serverNext = (h.serverNext + k) >>> 0;
    if (h.answerLength < need) {
      this.ack(c);
      return false;
    }
    return true;
  }

  /**
   * Sends the current phase's bytes to the server: the greeting, the sub-negotiation, or the
   * request with whatever the client sent after it. Sending the request is the splice: from
   * then on the client's bytes go to the server rewritten (step 711).
   */
  replay(c: Connection): void {
    const h = c.hs!;
    const end = h.phase === Phase.Greeting ? h.greetingEnd : h.phase === Phase.Auth ? h.authEnd : h.composedEnd + h.collectedLength - h.requestEnd;
    const start = h.phase === Phase.Greeting ? 0 : h.phase === Phase.Auth ? h.greetingEnd : h.authEnd;
    this.send(c, start, end);
    h.replayedTo = end;
    h.retries = 0;
    h.deadline = this.cx.now + REPLAY_RTO;
    h.phaseSent = this.cx.now;
    if (h.phase === Phase.Request) this.splice(c);
  }

  /** Sends server-leg bytes [start, end): the composed handshake, then the client's early bytes. */
  send(c: Connection, start: number, end: number): void {
    const h = c.hs!;
    const split = h.composedEnd;
    if (start < split) this.segments(c, h.composed!, start, Math.min(end, split), 0);
    if (end > split) this.segments(c, h.collected!, Math.max(start, split), end, -c.upShift);
  }

  /** Bytes [start, end) of the leg's stream, found at `bytes[offset + shift]`, in MSS-sized segments. */
  private segments(c: Connection, bytes: Buffer, start: number, end: number, shift: number): void {
    const cx = this.cx;
    const h = c.hs!;
    const srv = cx.server(c);
    const mss = cx.serverMss(c);
    for (let at = start; at < end; at += mss) {
      const n = Math.min(mss, end - at);
      cx.emitToServer(c, cx.builder.build(
        serverLocal(c, srv), c.allocPort, srv.address, srv.port, (c.clientIsn + 1 + at) >>> 0, h.serverNext, ACK | PSH,
        this.window(c), bytes, at + shift, n,
      ));
    }
  }

  /** The request is on its way: the splice begins (the reply is still the server leg's to take). */
  private splice(c: Connection): void {
    const cx = this.cx;
    const h = c.hs!;
    // Until the reply is in, the client's ACKs name only what the appliance answered it.
    c.delta = (h.ourNext - h.serverNext) | 0;
    c.upNext = (c.clientIsn + 1 + h.replayedTo) | 0;
    c.downNext = h.serverNext | 0;
    h.answer = null; // the reply's own buffer, if it comes in pieces (server-reply.ts)
    h.answerLength = 0;
    cx.table.setState(c, ConnState.Spliced);
    cx.stats.spliced++;
  }

  noteAck(c: Connection, ack: number): void {
    const h = c.hs!;
    const acked = (ack - c.clientIsn - 1) | 0;
    if (acked > h.serverAcked) h.serverAcked = Math.min(acked, h.replayedTo);
  }

  /**
   * The server gets another chance only after its hold-down; the next candidate is tried now.
   * `reset`: the server's leg is still open (it answered wrongly) and is reset first.
   */
  failed(c: Connection, why: string, reset = false): void {
    const h = c.hs!;
    if (reset) this.resetLeg(c);
    this.cx.health.failed(c.server, why);
    this.cx.flows.failed(c.server, c.alp);
    h.tried |= 1 << c.server;
    this.cx.stats.retried++;
    this.connect(c);
  }

  private window(c: Connection): number {
    const h = c.hs!;
    return h.serverWscale >= 0 ? RECEIVE_WINDOW >> h.clientWscale : RECEIVE_WINDOW;
  }

  /** RFC 5961's challenge ACK to the server: where the appliance stands, with the window it last had. */
  challenge(c: Connection, seq: number, ack: number): void {
    const cx = this.cx;
    const srv = cx.server(c);
    const w = c.winToServer >= 0 ? c.winToServer : c.hs !== null ? this.window(c) : 0;
    cx.emitToServer(c, cx.builder.build(serverLocal(c, srv), c.allocPort, srv.address, srv.port, seq, ack, ACK, w));
  }

  ack(c: Connection): void {
    const cx = this.cx;
    const h = c.hs!;
    const srv = cx.server(c);
    cx.emitToServer(c, cx.builder.build(
      serverLocal(c, srv), c.allocPort, srv.address, srv.port, (c.clientIsn + 1 + h.replayedTo) >>> 0, h.serverNext, ACK, this.window(c),
    ));
  }

  /** Tells the server its leg is abandoned (the client left, or a later server was chosen). */
  resetLeg(c: Connection): void {
    // Before the splice the replay says where the server leg stands; from the splice on, what
    // was forwarded since says it too (connection.ts, upNext and downNext).
    const h = c.hs;
    const cx = this.cx;
    if (c.server < 0 || c.state === ConnState.Connecting) return;
    let seq = h === null ? 0 : (c.clientIsn + 1 + h.replayedTo) >>> 0;
    let ack = h === null ? 0 : h.serverNext;
    if (c.state !== ConnState.Replaying) {
      seq = seqLater(c.upNext, h === null ? undefined : seq);
      ack = seqLater(c.downNext, h === null ? undefined : ack);
    }
    const srv = cx.server(c);
    const slot = cx.builder.build(serverLocal(c, srv), c.allocPort, srv.address, srv.port, seq, ack, RST | ACK, 0);
    cx.stats.resetsSent++;
    cx.emitToServer(c, slot);
  }

  /** RFC 9293's answer to a server segment for no connection of ours. */
  resetUnknown(server: number, ip: IpDatagram, tcp: TcpView): void {
    const cx = this.cx;
    const hasAck = (tcp.flags & ACK) !== 0;
    const slot = cx.builder.build(
      ip.dst, tcp.dstPort, ip.src, tcp.srcPort, hasAck ? tcp.ack : 0, (tcp.seq + tcp.seqLength) >>> 0, hasAck ? RST : RST | ACK, 0,
    );
    cx.stats.resetsSent++;
    if (slot >= 0) cx.sink.toServer(server, slot, cx.builder.lastLength, 0, 255, false, true);
  }
}
