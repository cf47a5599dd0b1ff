import { DEFENCES } from '../defences';
import { RST, seqLater, type TcpView } from '../wire/tcp';
import type { ClientLeg } from './client-leg';
import { ConnState, type Connection } from './connection';
import { FLAG_PICKUP_CLIENT, FLAG_PICKUP_SERVER } from './columns';
import { RECEIVE_WINDOW, type FlowContext } from './context';
import type { ServerLeg } from './server-leg';

/** Seconds between two challenge ACKs of one connection: Linux's tcp_invalid_ratelimit (500 ms). */
const PER_CONNECTION = 0.5;
/** What a sender may have kept of a window the receiver just made smaller. */
const SLACK = 65536;
/** The largest window RFC 7323 allows (65535 << 14), about 2^30. */
const MAX_WINDOW = 1 << 30;
/** Challenge ACKs a second in all: Linux's tcp_challenge_ack_limit as it was (1000) before 6.0 made it per socket only. */
const PER_SECOND = 1000;

const enum Rst {
  /** Exactly the next sequence number: the connection ends. */
  Obey,
  /** In the window: a challenge ACK. */
  Challenge,
  /** Outside: dropped. */
  Drop,
}

/**
 * RFC 5961 on both legs of a synchronized connection, as Linux's tcp_validate_incoming does
 * it: a RST is obeyed only at exactly the next sequence number expected from its sender (3.2);
 * one elsewhere in the receive window gets a challenge ACK, one outside it is dropped; a SYN
 * on a spliced connection gets a challenge ACK and changes nothing (4.2). The real peer
 * answers a challenge ACK with a RST at the exact number, so a genuine reset still ends the
 * connection; a blind attacker, who does not see the ACK, cannot.
 *
 * "Next expected" on each leg is where the appliance stands: during the handshake the client
 * leg's and the replay's own counts, from the splice on the highest sequence number forwarded
 * each way (connection.ts upNext, downNext). The window is the one the other end last
 * advertised to the sender, as the sender reads it; before one has passed, the appliance's own.
 */
export class SegmentGuard {
  readonly stats = { rstExact: 0, rstChallenged: 0, rstOutOfWindow: 0, synChallenged: 0, dataOutOfWindow: 0, pickedUp: 0, challengeAcks: 0, challengeAcksLimited: 0 };
  private second = -1;
  private sentThisSecond = 0;
  /** When each connection's last challenge ACK went: few connections ever get one, so not a field of every one. */
  private readonly lastChallenge = new WeakMap<Connection, number>();

  constructor(private readonly cx: FlowContext, private readonly client: ClientLeg, private readonly leg: ServerLeg) {}

  /** A client segment with RST or SYN: true when it was taken here (dropped, perhaps answered). */
  fromClient(c: Connection, tcp: TcpView, flags: number): boolean {
    if (!DEFENCES) return false;
    // SYN-RECEIVED has RFC 9293's own rules (the table); after a refusal or a close anything passes.
    if (c.state < ConnState.Collecting || c.state > ConnState.Spliced) return false;
    if ((flags & RST) === 0 && c.state !== ConnState.Spliced) return false;
    if (flags & RST && c.pickup & FLAG_PICKUP_CLIENT) return this.rstBeforePickUp(tcp, (c.upNext - c.upShift) >>> 0);
    const h = c.hs;
    const spliced = c.state === ConnState.Spliced;
    const next = spliced ? seqLater((c.upNext - c.upShift) >>> 0, h === null ? undefined : h.clientNext) : h!.clientNext;
    if (flags & RST) {
      const v = this.rst(tcp.seq, next, spliced && c.winToClient >= 0 ? c.winToClient << c.clientScale : RECEIVE_WINDOW);
      if (v !== Rst.Challenge) return v === Rst.Drop;
    } else {
      this.stats.synChallenged++;
    }
    if (this.allowed(c)) {
      const seq = spliced ? seqLater((c.downNext + c.delta) >>> 0, h === null ? undefined : h.ourNext) : h!.ourNext;
      this.client.challenge(c, seq, next);
    }
    return true;
  }

  /** A server segment with RST or SYN: true when it was taken here. */
  fromServer(c: Connection, tcp: TcpView, flags: number): boolean {
    if (!DEFENCES) return false;
    // Before the server's SYN-ACK, SYN-SENT's rules hold (server-leg.ts onConnecting).
    if (c.state !== ConnState.Replaying && c.state !== ConnState.Spliced) return false;
    if ((flags & RST) === 0 && c.state !== ConnState.Spliced) return false;
    if (flags & RST && c.pickup & FLAG_PICKUP_SERVER) return this.rstBeforePickUp(tcp, c.downNext);
    const h = c.hs;
    const spliced = c.state === ConnState.Spliced;
    const next = spliced ? seqLater(c.downNext, h === null ? undefined : h.serverNext) : h!.serverNext;
    if (flags & RST) {
      const v = this.rst(tcp.seq, next, spliced && c.winToServer >= 0 ? c.winToServer << c.serverScale : RECEIVE_WINDOW);
      if (v !== Rst.Challenge) return v === Rst.Drop;
    } else {
      this.stats.synChallenged++;
    }
    if (this.allowed(c)) {
      const replayed = h === null ? undefined : (c.clientIsn + 1 + h.replayedTo) >>> 0;
      this.leg.challenge(c, spliced ? seqLater(c.upNext, replayed) : replayed!, next);
    }
    return true;
  }

