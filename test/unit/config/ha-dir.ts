import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHa } from '../../../appliance/config/ha-ini';
import { ConfigError, formatProblem } from '../../../appliance/config/problem';
import { tempDirs } from '../conf-dir';

/**
 * ha.ini's sections' suites: a directory of `text` as ha.ini beside an owner-only ha.key, and
 * the problems loadHa reports of it, as `check` prints them. Call at a suite's top level.
 */
export function haDirs(): { dir: (text: string) => string; problems: (text: string) => string[] } {
  const tempDir = tempDirs();
  const dir = (text: string): string => {
    const d = tempDir();
    writeFileSync(join(d, 'ha.key'), 'the-sync-key-0123456789abcdef\n', { mode: 0o600 });
    writeFileSync(join(d, 'ha.ini'), text);
    return d;
  };
  const problems = (text: string): string[] => {
    try {
      loadHa(dir(text));
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map(formatProblem);
      throw e;
    }
    return [];
  };
  return { dir, problems };
}
