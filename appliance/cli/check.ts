import { loadOrReport } from './load-or-report';
import { summarizeConfig } from '../config/summary';
import { parseVerb } from './usage';

export const CHECK_USAGE = `Usage: socksalp check [--config DIR] [--quiet]

Validates appliance.ini, alp.ini, servers.ini and (when present) diverted.ini and ha.ini in DIR
(default: conf).
Prints every problem as "file:line: [section] key: what was expected" and exits 1,
or prints a summary of the tables and exits 0.

Options:
  -c, --config DIR   configuration directory (default: conf)
  -q, --quiet        print nothing when the configuration is valid
  -h, --help         show this help
`;

export function check(argv: string[]): number {
  const args = parseVerb(argv, CHECK_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (!args) return 0;
  const config = loadOrReport(args.values.config as string, 'nothing was applied');
  if (!config) return 1;
  if (!args.values.quiet) process.stdout.write(summarizeConfig(config) + '\n');
  return 0;
}
