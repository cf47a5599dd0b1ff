import { truncate } from '../appliance/text/units';
import type { DashboardModel } from './model';

/**
 * The diverted-address table (the network-management patent's address table, its "diverted
 * addresses" section) as the dashboard shows and changes it: the panel's lines and the control
 * requests built from what the operator types. Pure, so that tests need no terminal. What an
 * address or a mode may be is the appliance's to say: the words are passed on as typed and
 * its error text is shown as is, so that the dashboard and `ctl divert` can never disagree.
 */

/** One entry as the control socket writes it. */
export interface DivertRow {
  original: string;
  diverted: string;
  /** A server diversion's two servers, "sa -> sc" (stages/server-diversion.ts). */
  servers?: string;
}

export type DivertRequest =
  | { cmd: 'divert'; op: 'add'; original: string; diverted: string; mode: string }
  | { cmd: 'divert'; op: 'remove'; original: string; mode: string };

export type Typed = { ok: true; request: DivertRequest } | { ok: false; error: string };

export const ADD_PROMPT = 'divert: ORIGINAL DIVERTED [drain|move] (drain if none; Esc cancels): ';

export function removePrompt(entry: DivertRow): string {
  return `remove ${entry.original} -> ${entry.diverted}? Enter: drain, or type move; Esc keeps it: `;
}

function words(line: string): string[] {
  return line.split(/\s+/).filter((w) => w !== '');
}

/** The add prompt's line: `ORIGINAL DIVERTED [MODE]`, drain when no mode is typed. */
export function parseDivertLine(line: string): Typed {
  const w = words(line);
  if (w.length !== 2 && w.length !== 3) return { ok: false, error: `divert add: type ORIGINAL DIVERTED [drain|move], not ${w.length} word(s)` };
  const [original, diverted, mode = 'drain'] = w;
  return { ok: true, request: { cmd: 'divert', op: 'add', original, diverted, mode } };
}

/** The remove confirmation's answer: nothing for drain, or the mode's one word. */
export function parseRemoveAnswer(entry: DivertRow, answer: string): Typed {
  const w = words(answer);
  if (w.length > 1) return { ok: false, error: `divert remove: type nothing (drain) or one mode, not ${w.length} words; ${entry.original} stays` };
  return { ok: true, request: { cmd: 'divert', op: 'remove', original: entry.original, mode: w[0] ?? 'drain' } };
}

/** The status line's text for the appliance's answer: its message, or its error as is. */
export function divertAnswerText(op: DivertRequest['op'], answer: Record<string, unknown>): string {
  return answer.ok === true ? `divert: ${String(answer.message)}` : `divert ${op}: ${String(answer.error)}`;
}

/**
 * `height` lines at most: the entries around the cursor, `ORIGINAL -> DIVERTED` in table
 * order, then their number. `live` adds the cursor and the keys; `dash --once` has neither.
 */
export function divertPanel(m: DashboardModel, width: number, height: number, live: boolean): string[] {
  const rows = m.diverted;
  if (!rows.length) return [truncate(`no diversions: connections go where they ask${live ? '; a adds one' : ''}`, width)];
  const room = Math.max(1, height - 1);
  // The cursor's entry stays in view: at the bottom once it is past the first screenful.
  const first = live ? Math.max(0, m.divertSelected - room + 1) : 0;
  const shown = rows.slice(first, first + room);
  const w = Math.max(...shown.map((r) => r.original.length));
  const lines = shown.map((r, k) => `${live && first + k === m.divertSelected ? '>' : ' '} ${r.original.padEnd(w)} -> ${r.diverted}${r.servers ? `  (servers ${r.servers})` : ''}`);
  const range = shown.length < rows.length ? `, ${first + 1}-${first + shown.length} shown` : '';
  lines.push(`${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}${range}${live ? '; a adds, d removes the selected' : ''}`);
  return lines.map((l) => truncate(l, width));
}
