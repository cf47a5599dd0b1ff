/**
 * What congestion control needs to see of an output queue (forward/output-queue implements it).
 * Each entry carries its connection's ALP, priority and discard eligibility as they were when
 * the connection was classified: a reload does not change how a queued datagram is judged.
 */
export interface QueueEntries {
  readonly length: number;
  priorityAt(i: number): number;
  /** Whether the entry's ALP is in List_ALP_D (step 904). */
  discardEligibleAt(i: number): boolean;
  /** The appliance's own handshake segments are never discarded. */
  protectedAt(i: number): boolean;
  /** Removes the entries whose mark is 1 and releases their packets (told to `onDiscard` first); returns how many. */
  removeMarked(marks: Uint8Array, onDiscard: OnDiscard): number;
}

/** A discarded entry: its ALP and priority, and its packet's slot and length (still held during the call). */
export type OnDiscard = (alp: number, priority: number, slot: number, len: number) => void;

/**
 * Socks ALP Congestion Control (patent figure 9, claims 4-5).
 *
 * The queue is congested when it holds more than `bound` datagrams (step 905). Then, counting
 * the arriving datagram as queued (step 910):
 *   ListD = the datagrams whose ALP is in List_ALP_D (discard-eligible, step 904) and whose
 *           priority is the lowest among those (step 911);
 *   ListD not empty -> discard all of ListD (step 914);
 *   ListD empty     -> discard the datagrams with the lowest priority (step 913);
 * and loop until the queue is within its bound. Protected datagrams take no part. The
 * arriving datagram is the queue's last entry; the result says whether it survived (906).
 */
export class CongestionControl {
  private marks = new Uint8Array(0);

  /** Runs the figure 9 loop on `q`, whose last entry just arrived. False when that one was discarded. */
  admit(q: QueueEntries, bound: number, onDiscard: OnDiscard): boolean {
    if (q.length <= bound) return true;
    let arrivingAlive = true;
    while (q.length > bound) {
      if (this.marks.length < q.length) this.marks = new Uint8Array(q.length * 2);
      const n = q.length;
      let lowestD = 256;
      let lowest = 256;
      for (let i = 0; i < n; i++) {
        if (q.protectedAt(i)) continue;
        const p = q.priorityAt(i);
        if (p < lowest) lowest = p;
        if (p < lowestD && q.discardEligibleAt(i)) lowestD = p;
      }
      if (lowest === 256) break; // only protected datagrams left: nothing may go
      const useD = lowestD !== 256;
      const target = useD ? lowestD : lowest;
      for (let i = 0; i < n; i++) {
        const hit = !q.protectedAt(i) && q.priorityAt(i) === target && (!useD || q.discardEligibleAt(i));
        this.marks[i] = hit ? 1 : 0;
      }
      if (this.marks[n - 1] === 1) arrivingAlive = false;
      q.removeMarked(this.marks, onDiscard);
    }
    return arrivingAlive;
  }
}
