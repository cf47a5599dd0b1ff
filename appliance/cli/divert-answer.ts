import { formatTable } from '../text/table';

/** Prints the answer to a divert command, the same from `ctl divert` and `socksalp divert`. */
export function printDivertAnswer(op: string, a: Record<string, unknown>, out: (s: string) => void): void {
  if (op !== 'list') {
    out(String(a.message));
    return;
  }
  const entries = a.entries as Record<string, unknown>[];
  out(entries.length ? formatTable(['Original', 'Diverted'], entries.map((e) => [String(e.original), String(e.diverted)]), '') : 'no diversions');
}
