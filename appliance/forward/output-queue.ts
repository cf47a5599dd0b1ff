import type { OnDiscard, QueueEntries } from '../stages/congestion-control';
import type { PacketPool } from '../device/packet-pool';

/** Entry flags: the appliance's own segment (never discarded); its ALP is discard-eligible. */
const PROTECTED = 1;
const DISCARD_ELIGIBLE = 2;

/**
 * A server's output queue: slots waiting for its TAP, in order, each with the Datagram_ALP,
 * Datagram_Priority and discard eligibility the patent has the forwarder store beside it
 * (figure 9, step 910), so congestion control never re-reads a packet nor a table. A ring of
 * typed arrays: no objects per entry.
 */
export class OutputQueue implements QueueEntries {
  private readonly slots: Int32Array;
  private readonly lens: Int32Array;
  private readonly alps: Int16Array;
  private readonly prios: Uint8Array;
  private readonly flags: Uint8Array;
  private head = 0;
  private count = 0;
  /** Entries the ring can hold: the bound plus room for protected entries and the arrival. */
  readonly capacity: number;

  constructor(readonly bound: number, private readonly pool: PacketPool) {
    this.capacity = bound * 2 + 64;
    this.slots = new Int32Array(this.capacity);
    this.lens = new Int32Array(this.capacity);
    this.alps = new Int16Array(this.capacity);
    this.prios = new Uint8Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
  }

  get length(): number {
    return this.count;
  }

  private at(i: number): number {
    return (this.head + i) % this.capacity;
  }

  /** False when the ring is full (only protected entries could make it so): the caller drops. */
  push(slot: number, len: number, alp: number, priority: number, discardEligible: boolean, isProtected: boolean): boolean {
    if (this.count === this.capacity) return false;
    const j = this.at(this.count);
    this.slots[j] = slot;
    this.lens[j] = len;
    this.alps[j] = alp;
    this.prios[j] = priority;
    this.flags[j] = (isProtected ? PROTECTED : 0) | (discardEligible ? DISCARD_ELIGIBLE : 0);
    this.count++;
    return true;
  }

  /** The newest entry's slot and length (the queue is not empty): what a datagram behind it may join (fin-merge.ts). */
  get lastSlot(): number { return this.slots[this.at(this.count - 1)]; }
  get lastLen(): number { return this.lens[this.at(this.count - 1)]; }

  alpAt(i: number): number { return this.alps[this.at(i)]; }
  priorityAt(i: number): number { return this.prios[this.at(i)]; }
  discardEligibleAt(i: number): boolean { return (this.flags[this.at(i)] & DISCARD_ELIGIBLE) !== 0; }
  protectedAt(i: number): boolean { return (this.flags[this.at(i)] & PROTECTED) !== 0; }

  removeMarked(marks: Uint8Array, onDiscard: OnDiscard): number {
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const j = this.at(i);
      if (marks[i] === 1) {
        onDiscard(this.alps[j], this.prios[j], this.slots[j], this.lens[j]);
        this.pool.give(this.slots[j]);
        continue;
      }
      const k = this.at(kept++);
      this.slots[k] = this.slots[j];
      this.lens[k] = this.lens[j];
      this.alps[k] = this.alps[j];
      this.prios[k] = this.prios[j];
      this.flags[k] = this.flags[j];
    }
    const removed = this.count - kept;
    this.count = kept;
    return removed;
  }

  /** Hands entries to `write` in order until it refuses one (the device would block). */
  drain(write: (slot: number, len: number) => boolean): void {
    while (this.count > 0) {
      const j = this.head;
      if (!write(this.slots[j], this.lens[j])) return;
      this.pool.give(this.slots[j]);
      this.head = (this.head + 1) % this.capacity;
      this.count--;
    }
  }

  /** Releases every queued slot (a device that vanished). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.pool.give(this.slots[this.at(i)]);
    this.count = 0;
  }
}
