import { loadConfig } from '../../appliance/config/load';
import { ConfigError, formatProblem } from '../../appliance/config/problem';

/** What loading `dir` reports, as `check` prints it; none when it loads. */
export function configProblems(dir: string): string[] {
  try {
    loadConfig(dir);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}
