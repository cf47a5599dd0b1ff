import type { IpDatagram } from '../wire/ip';
import { ACK, FIN, RST, seqLater, type TcpOptions, type TcpView } from '../wire/tcp';
import { ConnState, type Connection } from './connection';
import type { ConnectionTable } from './table';
import { rewriteToClient, rewriteToServer } from './splice';
import type { ClientLeg } from './client-leg';
import type { FlowContext } from './context';
import { Handshaken, type SocksResponder } from './socks-responder';
import type { ServerLeg } from './server-leg';
import { FORWARD, type ServerReply } from './server-reply';
import { Ev, type Transition } from './machine';
import type { Ending } from './ending';
import { EndReason } from '../stats/end-reason';
import { synAckAcked, synAckSent } from '../stats/passive';
import { serverLocal } from './openers';

/**
 * The state machine's transitions on a packet (the cells of machine.ts's table), off the splice
 * fast path. One instance per dispatcher: `Dispatcher.handle` sets the packet's fields here
 * before the table's cell runs, so nothing is allocated per packet.
 */
export class Transitions {
  // The packet being handled (set per packet by the dispatcher; nothing allocated).
  slot = -1;
  ev = Ev.Client;
  ip!: IpDatagram;
  tcp!: TcpView;
  opts!: TcpOptions;
  len = 0;

  constructor(
    private readonly cx: FlowContext,
    private readonly table: ConnectionTable,
    private readonly client: ClientLeg,
    private readonly responder: SocksResponder,
    private readonly leg: ServerLeg,
    private readonly reply: ServerReply,
    private readonly ending: Ending,
    /** The table's cell for the connection's state and `ev` (the dispatcher's re-dispatch). */
    private readonly on: (c: Connection, ev: Ev) => boolean,
    /** The dispatcher's byte count per server and ALP, shared with the fast path. */
    private readonly counted: (c: Connection, len: number) => void,
  ) {}

  // ---------------------------------------------------------------- transitions: the client leg

  readonly synAgain: Transition = (c) => {
    if (this.tcp.seq === c.clientIsn) {
      this.client.synAck(c);
      synAckSent(c, this.cx.us, true);
    }
    return false;
  };

  readonly established: Transition = (c) => {
    const tcp = this.tcp;
    if ((tcp.flags & ACK) === 0 || tcp.ack !== c.hs!.ourNext) return false;
    synAckAcked(c, this.cx.us);
    // The same segment again, in the new state: its bytes collected, or its FIN answered.
    this.table.setState(c, ConnState.Collecting);
    return this.on(c, this.ev);
  };

  /** Steps 705-710: the bytes in, the SOCKS answers, then the ALP and Server ALP Selection. */
  readonly collect: Transition = (c) => {
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
  readonly collectMore: Transition = (c) => {
    if (this.client.collect(c, this.tcp)) this.client.ack(c);
    return false;
  };

  /** The client gave up before the splice: nothing to keep on either leg. */
  readonly clientGaveUp: Transition = (c) => {
    if (c.state !== ConnState.Collecting) this.leg.resetLeg(c);
    const tcp = this.tcp;
    this.client.to(c, c.hs!.ourNext, (tcp.seq + tcp.seqLength) >>> 0, RST | ACK);
    this.ending.end(c, EndReason.Abandoned);
    return false;
  };

  readonly clientResetBeforeSplice: Transition = (c) => {
    this.leg.resetLeg(c);
    this.ending.end(c, EndReason.ClientReset);
    return false;
  };

  readonly dropEntry: Transition = (c) => {
    this.ending.end(c, this.ev === Ev.ClientRst ? EndReason.ClientReset : EndReason.Abandoned);
    return false;
  };

  readonly ackFin: Transition = (c) => {
    const tcp = this.tcp;
    if (c.hs !== null) this.client.to(c, c.hs.ourNext, (tcp.seq + tcp.seqLength) >>> 0, ACK);
    return false;
  };

  /**
   * Spliced, with the handshake's state still kept: the client's ACK of what the appliance
   * answered it is noted; a retransmission that starts inside the client's own handshake is
   * answered here (those bytes are not the server's to see); the rest is forwarded.
   */
  readonly tailToServer: Transition = (c) => {
    const tcp = this.tcp;
    const h = c.hs!;
    this.client.noteAck(c, tcp);
    if (tcp.payloadLength > 0 && ((tcp.seq - c.clientIsn - 1 - h.requestEnd) | 0) < 0) {
      this.client.resend(c);
      return false;
    }
    if (c.server < 0) return false;
    const srv = this.cx.server(c);
    this.counted(c, this.len);
    rewriteToServer(this.ip, tcp, this.opts, c, serverLocal(c, srv), srv.address, srv.port, this.cx.us);
    this.ending.trackClose(c, tcp.flags, true);
    this.cx.forwardToServer(c, srv, this.slot, this.ip, tcp, this.len);
    this.settled(c);
    return true;
  };

  // ---------------------------------------------------------------- transitions: the server leg

  readonly serverAnswersSyn: Transition = (c) => {
    this.leg.onConnecting(c, this.ip, this.tcp, this.opts);
    return false;
  };

  readonly serverAnswersHandshake: Transition = (c) => {
    this.leg.onReplaying(c, this.tcp);
    return false;
  };

  /** Spliced, with the handshake's state still kept: the server's reply, then forwarding. */
  readonly tailToClient: Transition = (c) => {
    const tcp = this.tcp;
    const r = this.reply.take(c, tcp);
    if (r !== FORWARD) {
      if (r & FIN) this.ending.trackClose(c, FIN, false);
      this.settled(c);
      return false;
    }
    this.counted(c, this.len);
    rewriteToClient(this.ip, tcp, this.opts, c, this.cx.stages.analyzer.socksPort, this.cx.us);
    this.ending.trackClose(c, tcp.flags, false);
    this.cx.forwardToClient(c, this.slot, this.ip, tcp, this.len);
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
    // From here only the splice's own counts say where each direction stands.
    c.upNext = seqLater(c.upNext, (c.clientIsn + 1 + h.replayedTo) >>> 0) | 0;
    c.downNext = seqLater(c.downNext, h.serverNext) | 0;
    c.hs = null;
    this.cx.watched.delete(c);
    this.cx.sync?.spliced(c);
  }
}
