import type { Connection } from './connection';
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
    private readonly remove: (c: Connection) => void,
  ) {}

  readonly halfOpenTimeout: Transition = (c) => {
    if (this.cx.now < c.hs!.deadline) return false;
    this.cx.stats.handshakeTimeouts++;
    this.cx.table.stats.expiredHalfOpen++;
    this.client.reset(c);
    this.remove(c);
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
      h.retries++;
      h.deadline = now + (SYN_RTO << h.retries);
      this.leg.syn(c);
    }
    return false;
  };

  readonly replayTimer: Transition = (c) => {
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

  readonly lingerTimer: Transition = (c) => {
    if (this.cx.now >= c.closeAt) this.remove(c);
    return false;
  };
}
