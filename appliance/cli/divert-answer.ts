import { formatTable } from '../text/table';

/** Prints the answer to a divert command, the same from `ctl divert` and `socksalp divert`. */
export function printDivertAnswer(op: string, a: Record<string, unknown>, out: (s: string) => void): void {
  if (op !== 'list') {
    out(String(a.message));
    return;
  }
  const entries = a.entries as Record<string, unknown>[];
  if (!entries.length) return out('no diversions');
  // A server diversion's row says which servers it moves new connections between.
  if (!entries.some((e) => e.servers !== undefined)) return out(formatTable(['Original', 'Diverted'], entries.map((e) => [String(e.original), String(e.diverted)]), ''));
  out(formatTable(['Original', 'Diverted', 'Servers'], entries.map((e) => [String(e.original), String(e.diverted), e.servers === undefined ? '' : String(e.servers)]), ''));
}
