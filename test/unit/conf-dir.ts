import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../lab/lab';
import { configCopy } from '../lab/appliance-process';

/**
 * Fresh temporary directories for the suite this is called in (or the whole run, at a file's
 * top level), removed by a mocha `after` hook there, so they go even when a test fails.
 */
export function tempDirs(): () => string {
  const removed = removedAfter();
  return () => removed(mkdtempSync(join(tmpdir(), 'socksalp-test-')));
}

/** Registers the `after` hook; what it returns marks a directory for it to remove. */
function removedAfter(): (dir: string) => string {
  const dirs: string[] = [];
  after(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  return (dir) => {
    dirs.push(dir);
    return dir;
  };
}

/** A file of a copy: its whole content, or an edit of conf/'s text of it (`(t) => t + '[x]\n'`). */
export type ConfFiles = Record<string, string | Buffer | ((text: string) => string)>;

/** An edit for ConfFiles: the file's text, a newline, then `more`. */
export const appended = (more: string) => (text: string): string => text + '\n' + more;

/**
 * Copies of conf/'s appliance.ini, alp.ini and servers.ini (configCopy's) with `files` written
 * over or beside them, removed after the suite this is called in, as tempDirs' are. An edit of
 * a file not among the three (diverted.ini) starts from conf/'s.
 */
export function confCopies(): (files?: ConfFiles) => string {
  const removed = removedAfter();
  return (files = {}) => {
    const dir = removed(configCopy({}));
    for (const [name, content] of Object.entries(files)) {
      const path = join(dir, name);
      if (typeof content !== 'function') writeFileSync(path, content);
      else writeFileSync(path, content(readFileSync(existsSync(path) ? path : join(REPO, 'conf', name), 'utf8')));
    }
    return dir;
  };
}
