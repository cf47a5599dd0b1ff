/**
 * The final choice among equally good servers (patent figure 10, step 1007), one file per
 * algorithm behind this interface, as Linux IPVS keeps its schedulers.
 */
export interface Scheduler {
  readonly name: string;
  /** Picks one of `candidates[0..n)` (server indices, ascending). */
  pick(candidates: Int32Array, n: number): number;
}
