import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as ini from 'ini';
import type { Problem } from './problem';
import { decodeUtf8, quote } from '../text/printable';

/** One `key = value` as written, with where it was written. */
export interface Entry {
  value: string;
  line: number;
}

export interface Section {
  name: string;
  line: number;
  entries: Map<string, Entry>;
}

export interface IniFile {
  /** The name used in messages: the file's base name, as the administrator knows it. */
  name: string;
  sections: Map<string, Section>;
}

/** A section header and a key, as this reader takes them (save.ts rewrites files by them too). */
export const SECTION = /^\s*\[([^\]]*)\]\s*(?:[;#].*)?$/;
export const KEY = /^\s*([^=]+?)\s*=/;
const SECTION_NAME = /^[A-Za-z0-9_-]+$/;
/** `[kind NAME]`, as monitor.ini names each appliance it watches: a word, one space, a name. */
export const QUALIFIED_SECTION_NAME = /^[A-Za-z0-9_-]+(?: [A-Za-z0-9_-]+)?$/;
/** Brackets for diverted.ini's `[2001:db8::80]:8080` (an IPv6 address before a port, RFC 5952 6). */
const KEY_NAME = /^[A-Za-z0-9_./:[\]-]+$/;

/**
 * Reads an INI file into sections and entries with their line numbers.
 *
 * Values are decoded by the `ini` package (quoting, inline `;`/`#` comments). It silently
 * merges duplicate sections, keeps the last of duplicate keys and nests dotted section names,
 * so a line scan runs first to report those as problems and to remember where each key was
 * written; the decoded values are then attached to the scanned keys.
 */
export function readIniFile(path: string, problems: Problem[], sectionNames = SECTION_NAME): IniFile | undefined {
  const name = basename(path);
  let text: string;
  try {
    // Invalid UTF-8 is kept byte for byte, so that messages can show what was there.
    text = decodeUtf8(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problems.push({ file: name, message: code === 'ENOENT' ? `file not found (${path})` : `cannot read ${path}: ${code ?? String(e)}` });
    return undefined;
  }

  const before = problems.length;
  const sections = new Map<string, Section>();
  let current: Section | undefined;
  // After a rejected section header its keys are skipped, not reported once more each.
  let skipping = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) continue;
    const s = SECTION.exec(raw);
    if (s) {
      const sname = s[1].trim();
      if (!sectionNames.test(sname)) {
        problems.push({ file: name, line, section: sname, message: sectionNames === SECTION_NAME ? 'section names use letters, digits, "_" and "-" only' : 'section names are a word, or a word, one space and a name, of letters, digits, "_" and "-"' });
        current = undefined;
        skipping = true;
        continue;
      }
      const seen = sections.get(sname);
      if (seen) {
        problems.push({ file: name, line, section: sname, message: `duplicate section (first at line ${seen.line})` });
        current = undefined;
        skipping = true;
        continue;
      }
      current = { name: sname, line, entries: new Map() };
      skipping = false;
      sections.set(sname, current);
      continue;
    }
    const k = KEY.exec(raw);
    if (!k) {
      problems.push({ file: name, line, section: current?.name, message: `expected "[section]" or "key = value", got ${quote(trimmed)}` });
      continue;
    }
    const key = k[1];
    if (skipping) continue;
    if (!current) {
      problems.push({ file: name, line, key, message: 'key outside of any section' });
      continue;
    }
    if (!KEY_NAME.test(key)) {
      problems.push({ file: name, line, section: current.name, key, message: 'key names use letters, digits and "_ . / : - [ ]" only' });
      continue;
    }
    const seen = current.entries.get(key);
    if (seen) {
      problems.push({ file: name, line, section: current.name, key, message: `duplicate key (first at line ${seen.line})` });
      continue;
    }
    current.entries.set(key, { value: '', line });
  }
  if (problems.length > before) return undefined;

  const decoded = ini.parse(text) as Record<string, Record<string, unknown>>;
  for (const section of sections.values()) {
    const values = decoded[section.name] ?? {};
    for (const [key, entry] of section.entries) {
      const v = values[key];
      // The ini package reads "null" as null; here every value is the text written.
      entry.value = v === undefined ? '' : v === null ? 'null' : String(v).trim();
    }
  }
  return { name, sections };
}
