import { ConnState, type Connection } from './connection';
import { EndReason } from '../stats/end-reason';
import type { ClientLeg } from './client-leg';
import type { FlowContext } from './context';
import type { Transition } from './machine';
import { REPLAY_RTO, SYN_RTO, type ServerLeg } from './server-leg';

/**
 * The table's last column: what the clock does in each state. The dispatcher's `tick` runs
 * these for every connection with a timer (the handshakes, unacknowledged replays, lingering
 * closes); the idle timeout of established connections is the census's sweep.
 */
export class Clock {
  constructor(
    private readonly cx: FlowContext,
    private readonly client: ClientLeg,
    private readonly leg: ServerLeg,
    private readonly end: (c: Connection, why: EndReason) => void,
  ) {}

  readonly halfOpenTimeout: Transition = (c) => {
    if (this.cx.now < c.hs!.deadline) return false;
    this.cx.stats.handshakeTimeouts++;
    this.cx.table.stats.expiredHalfOpen++;
    this.client.reset(c);
    this.end(c, EndReason.HandshakeTimeout);
    return false;
  };

  readonly synTimer: Transition = (c) => {
    const h = c.hs!;
    const now = this.cx.now;
    if (now < h.deadline) return false;
    const timeout = this.cx.stages.settings.connectTimeout;
    if (now - h.connectStarted >= timeout) {
      this.leg.failed(c, `did not answer within ${timeout} s`);
    } else {
      // RFC 6298's doubling, but never past connect_timeout.
      h.retries++;
      h.deadline = Math.min(now + (SYN_RTO << h.retries), h.connectStarted + timeout);
      this.leg.syn(c);
    }
    return false;
  };

  /**
   * The replay retransmitted until acknowledged; an answer to the greeting or sub-negotiation
   * awaited for connect_timeout. A server that takes neither is failed over while nothing of
   * it has reached the client (its reply); after that, both legs are reset.
   */
  readonly replayTimer: Transition = (c) => {
    const h = c.hs!;
    const now = this.cx.now;
    const timeout = this.cx.stages.settings.connectTimeout;
    if (h.serverAcked >= h.replayedTo) {
      if (c.state === ConnState.Replaying && now - h.phaseSent >= timeout) this.leg.failed(c, `did not answer the SOCKS handshake within ${timeout} s`, true);
      return false;
    }
    if (now < h.deadline) return false;
    if (++h.retries > 6) {
      this.cx.stats.replayGaveUp++;
      if (!h.replied) {
        this.leg.failed(c, 'did not acknowledge the SOCKS handshake', true);
        return false;
      }
      this.cx.flows.failed(c.server, c.alp);
      this.leg.resetLeg(c);
      this.client.reset(c);
      this.end(c, EndReason.ServerFailed);
      return false;
    }
    h.deadline = now + REPLAY_RTO * (1 << h.retries);
    this.leg.send(c, h.serverAcked, h.replayedTo);
    return false;
  };

  readonly lingerTimer: Transition = (c) => {
    if (this.cx.now >= c.closeAt) this.end(c, EndReason.Fin);
    return false;
  };
}
