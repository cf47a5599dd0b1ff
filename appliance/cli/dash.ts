import { parseVerb } from './usage';

export const DASH_USAGE = `Usage: socksalp dash [--config DIR | --socket PATH] [--once]

The live terminal dashboard of a running appliance: servers, the ALP table, connections,
queues and throughput, from its control socket.

This build does not have the dashboard yet. "socksalp ctl list", "ctl conns" and "ctl alps"
print the same tables once.
`;

export function dash(argv: string[]): number {
  const args = parseVerb(argv, DASH_USAGE, { config: { type: 'string', short: 'c' }, socket: { type: 'string', short: 's' }, once: { type: 'boolean' } });
  if (!args) return 0;
  process.stderr.write('socksalp: the dashboard is not in this build yet; "socksalp ctl list" and "ctl conns" show the tables\n');
  return 1;
}
