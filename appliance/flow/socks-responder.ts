import { ACK, FIN, PSH } from '../wire/tcp';
import { ConnState, type Connection } from './connection';
import type { ClientLeg } from './client-leg';
import { LINGER, type FlowContext } from './context';
import { clientDialect } from './dialect';
import {
  CMD_CONNECT, describeDestination, METHOD_REFUSED, METHOD_USERPASS, parseSocks, SocksParse, SocksStatus,
  SOCKS5_COMMAND_NOT_SUPPORTED, SOCKS5_GENERAL_FAILURE, writeFailureReply,
} from './socks';

/** What the client's bytes so far amount to. */
export const enum Handshaken {
  /** More bytes are needed (answered as far as they go). */
  NeedMore = 0,
  /** A CONNECT request, complete: the stages run next (steps 707-710). */
  Request = 1,
  /** Refused: the client has its answer and the close. */
  Refused = 2,
}

/**
 * The SOCKS responder: answers the client's SOCKS handshake in the server's stead, in the
 * client's own dialect (RFC 1928, RFC 1929, SOCKS4/4a): the SOCKS5 method reply, the RFC 1929
 * verdict (given optimistically: the chosen server has the last word), and the failure replies.
 * It reads the collected bytes from the start each time (socks.ts), so any segmentation works.
 */
export class SocksResponder {
  /** The parse of the last complete request, read by the server leg when it composes. */
  readonly parse = new SocksParse();
  private readonly scratch = Buffer.alloc(16);

  constructor(private readonly cx: FlowContext, private readonly client: ClientLeg) {}

  /** Steps 705-706: what the collected bytes are, answering what they ask for. */
  advance(c: Connection): Handshaken {
    const h = c.hs!;
    const buf = h.collected!;
    const p = parseSocks(buf, 0, h.collectedLength, this.parse);
    c.version = p.version;
    if (p.status === SocksStatus.Invalid) {
      this.refuse(c, SOCKS5_GENERAL_FAILURE, p.version === 4 || p.version === 5);
      return Handshaken.Refused;
    }
    const answeredBefore = h.answered;
    if (p.version === 5 && p.greetingEnd > 0) {
      h.method = p.method;
      if (h.answered === 0) {
        // The method reply: [5, method]; with no acceptable method, the close follows it.
        this.answer(c, 5, p.method, p.method === METHOD_REFUSED);
        if (p.method === METHOD_REFUSED) {
          this.refused(c);
          return Handshaken.Refused;
        }
      }
      if (p.method === METHOD_USERPASS && p.authEnd > p.greetingEnd && h.answered === 2) {
        // RFC 1929 success, given optimistically: the chosen server has the last word.
        this.answer(c, 1, 0, false);
      }
    }
    if (p.status !== SocksStatus.Complete) {
      if (h.answered === answeredBefore) this.client.ack(c); // an answer carries the ACK already
      return Handshaken.NeedMore;
    }
    h.requestEnd = p.requestEnd;
    c.destination = `${describeDestination(buf, 0, p)}:${p.port}`;
    c.dialect = clientDialect(p);
    if (p.command !== CMD_CONNECT) {
      this.refuse(c, SOCKS5_COMMAND_NOT_SUPPORTED, true);
      return Handshaken.Refused;
    }
    this.client.ack(c);
    return Handshaken.Request;
  }

  /** A 2-byte SOCKS5 answer ([5, method] or [1, status]) in the server's stead. */
  private answer(c: Connection, a: number, b: number, fin: boolean): void {
    this.scratch[0] = a;
    this.scratch[1] = b;
    this.client.send(c, this.scratch, 0, 2, ACK | PSH | (fin ? FIN : 0));
    c.hs!.answered += 2;
  }

  /** The SOCKS failure reply for the client's version (when it has one), then the close. */
  refuse(c: Connection, code: number, withReply: boolean): void {
    let n = 0;
    if (withReply && (c.version === 4 || c.version === 5)) n = writeFailureReply(c.version, code, this.scratch, 0);
    this.client.send(c, this.scratch, 0, n, ACK | PSH | FIN);
    this.refused(c);
  }

  /** The client is answered and closed: the entry lingers for its FIN, then goes (step 714). */
  private refused(c: Connection): void {
    const cx = this.cx;
    cx.stats.refused++;
    cx.table.setState(c, ConnState.Refused);
    c.hs!.collected = null;
    c.closeAt = cx.now + LINGER * 2;
    cx.watched.add(c);
  }
}
