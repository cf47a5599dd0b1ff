import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadOrReport } from './load-or-report';
import { keepalivedConf } from '../host/keepalived';
import { parseVerb } from './usage';

export const KEEPALIVED_USAGE = `Usage: socksalp keepalived [--config DIR] [--socket PATH]

Prints keepalived.conf for this appliance of an HA pair, from ha.ini [vrrp] (the shared
addresses of the intranet, the interface, router id, priority, advertisement interval):
one VRRPv3 instance per address family, starting as BACKUP, a vrrp_script that asks the
appliance's health every second as "socksalp ctl health" does (keepalived-health.sh, with
socat; an appliance that stops serving gives up mastership) and notify scripts that run
"socksalp ctl role master|backup". The scripts name this node and this socksalp by
absolute path. Write it where keepalived reads it, e.g.
  socksalp keepalived > /etc/keepalived/keepalived.conf

Options:
  -c, --config DIR   configuration directory (default: conf)
  -s, --socket PATH  the control socket the scripts talk to (default: appliance.ini's
                     control_socket)
  -h, --help         show this help
`;

export function keepalived(argv: string[]): number {
  const args = parseVerb(argv, KEEPALIVED_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    socket: { type: 'string', short: 's' },
  });
  if (!args) return 0;
  const dir = args.values.config as string;
  const config = loadOrReport(dir, 'nothing was written');
  if (!config) return 1;
  if (config.ha?.vrrp === undefined) {
    process.stderr.write(`socksalp keepalived: ${config.ha ? 'ha.ini has no [vrrp] section' : 'no ha.ini'} in ${dir}; [vrrp] names the interface, router_id and address keepalived needs\n`);
    return 1;
  }
  const socket = resolve((args.values.socket as string | undefined) ?? config.appliance.controlSocket);
  const health = join(__dirname, '..', '..', '..', 'appliance', 'host', 'keepalived-health.sh');
  if (!existsSync(health)) {
    process.stderr.write(`socksalp keepalived: the health script ${health} is missing: this socksalp is installed without its appliance/host/\n`);
    return 1;
  }
  process.stdout.write(keepalivedConf(config.ha.vrrp, { node: process.execPath, cli: join(__dirname, 'index.js'), health, socket }));
  return 0;
}
