import { loadConfig } from '../config/load';
import { ConfigError, formatProblem } from '../config/problem';
import type { Config } from '../config/tables';

/**
 * Loads a configuration directory for a command; when it has problems, prints each as
 * `check` does, then `consequence` ("nothing was applied", "not started"), and returns
 * undefined so that the command exits 1.
 */
export function loadOrReport(dir: string, consequence: string): Config | undefined {
  try {
    return loadConfig(dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) process.stderr.write(formatProblem(p) + '\n');
    const n = e.problems.length;
    process.stderr.write(`${n} problem${n === 1 ? '' : 's'} in ${dir}; ${consequence}\n`);
    return undefined;
  }
}
