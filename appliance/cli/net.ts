import { loadOrReport } from './load-or-report';
import { networkPlan } from '../host/network-plan';
import { applyPlan } from '../host/apply';
import { parseVerb } from './usage';

export const NET_USAGE = `Usage: socksalp net [--config DIR] [--dry-run]

On a dedicated host (the VM image), sets up what the appliance needs in the kernel from the
INI files: IP forwarding, the intranet NIC ([intranet] nic, address), the TUN with the VIPs
routed into it (proxy ARP for a VIP on the intranet's subnet), and for each server segment
with a nic a bridge joining that NIC and the segment's TAP. Idempotent: run at boot and on
every reload. A NIC the files name but the host lacks is reported and left out; the rest is
still set up. Nothing here is needed in the lab, which builds its own topology.

Options:
  -c, --config DIR   configuration directory (default: conf)
  -n, --dry-run      print the commands instead of running them
  -h, --help         show this help
`;

export function net(argv: string[]): number {
  const args = parseVerb(argv, NET_USAGE, {
    config: { type: 'string', short: 'c', default: 'conf' },
    'dry-run': { type: 'boolean', short: 'n' },
  });
  if (!args) return 0;
  const config = loadOrReport(args.values.config as string, 'the host was left as it is');
  if (!config) return 1;
  const plan = networkPlan(config);
  if (args.values['dry-run']) {
    for (const s of plan) process.stdout.write(`${s.unless ? `${s.unless.join(' ')} || ` : ''}${s.argv.join(' ')}\n`);
    return 0;
  }
  const { done, missing } = applyPlan(plan);
  for (const line of missing) process.stderr.write(`socksalp net: ${line}\n`);
  const changed = done.filter((d) => !d.skipped).length;
  process.stdout.write(`socksalp net: ${changed} step(s) applied, ${done.length - changed} already in place\n`);
  return 0;
}
