import { ConfigError, formatProblem } from '../config/problem';
import { loadMonitorConfig } from '../monitor/policy-ini';
import { Watcher } from '../monitor/watcher';
import { parseVerb, UsageError } from './usage';

export const MONITOR_USAGE = `Usage: socksalp monitor --config FILE [--dry-run]

The network monitor (the network-management patent's monitor 125), a process of its own:
polls one or more appliances' figures over their monitor channels (appliance.ini [monitor],
signed with the key), keeps a model of each SOCKS server's latency, load (active
connections / capacity) and failures, and when a server stays over a threshold of its
policy diverts its new connections to the server with the most spare capacity that carries
the same ALPs (a server diversion: "divert add SERVER:PORT OTHER:PORT", established
connections stay); when it has stayed below the recover thresholds for hold_down seconds,
it removes the diversion. Every decision is logged with the figures that caused it, to
standard error. conf/monitor.ini documents the keys.

Signals: SIGTERM or SIGINT stops after the poll under way (with restore_on_exit = yes,
removing the diversions first); "stopped" is logged last, status 0.

Options:
  -c, --config FILE   the monitor's INI file (monitor.ini)
  -n, --dry-run       print the decisions, send none
  -h, --help          show this help
`;

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} socksalp monitor: ${message}\n`);
}

export async function monitor(argv: string[]): Promise<number> {
  const args = parseVerb(argv, MONITOR_USAGE, { config: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean', short: 'n' } });
  if (!args) return 0;
  if (args.values.config === undefined) throw new UsageError('--config FILE is required', MONITOR_USAGE);
  const path = String(args.values.config);
  let config;
  try {
    config = loadMonitorConfig(path);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) process.stderr.write(formatProblem(p) + '\n');
    const n = e.problems.length;
    process.stderr.write(`${n} problem${n === 1 ? '' : 's'} in ${path}; the monitor was not started\n`);
    return 1;
  }
  const watcher = new Watcher(config, { dryRun: args.values['dry-run'] === true, log });
  watcher.start();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log(`${why}: stopping`);
      watcher.stop().then(
        () => 0,
        (e: Error) => {
          log(`while stopping: ${e.message}`);
          return 1;
        },
      ).then((code) => {
        log('stopped');
        resolve(code);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
