/** The window's width: RFC 4303 3.4.3's minimum of 32, at the 64 it recommends. */
export const REPLAY_WINDOW = 64;

export const enum Replay {
  Accepted,
  /** Seen already within the window. */
  Replayed,
  /** Behind the window: whether it was seen cannot be told. */
  TooOld,
  /** Of an epoch before the sender's current one: from before the sender restarted. */
  StaleEpoch,
}

/** A number skipped over (counted in lost), one accepted, one before the first heard from a sender (not counted). */
const GAP = 0;
const SEEN = 1;
const UNCOUNTED = 2;

/** One sender's window: its epoch, the highest sequence number seen in it, and which of the 64 below were seen. */
class SenderWindow {
  epoch = 0;
  top = 0;
  /** seen[s % 64] for s in (top - 64, top]: GAP, SEEN or UNCOUNTED. */
  readonly seen = new Uint8Array(REPLAY_WINDOW);
}

/**
 * Issue 16's anti-replay, per sender, as RFC 4303 3.4.3 does it for ESP: a sliding window of
 * 64 sequence numbers ending at the highest one accepted. A sender numbers its datagrams from 0
 * in each epoch and starts a new, higher epoch when it restarts (or runs out of numbers), so
 * that the pair (epoch, seq) never repeats: a higher epoch opens a fresh window, a lower one
 * is refused. Call `check` only on datagrams whose MAC verified (RFC 4303: the window is
 * updated after the integrity check), so that a forger cannot move it.
 *
 * `lost` counts the numbers skipped over and not filled in later (gaps: datagrams lost on the
 * way, or not yet arrived), on the windows of known senders; the first datagram heard from a
 * sender counts none before it.
 */
export class ReplayWindows {
  readonly stats = { accepted: 0, lost: 0, replayed: 0, tooOld: 0, staleEpoch: 0, epochs: 0 };
  private readonly senders = new Map<number, SenderWindow>();

  check(sender: number, epoch: number, seq: number): Replay {
    let w = this.senders.get(sender);
    if (w === undefined) {
      w = new SenderWindow();
      this.senders.set(sender, w);
      this.open(w, epoch, seq, UNCOUNTED);
      return this.accepted();
    }
    if (epoch < w.epoch) {
      this.stats.staleEpoch++;
      return Replay.StaleEpoch;
    }
    if (epoch > w.epoch) {
      // The numbers of the new epoch before the first one heard were lost.
      this.stats.lost += seq;
      this.stats.epochs++;
      this.open(w, epoch, seq, GAP);
      return this.accepted();
    }
    if (seq > w.top) {
      const ahead = seq - w.top;
      // Slots that leave the window unseen were gaps already counted; the ones skipped now are new gaps.
      for (let s = w.top + 1, n = Math.min(ahead, REPLAY_WINDOW); n > 0; s++, n--) w.seen[s % REPLAY_WINDOW] = GAP;
      this.stats.lost += ahead - 1;
      w.top = seq;
      w.seen[seq % REPLAY_WINDOW] = SEEN;
      return this.accepted();
    }
    if (w.top - seq >= REPLAY_WINDOW) {
      this.stats.tooOld++;
      return Replay.TooOld;
    }
    const slot = w.seen[seq % REPLAY_WINDOW];
    if (slot === SEEN) {
      this.stats.replayed++;
      return Replay.Replayed;
    }
    // Late, not lost: a gap filled in.
    w.seen[seq % REPLAY_WINDOW] = SEEN;
    if (slot === GAP) this.stats.lost--;
    return this.accepted();
  }

  /** The epoch a sender is in, undefined before its first datagram. */
  epochOf(sender: number): number | undefined {
    return this.senders.get(sender)?.epoch;
  }

  /** `below`: what the numbers under the first one are (a new epoch's were counted lost). */
  private open(w: SenderWindow, epoch: number, seq: number, below: number): void {
    w.epoch = epoch;
    w.top = seq;
    w.seen.fill(below);
    w.seen[seq % REPLAY_WINDOW] = SEEN;
  }

  private accepted(): Replay {
    this.stats.accepted++;
    return Replay.Accepted;
  }
}
