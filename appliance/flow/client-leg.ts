import type { IpDatagram } from '../wire/ip';
import { releaseAddress } from '../addr/address';
import { ACK, FIN, PSH, RST, seqLater, SYN, type TcpOptions, type TcpView } from '../wire/tcp';
import { ConnState, type Connection } from './connection';
import { SOCKS_MAX_HANDSHAKE } from './socks';
import { FlowContext, OUR_WSCALE, RECEIVE_WINDOW } from './context';
import { synAckSent } from '../stats/passive';

/** The client bytes kept before the splice: the longest handshake, and some early data. */
const COLLECT_MAX = SOCKS_MAX_HANDSHAKE + 2048;
/** The SOCKS bytes the appliance may send a client itself: two answers and the longest reply. */
const SENT_MAX = 2 + 2 + 4 + 1 + 255 + 2;

/**
 * The client leg: the TCP endpoint the client talks to until the splice (RFC 9293). Answers
 * the SYN (step 705) with options that fit both legs, collects the client's bytes in order and
 * acknowledges them, sends the SOCKS bytes the appliance answers in the server's stead (and
 * again when the client shows it missed them), and resets what it cannot keep.
 */
export class ClientLeg {
  constructor(private readonly cx: FlowContext) {}

  /** Step 705 for a new client: an entry in the table and the SYN-ACK. */
  accept(ip: IpDatagram, tcp: TcpView, o: TcpOptions): Connection | undefined {
    const cx = this.cx;
    const src = ip.holdSrc();
    const c = cx.table.create(src, tcp.srcPort, ip.dst, cx.now);
    if (c === undefined) {
      releaseAddress(src);
      return undefined;
    }
    c.clientIsn = tcp.seq;
    // The SYN is the connection's first datagram in its statistics too.
    c.packetsIn = 1;
    c.bytesIn = c.minLength = c.maxLength = ip.totalLength;
    c.flagsIn = tcp.flags;
    const h = c.hs!;
    h.clientNext = (tcp.seq + 1) >>> 0;
    h.clientWscale = o.wscale;
    h.clientSackOk = o.sackPermitted;
    h.clientMss = o.mss > 0 ? o.mss : 536;
    h.ourIsn = cx.builder.isn();
    h.ourNext = (h.ourIsn + 1) >>> 0;
    h.ourWscale = o.wscale >= 0 ? OUR_WSCALE : -1;
    h.deadline = cx.now + cx.stages.settings.halfOpenTimeout;
    cx.watched.add(c);
    this.synAck(c);
    synAckSent(c, cx.us, false);
    return c;
  }

  synAck(c: Connection): void {
    const h = c.hs!;
    const cx = this.cx;
    cx.emitToClient(cx.builder.build(
      c.vip, cx.stages.analyzer.socksPort, c.clientIp, c.clientPort, h.ourIsn, h.clientNext, SYN | ACK, RECEIVE_WINDOW,
      undefined, 0, 0, cx.clientMss(c), h.ourWscale, h.clientSackOk,
    ));
  }

