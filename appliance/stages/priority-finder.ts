import type { AlpTable } from '../config/tables';

/**
 * Socks Priority Finder (patent figure 8): Datagram_Priority and Discard_Eligible of an ALP,
 * from the Socks ALP Configuration table read once (step 802) into two arrays indexed by ALP
 * id (AlpRegistry). Ids the table does not hold get the default record's values.
 */
export class PriorityFinder {
  readonly priority: Uint8Array;
  readonly discardEligible: Uint8Array;

  /** @param ids the AlpRegistry id of each record, the default record's last */
  constructor(alps: AlpTable, ids: readonly number[]) {
    const all = [...alps.records, alps.fallback];
    const size = Math.max(...ids) + 1;
    this.priority = new Uint8Array(size).fill(alps.fallback.priority);
    this.discardEligible = new Uint8Array(size).fill(alps.fallback.discardEligible ? 1 : 0);
    all.forEach((r, i) => {
      this.priority[ids[i]] = r.priority;
      this.discardEligible[ids[i]] = r.discardEligible ? 1 : 0;
    });
  }

  /** Steps 804-805. */
  priorityOf(alp: number): number {
    return this.priority[alp];
  }

  isDiscardEligible(alp: number): boolean {
    return this.discardEligible[alp] === 1;
  }
}
