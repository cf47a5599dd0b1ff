import type { TcpView } from '../wire/tcp';
import { ACK, FIN, PSH, RST, seqLater, SYN } from '../wire/tcp';
import type { Connection } from './connection';
import type { ClientLeg } from './client-leg';
import type { FlowContext } from './context';
import { D5, replyLength, translateReply, type Dialect } from './dialect';
import { SOCKS5_GENERAL_FAILURE } from './socks';
import type { SocksResponder } from './socks-responder';
import { ANSWER_MAX, type ServerLeg } from './server-leg';
import { rescale } from './splice';
import { EndReason } from '../stats/end-reason';

/** `take`: the splice passes the segment on. */
export const FORWARD = -1;

/**
 * The server's reply to the CONNECT, the last part of the server leg: taken in any
 * segmentation, translated into the client's dialect (dialect.ts) and sent to the client as
 * the appliance's own bytes, after which the server's bytes line up with the client's by
 * `delta`. Until the client has acknowledged it, a server retransmission of the reply is
 * answered by sending the translation again.
 */
export class ServerReply {
  private readonly scratch = Buffer.alloc(ANSWER_MAX);

  constructor(
    private readonly cx: FlowContext,
    private readonly client: ClientLeg,
    private readonly leg: ServerLeg,
    private readonly responder: SocksResponder,
  ) {}

  /**
   * The spliced connection's server segments while the handshake state remains: the reply to
   * the CONNECT, taken and translated into the client's dialect (its first bytes are the
   * appliance's to send), then retransmissions of it answered by the client leg. Returns
   * FORWARD when the splice is to pass the segment on as it is; otherwise the segment was
   * consumed, and the result is the FIN flag the client was given with what came of it.
   */
  take(c: Connection, tcp: TcpView): number {
    const h = c.hs!;
    let fresh = false;
    if (tcp.flags & ACK) {
      this.leg.noteAck(c, tcp.ack);
      // What the server has of the client's bytes sent after the request, in the client's terms:
      // the appliance's own segments to the client acknowledge that much (and never less).
      const acked = (tcp.ack - c.upShift) >>> 0;
      fresh = ((acked - h.clientNext) | 0) > 0;
      if (fresh) h.clientNext = acked;
    }
    // Before the reply, the server's bare ACK of everything its leg was sent (the replay, and
    // any early bytes forwarded since) that acknowledges nothing the appliance has not already
    // acknowledged to the client tells the client nothing: taken here, one datagram fewer per
    // connection. It cannot be a duplicate ACK (RFC 5681 2: nothing is outstanding), and its
    // window reaches the client with the reply.
    if (!h.replied && !fresh && tcp.payloadLength === 0 && (tcp.flags & (RST | FIN | SYN)) === 0 && ((tcp.ack - c.upNext) | 0) >= 0) return 0;
    if (h.replied) {
      // The server sent its reply again (the client's ACK of ours had not reached it): the
      // client may have missed ours too.
      if (tcp.payloadLength > 0 && ((tcp.seq - h.replyEnd) | 0) < 0) {
        this.client.resend(c);
        return 0;
      }
      return FORWARD;
    }
    if (tcp.flags & RST || tcp.payloadLength === 0) return FORWARD; // no reply yet: the splice passes it on
    const n = tcp.payloadLength;
    const before = h.answerLength;
    const at = tcp.payloadOffset;
    if (tcp.seq !== h.serverNext) {
      this.leg.ack(c);
      return 0;
    }
    // Most replies come whole in one segment: read there. Only a reply cut over segments is kept.
    let reply: Uint8Array = tcp.buf;
    let from = at;
    let k0 = n;
    if (before > 0 || replyLength(c.leg as Dialect, tcp.buf, at, n) === 0) {
      if (h.answer === null) h.answer = Buffer.allocUnsafe(ANSWER_MAX);
      k0 = Math.min(n, ANSWER_MAX - before);
      h.answer.set(tcp.buf.subarray(at, at + k0), before);
      reply = h.answer;
      from = 0;
    }
    const length = replyLength(c.leg as Dialect, reply, from, before + k0);
    if (length < 0) {
      // Not a SOCKS reply: the server failed this connection (stats/end-reason.ts).
      c.endReason = EndReason.ServerFailed;
      this.cx.flows.failed(c.server, c.alp);
      this.leg.resetLeg(c);
      this.responder.refuse(c, SOCKS5_GENERAL_FAILURE, true);
      return 0;
    }
    if (length === 0) {
      h.answerLength = before + k0;
      h.serverNext = (h.serverNext + k0) >>> 0;
      this.leg.ack(c);
      return 0;
    }
    const used = length - before; // bytes of this segment that end the reply
    h.serverNext = (h.serverNext + used) >>> 0;
    h.replyEnd = h.serverNext;
    const t = translateReply(c.leg as Dialect, c.dialect as Dialect, reply.subarray(from, from + length), length, this.scratch);
    if ((c.leg === D5) !== (c.dialect === D5)) this.cx.stats.translated++;
    h.replied = true;
    h.answer = null;
    c.replyUs = (this.cx.us - h.synAtUs) | 0;
    // Granted (SOCKS5 REP 0, SOCKS4 CD 90): carried; else the server refused the request, and
    // the connection ends so (its destination's doing, not a failure of the server's).
    if (reply[from + 1] === (c.leg === D5 ? 0 : 90)) this.cx.flows.spliced(c);
    else c.endReason = EndReason.Refused;
    const rest = n - used;
    const fin = (tcp.flags & FIN) !== 0 && rest === 0;
    const window = rescale(tcp.window, c.windowShiftToClient);
    this.client.send(c, this.scratch, 0, t, ACK | PSH | (fin ? FIN : 0), window);
    // From here on, server bytes after the reply line up with client bytes after ours.
    c.delta = (h.ourNext - (fin ? 1 : 0) - h.replyEnd) | 0;
    if (rest > 0 && this.forwardRest(c, tcp, used, rest, window)) return tcp.flags & FIN;
    return fin ? FIN : 0;
  }

  /**
   * Data the server sent in the segment that ended its reply: copied after the appliance's
   * reply when it fits a small slot. Otherwise it is left unacknowledged, and the server sends
   * it again once the client has acknowledged the reply.
   */
  private forwardRest(c: Connection, tcp: TcpView, used: number, rest: number, window: number): boolean {
    const cx = this.cx;
    const h = c.hs!;
    if (rest > cx.sink.pool.smallMaxIp - 60) return false;
    const fin = tcp.flags & FIN;
    const slot = cx.builder.build(
      c.vip, cx.stages.analyzer.socksPort, c.clientIp, c.clientPort, (h.replyEnd + c.delta) >>> 0, h.clientNext, ACK | PSH | fin, window,
      tcp.buf as Buffer, tcp.payloadOffset + used, rest,
    );
    cx.emitToClient(slot);
    if (slot < 0) return false;
    // Forwarded: the server's stream stands past it (h.serverNext is for our ACKs to the server).
    c.downNext = seqLater(c.downNext, (h.replyEnd + rest + (fin ? 1 : 0)) >>> 0) | 0;
    return true;
  }
}