  /**
   * Takes the client's bytes in order. Returns true when new bytes were collected; false for a
   * retransmission, a gap (a segment was lost: re-ACK and wait for it) or bytes past what any
   * handshake needs, each answered here.
   */
  collect(c: Connection, tcp: TcpView): boolean {
    const h = c.hs!;
    this.noteAck(c, tcp);
    const n = tcp.payloadLength;
    if (n === 0) return false;
    const skip = (h.clientNext - tcp.seq) | 0;
    if (skip < 0) {
      this.ack(c);
      return false;
    }
    if (skip >= n) {
      // All of it was had before: the client missed the ACK, and what came with it.
      this.resend(c);
      return false;
    }
    const take = n - skip;
    if (h.collectedLength + take > COLLECT_MAX) {
      // More than any handshake, and the server is not there yet: let the client retransmit.
      this.ack(c);
      return false;
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
    return true;
  }

  /** The client's ACK of the SOCKS bytes the appliance sent it. */
  noteAck(c: Connection, tcp: TcpView): void {
    const h = c.hs!;
    if ((tcp.flags & ACK) === 0) return;
    // After the reply the client's ACKs cover the server's bytes too: ours are the first sentLength.
    const acked = (tcp.ack - h.ourIsn - 1) | 0;
    if (acked > h.ourAcked) h.ourAcked = Math.min(acked, h.sentLength);
  }

  /**
   * Sends `n` SOCKS bytes of `b` to the client in the server's stead (with FIN when `fin`),
   * keeping them for a resend.
   */
  send(c: Connection, b: Uint8Array, off: number, n: number, flags: number, window = -1): void {
    const h = c.hs!;
    // Most connections send a few bytes (a 2-byte method reply, an 8- or 10-byte reply): start small.
    if (h.sent === null || h.sentLength + n > h.sent.length) {
      const grown = Buffer.allocUnsafe(Math.min(SENT_MAX, Math.max(16, 2 * (h.sentLength + n))));
      h.sent?.copy(grown, 0, 0, h.sentLength);
      h.sent = grown;
    }
    h.sent.set(b.subarray(off, off + n), h.sentLength);
    const at = h.sentLength;
    h.sentLength += n;
    this.segment(c, at, n, flags, window);
    h.ourNext = (h.ourNext + n + (flags & FIN ? 1 : 0)) >>> 0;
  }

  /** The unacknowledged SOCKS bytes again (RFC 9293 3.10.7.4: the client's retransmission says it missed them). */
  resend(c: Connection): void {
    const h = c.hs!;
    if (h.ourAcked >= h.sentLength) {
      this.ack(c);
      return;
    }
    this.segment(c, h.ourAcked, h.sentLength - h.ourAcked, ACK | PSH, -1);
  }

  private segment(c: Connection, at: number, n: number, flags: number, window: number): void {
    const h = c.hs!;
    const cx = this.cx;
    const w = window >= 0 ? window : this.window(c);
    cx.emitToClient(cx.builder.build(
      c.vip, cx.stages.analyzer.socksPort, c.clientIp, c.clientPort, (h.ourIsn + 1 + at) >>> 0, h.clientNext, flags, w, h.sent!, at, n,
    ));
  }

  /** Our receive window as the client reads it (scaled by what we announced). */
  private window(c: Connection): number {
    const h = c.hs!;
    return h.ourWscale >= 0 ? RECEIVE_WINDOW >> h.ourWscale : RECEIVE_WINDOW;
  }

  ack(c: Connection): void {
    const h = c.hs!;
    this.to(c, h.ourNext, h.clientNext, ACK);
  }

  /** A bare segment to the client: an ACK, a RST, a FIN (once the handshake state is gone, a RST with window 0). */
  to(c: Connection, seq: number, ack: number, flags: number): void {
    const cx = this.cx;
    cx.emitToClient(cx.builder.build(c.vip, cx.stages.analyzer.socksPort, c.clientIp, c.clientPort, seq, ack, flags, c.hs === null ? 0 : this.window(c)));
  }

  /** RFC 5961's challenge ACK: where the appliance stands, with the window the client last had. */
  challenge(c: Connection, seq: number, ack: number): void {
    const cx = this.cx;
    const w = c.winToClient >= 0 ? c.winToClient : c.hs !== null ? this.window(c) : 0;
    cx.emitToClient(cx.builder.build(c.vip, cx.stages.analyzer.socksPort, c.clientIp, c.clientPort, seq, ack, ACK, w));
  }

  /**
   * Gives up on the client (timeout, the server leg failed, the client gave up first, a `move`).
   * Once spliced, the client expects next what the server sent last (downNext, in its view) and
   * has sent what the server leg carried (upNext, in its view): a RST there is in sequence.
   */
  reset(c: Connection): void {
    const h = c.hs;
    let seq = h === null ? 0 : h.ourNext;
    let ack = h === null ? 0 : h.clientNext;
    if (c.state === ConnState.Spliced || h === null) {
      seq = seqLater((c.downNext + c.delta) >>> 0, h === null ? undefined : seq);
      ack = seqLater((c.upNext - c.upShift) >>> 0, h === null ? undefined : ack);
    }
    this.to(c, seq, ack, RST | ACK);
  }

  /** RFC 9293's answer to a segment for no connection: RST, ACK-ing it if it had no ACK. */
  resetUnknown(ip: IpDatagram, tcp: TcpView): void {
    const cx = this.cx;
    const hasAck = (tcp.flags & ACK) !== 0;
    // An IPv6 client the table does not hold has no number yet: one is held while the RST is built.
    const to = ip.holdSrc();
    const slot = cx.builder.build(
      ip.dst, tcp.dstPort, to, tcp.srcPort, hasAck ? tcp.ack : 0, (tcp.seq + tcp.seqLength) >>> 0, hasAck ? RST : RST | ACK, 0,
    );
    releaseAddress(to);
    cx.stats.resetsSent++;
    cx.emitToClient(slot);
  }
}

