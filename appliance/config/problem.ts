import { printable } from '../text/printable';

/**
 * A configuration problem, located as precisely as the loader can: file, line, section, key.
 * Every validation rule reports through this one shape so `check`, `run` and SIGHUP print
 * the same message for the same mistake. `section` and `key` are as written in the file;
 * a message that quotes the file does so through `quote` (text/printable), so that what is
 * printed is never raw file content.
 */
export interface Problem {
  file: string;
  line?: number;
  section?: string;
  key?: string;
  message: string;
}

/** `file:line: [section] key: message`, with section and key escaped and cut for the terminal. */
export function formatProblem(p: Problem): string {
  let where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  if (p.section !== undefined || p.key !== undefined) {
    where += ':' + (p.section === undefined ? '' : ` [${printable(p.section)}]`) + (p.key === undefined ? '' : ` ${printable(p.key)}`);
  }
  return `${where}: ${p.message}`;
}

/** Thrown by a loader when it found problems; carries all of them, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}