  /**
   * The splice's segments, both ways (RFC 9293 3.10.7.4's acceptability, as a middlebox can
   * judge it): one that starts beyond the window its receiver last advertised, or ends more than
   * a largest window behind, is no one's: dropped and counted, so that a blind injection never
   * moves the appliance's idea of where the stream stands (upNext, downNext). A slack of 64 KiB
   * over the last window keeps a sender that used a window just withdrawn. False: drop it.
   */
  inWindowFromClient(c: Connection, tcp: TcpView): boolean {
    if (c.pickup & FLAG_PICKUP_CLIENT) return this.pickUp(c, tcp, FLAG_PICKUP_CLIENT, (c.upNext - c.upShift) >>> 0);
    return this.acceptable(tcp, (c.upNext - c.upShift) >>> 0, c.winToClient >= 0 ? c.winToClient << c.clientScale : RECEIVE_WINDOW);
  }

  inWindowFromServer(c: Connection, tcp: TcpView): boolean {
    if (c.pickup & FLAG_PICKUP_SERVER) return this.pickUp(c, tcp, FLAG_PICKUP_SERVER, c.downNext);
    return this.acceptable(tcp, c.downNext, c.winToServer >= 0 ? c.winToServer << c.serverScale : RECEIVE_WINDOW);
  }

  /**
   * The first segment of a leg of a connection taken over from an HA peer (sync/promotion.ts):
   * its sender has gone on since the peer's last sync (a download moves the server's sequence
   * number by megabytes), so, as conntrackd's and IPVS's loose pickup, the segment is accepted
   * if it starts at or after the synced number, within half the sequence space, or at most a
   * largest window before it (a retransmission); it sets where that direction stands, and
   * from its next segment on the leg is checked as any other. `synced`: in the sender's space.
   */
  private pickUp(c: Connection, tcp: TcpView, leg: number, synced: number): boolean {
    if (DEFENCES && ((tcp.seq - synced) | 0) < -MAX_WINDOW) {
      this.stats.dataOutOfWindow++;
      return false;
    }
    this.stats.pickedUp++;
    c.pickup &= ~leg;
    if (leg === FLAG_PICKUP_CLIENT) c.upNext = (tcp.seq + c.upShift) | 0;
    else c.downNext = tcp.seq | 0;
    return true;
  }

  /**
   * A RST as the first segment of a leg still to be picked up: its sender's number is past the
   * synced one, so RFC 5961 3.2's exact match cannot be judged here (the genuine RST would be
   * dropped, and its sender, closed, would answer every later segment with another). As the
   * pickup does (and conntrackd's), it passes where a first segment would, to the splice, whose
   * pickUp anchors on it; its receiver's own RFC 5961 check still judges it. True: dropped.
   */
  private rstBeforePickUp(tcp: TcpView, synced: number): boolean {
    if (((tcp.seq - synced) | 0) >= -MAX_WINDOW) return false;
    this.stats.rstOutOfWindow++;
    return true;
  }

  private acceptable(tcp: TcpView, next: number, window: number): boolean {
    if (!DEFENCES) return true;
    const off = (tcp.seq - next) | 0;
    if (off <= window + SLACK && off + tcp.payloadLength >= -MAX_WINDOW) return true;
    this.stats.dataOutOfWindow++;
    return false;
  }

  /** RFC 5961 3.2: a RST at `seq`, `next` expected and `window` bytes open after it (counted). */
  private rst(seq: number, next: number, window: number): Rst {
    const off = (seq - next) | 0;
    if (off === 0) {
      this.stats.rstExact++;
      return Rst.Obey;
    }
    if (off < 0 || off >= window) {
      this.stats.rstOutOfWindow++;
      return Rst.Drop;
    }
    this.stats.rstChallenged++;
    return Rst.Challenge;
  }

  /** One challenge ACK per connection per PER_CONNECTION, PER_SECOND in all. */
  private allowed(c: Connection): boolean {
    const now = this.cx.now;
    const s = Math.floor(now);
    if (s !== this.second) {
      this.second = s;
      this.sentThisSecond = 0;
    }
    if (now - (this.lastChallenge.get(c) ?? -Infinity) < PER_CONNECTION || this.sentThisSecond >= PER_SECOND) {
      this.stats.challengeAcksLimited++;
      return false;
    }
    this.lastChallenge.set(c, now);
    this.sentThisSecond++;
    this.stats.challengeAcks++;
    return true;
  }
}
