import { loadOrReport } from './load-or-report';
import { frrConf } from '../host/frr';
import { parseVerb } from './usage';

export const FRR_USAGE = `Usage: socksalp frr [--config DIR]

Prints frr.conf for this appliance as a member of an ECMP group, from ha.ini [bgp] (this
appliance's AS and router id, the intranet router(s) it peers with and their AS, the
timers) and appliance.ini [intranet] (the TUN and the VIPs): each VIP a static route into
the TUN, redistributed into BGP, so that the router spreads the VIPs' flows over the
members that announce them. The routes go when the TUN loses its carrier, which the kernel
does as the appliance's process ends, however it ends: the router then stops sending this
member flows. Run it for FRR's zebra, staticd and bgpd, e.g.
  socksalp frr > /etc/frr/frr.conf

Options:
  -c, --config DIR   configuration directory (default: conf)
  -h, --help         show this help
`;

export function frr(argv: string[]): number {
  const args = parseVerb(argv, FRR_USAGE, { config: { type: 'string', short: 'c', default: 'conf' } });
  if (!args) return 0;
  const dir = args.values.config as string;
  const config = loadOrReport(dir, 'nothing was written');
  if (!config) return 1;
  if (config.ha?.bgp === undefined) {
    process.stderr.write(`socksalp frr: ${config.ha ? 'ha.ini has no [bgp] section' : 'no ha.ini'} in ${dir}; [bgp] names the AS, router id and neighbors FRR needs\n`);
    return 1;
  }
  process.stdout.write(frrConf({ bgp: config.ha.bgp, tun: config.intranet.tun, vips: config.intranet.vips }));
  return 0;
}
