import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { KEY, SECTION } from '../config/ini-file';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { formatEndpoint, parseEndpoint, type DivertedEntry } from './endpoint';
import { DIVERTED_SECTION } from '../config/diverted-ini';
import { decodeUtf8, quote } from '../text/printable';

/** The start of a diverted.ini that `save` creates (conf/diverted.ini says more). */
export const NEW_FILE_HEADER = [
  '; Diverted addresses (patent figure 2b, table 209): a SOCKS CONNECT to ORIGINAL goes to DIVERTED.',
  ';   ORIGINAL = DIVERTED, each side address:port ([IPv6]:port), address (every port), host name:port or host name;',
  ';   a diverted side without a port keeps the original port. Written by socksalp; comments are kept.',
  '',
];

/** An entry line: what comes before the value, the value, an inline comment. */
const ENTRY = /^(\s*[^=]+?\s*=\s*)([^;#]*?)(\s*[;#].*)?$/;

interface Block {
  /** Blank and comment lines above the entry, since the previous one. */
  notes: string[];
  raw: string;
  /** The original's canonical text; undefined when the key is not an endpoint (dropped). */
  key: string | undefined;
}

/**
 * The text of diverted.ini holding `entries`, made from the file's current text (`existing`,
 * undefined when there is no file) so that what the operator wrote stays:
 *
 * - everything up to and including `[diverted]` (the header comments) as it is;
 * - an entry still in the table: its line as written, with the comment lines above it and its
 *   inline comment; only the value is rewritten when the diverted side changed;
 * - an entry no longer in the table: its line and the comment lines right above it go; lines
 *   above a blank line (a comment on a group of entries) stay;
 * - comment lines after the last entry stay;
 * - entries not in the file: appended, in table order, as `ORIGINAL = DIVERTED`.
 *
 * So the file's order is kept and a second save of the same table writes the same text. Throws
 * when `existing` holds something other than comments, `[diverted]` and entries (edited by hand
 * since it was loaded, and not valid): it is not overwritten.
 */
export function renderDiverted(existing: string | undefined, entries: readonly DivertedEntry[]): string {
  const eol = existing?.includes('\r\n') ? '\r\n' : '\n';
  const lines = existing === undefined ? [...NEW_FILE_HEADER] : existing.split(/\r?\n/);
  if (existing !== undefined && lines[lines.length - 1] === '') lines.pop();

  const preamble: string[] = [];
  const blocks: Block[] = [];
  let notes: string[] = [];
  let inSection = false;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) {
      (inSection ? notes : preamble).push(raw);
      return;
    }
    const s = SECTION.exec(raw);
    if (s) {
      if (s[1].trim() !== DIVERTED_SECTION || inSection) throw new Error(`diverted.ini:${i + 1}: ${quote(trimmed)} is not the one [${DIVERTED_SECTION}] section; not overwritten`);
      preamble.push(raw);
      inSection = true;
      return;
    }
    const k = KEY.exec(raw);
    if (!k || !inSection) throw new Error(`diverted.ini:${i + 1}: ${quote(trimmed)} is not a comment, [${DIVERTED_SECTION}] or an entry in it; not overwritten`);
    const o = parseEndpoint(k[1]);
    blocks.push({ notes, raw, key: o.ok ? formatEndpoint(o.endpoint) : undefined });
    notes = [];
  });
  const trailer = notes;

  const wanted = new Map(entries.map((e) => [formatEndpoint(e.original), e]));
  const written = new Set<string>();
  const out = [...preamble];
  if (!inSection) out.push(`[${DIVERTED_SECTION}]`);
  let carried: string[] = [];
  for (const b of blocks) {
    const e = b.key === undefined || written.has(b.key) ? undefined : wanted.get(b.key);
    if (e === undefined) {
      // Dropped, with the comments attached to it; a group's comment above a blank line stays.
      const blank = b.notes.map((n) => n.trim() === '').lastIndexOf(true);
      carried.push(...b.notes.slice(0, blank + 1));
      continue;
    }
    written.add(b.key!);
    out.push(...carried, ...b.notes, rewrite(b.raw, e));
    carried = [];
  }
  out.push(...carried, ...trailer);

  const added = entries.filter((e) => !written.has(formatEndpoint(e.original)));
  if (added.length > 0) {
    // Not right under a comment, which would then seem to belong to the first added entry.
    const last = out[out.length - 1]?.trim() ?? '';
    if (last.startsWith(';') || last.startsWith('#')) out.push('');
    for (const e of added) out.push(`${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)}`);
  }
  return out.join(eol) + eol;
}

/** `raw` as written when its value is still `e.diverted`, else with the new value and its inline comment kept. */
function rewrite(raw: string, e: DivertedEntry): string {
  const m = ENTRY.exec(raw);
  const now = formatEndpoint(e.diverted);
  if (!m) return `${formatEndpoint(e.original)} = ${now}`;
  const was = parseEndpoint(m[2].trim());
  if (was.ok && formatEndpoint(was.endpoint) === now) return raw;
  return `${m[1]}${now}${m[3] ?? ''}`;
}

/**
 * Writes `table` (the live table, or its entries) to diverted.ini at `path`, keeping the
 * file's comments (`renderDiverted`). The new text goes to a temporary file in the same
 * directory, is flushed, and replaces the old by rename: a reader sees the old file or the new,
 * never part of one. The file keeps its permission bits (new: 0644); the owner is whoever saves.
 */
export function saveDiverted(path: string, table: { entries(): readonly DivertedEntry[] } | readonly DivertedEntry[]): void {
  const entries = isEntryList(table) ? table : table.entries();
  let existing: string | undefined;
  let mode = 0o644;
  try {
    existing = decodeUtf8(readFileSync(path));
    mode = statSync(path).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const text = renderDiverted(existing, entries);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode);
      writeSync(fd, encodeKeepingBytes(text));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or never written: nothing to clean.
    }
    throw e;
  }
  // The rename itself is durable once the directory is flushed; not every system allows that.
  try {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Best effort.
  }
}

function isEntryList(t: { entries(): readonly DivertedEntry[] } | readonly DivertedEntry[]): t is readonly DivertedEntry[] {
  return Array.isArray(t);
}

/**
 * UTF-8 of `text`, with each byte that decodeUtf8 kept from invalid UTF-8 (a lone U+DC80-U+DCFF)
 * written back as that byte: a comment with such bytes is saved as it was read.
 */
function encodeKeepingBytes(text: string): Buffer {
  const kept = /(?<![\ud800-\udbff])[\udc80-\udcff]/g;
  const parts: Buffer[] = [];
  let from = 0;
  for (let m = kept.exec(text); m; m = kept.exec(text)) {
    parts.push(Buffer.from(text.slice(from, m.index), 'utf8'), Buffer.of(text.charCodeAt(m.index) - 0xdc00));
    from = m.index + 1;
  }
  parts.push(Buffer.from(text.slice(from), 'utf8'));
  return Buffer.concat(parts);
}
