import type { Scheduler } from './scheduler';

/**
 * Round robin (step 1007: "one record is selected this time, and next time a different one").
 * Remembers the last server chosen and takes the first candidate after it in server order,
 * wrapping around. Because it remembers a server rather than a position, candidate lists
 * that differ from call to call (other ALPs, servers down) still rotate fairly.
 */
export class RoundRobin implements Scheduler {
  readonly name = 'rr';
  private last = -1;

  pick(candidates: Int32Array, n: number): number {
    let chosen = candidates[0];
    for (let i = 0; i < n; i++) {
      if (candidates[i] > this.last) {
        chosen = candidates[i];
        break;
      }
    }
    this.last = chosen;
    return chosen;
  }
}
