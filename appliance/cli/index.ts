#!/usr/bin/env node
import type * as CheckVerb from './check';
import type * as RunVerb from './run';
import type * as CtlVerb from './ctl';
import type * as DashVerb from './dash';
import type * as NetVerb from './net';
import type * as DivertVerb from './divert';
import type * as MonitorVerb from './monitor';
import type * as ReplayVerb from './replay';
import type * as KeepalivedVerb from './keepalived';
import type * as FrrVerb from './frr';
import { UsageError } from './usage';

const USAGE = `Usage: socksalp <command> [options]

socksalp dispatches SOCKS traffic among SOCKS servers by application-level protocol
and priority, as a user-mode TUN/TAP appliance.

Commands:
  check   validate a configuration directory and summarize its tables
  run     run the appliance
  dash    the live terminal dashboard of a running appliance
  ctl     query a running appliance through its control socket
  divert  change a running appliance's diverted-address table over its monitor channel
  monitor the network monitor: watch appliances' servers, divert from overloaded ones
  net     set up the host's kernel for the appliance (the VM image; idempotent)
  keepalived  print keepalived.conf for this appliance of an HA pair (ha.ini [vrrp])
  frr     print frr.conf for this appliance as a member of an ECMP group (ha.ini [bgp])
  replay  what a configuration would do with the connections of a capture (pcap), offline

"socksalp <command> --help" describes each command.
`;

type Verb = { run: (argv: string[]) => number | Promise<number>; usage: string };

// Each verb's module is loaded when it is asked for: keepalived's notify scripts run `ctl role`,
// which should not load the appliance (run's modules are 100 of the CLI's 270 ms).
const verbs: Record<string, () => Verb> = {
  check: () => { const v = require('./check') as typeof CheckVerb; return { run: v.check, usage: v.CHECK_USAGE }; },
  run: () => { const v = require('./run') as typeof RunVerb; return { run: v.run, usage: v.RUN_USAGE }; },
  ctl: () => { const v = require('./ctl') as typeof CtlVerb; return { run: v.ctl, usage: v.CTL_USAGE }; },
  dash: () => { const v = require('./dash') as typeof DashVerb; return { run: v.dash, usage: v.DASH_USAGE }; },
  net: () => { const v = require('./net') as typeof NetVerb; return { run: v.net, usage: v.NET_USAGE }; },
  divert: () => { const v = require('./divert') as typeof DivertVerb; return { run: v.divert, usage: v.DIVERT_USAGE }; },
  monitor: () => { const v = require('./monitor') as typeof MonitorVerb; return { run: v.monitor, usage: v.MONITOR_USAGE }; },
  replay: () => { const v = require('./replay') as typeof ReplayVerb; return { run: v.replay, usage: v.REPLAY_USAGE }; },
  keepalived: () => { const v = require('./keepalived') as typeof KeepalivedVerb; return { run: v.keepalived, usage: v.KEEPALIVED_USAGE }; },
  frr: () => { const v = require('./frr') as typeof FrrVerb; return { run: v.frr, usage: v.FRR_USAGE }; },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && verbs[topic] ? verbs[topic]().usage : USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`socksalp ${require('../../../package.json').version}\n`);
    return 0;
  }
  const verb = verbs[name];
  if (!verb) throw new UsageError(`unknown command "${name}"`, USAGE);
  return verb().run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`socksalp: ${e.message}\n\n${e.usage}`);
      process.exitCode = 2;
      return;
    }
    // Expected failures carry a message for the operator; a stack only when asked for.
    const err = e as Error;
    process.stderr.write(`socksalp: ${err.message ?? String(e)}\n`);
    if (process.env.SOCKSALP_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
