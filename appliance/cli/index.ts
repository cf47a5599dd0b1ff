#!/usr/bin/env node
import { check, CHECK_USAGE } from './check';
import { run, RUN_USAGE } from './run';
import { ctl, CTL_USAGE } from './ctl';
import { dash, DASH_USAGE } from './dash';
import { net, NET_USAGE } from './net';
import { divert, DIVERT_USAGE } from './divert';
import { monitor, MONITOR_USAGE } from './monitor';
import { replay, REPLAY_USAGE } from './replay';
import { keepalived, KEEPALIVED_USAGE } from './keepalived';
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
  replay  what a configuration would do with the connections of a capture (pcap), offline

"socksalp <command> --help" describes each command.
`;

type Verb = { run: (argv: string[]) => number | Promise<number>; usage: string };

const verbs: Record<string, Verb> = {
  check: { run: check, usage: CHECK_USAGE },
  run: { run, usage: RUN_USAGE },
  ctl: { run: ctl, usage: CTL_USAGE },
  dash: { run: dash, usage: DASH_USAGE },
  net: { run: net, usage: NET_USAGE },
  divert: { run: divert, usage: DIVERT_USAGE },
  monitor: { run: monitor, usage: MONITOR_USAGE },
  replay: { run: replay, usage: REPLAY_USAGE },
  keepalived: { run: keepalived, usage: KEEPALIVED_USAGE },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    process.stdout.write(topic && verbs[topic] ? verbs[topic].usage : USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`socksalp ${require('../../../package.json').version}\n`);
    return 0;
  }
  const verb = verbs[name];
  if (!verb) throw new UsageError(`unknown command "${name}"`, USAGE);
  return verb.run(rest);
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
