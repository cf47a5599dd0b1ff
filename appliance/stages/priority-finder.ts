import type { AlpTable } from '../config/tables';

/**
 * Socks Priority Finder (patent figure 8): Datagram_Priority and Discard_Eligible of an ALP,
 * from the Socks ALP Configuration table read once (step 802) into two arrays indexed like
 * TrafficAnalyzer's ALP numbers, the default record last.
 */
export class PriorityFinder {
  readonly priority: Uint8Array;
  readonly discardEligible: Uint8Array;

  constructor(alps: AlpTable) {
    const all = [...alps.records, alps.fallback];
    this.priority = Uint8Array.from(all.map((r) => r.priority));
    this.discardEligible = Uint8Array.from(all.map((r) => (r.discardEligible ? 1 : 0)));
  }

  /** Steps 804-805. */
  priorityOf(alp: number): number {
    return this.priority[alp];
  }

  isDiscardEligible(alp: number): boolean {
    return this.discardEligible[alp] === 1;
  }
}
