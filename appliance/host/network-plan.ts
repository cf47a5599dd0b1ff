import { formatAddress, isV6 } from '../addr/address';
import { formatPrefixAny, inPrefixAny } from '../addr/prefix';
import { formatIpv4, formatPrefix, inPrefix } from '../config/address';
import type { Config } from '../config/tables';

/**
 * On a dedicated host (the VM image), what the kernel must have for the appliance, derived
 * from the INI files alone: forwarding on, the intranet NIC up with its address, the TUN with
 * the VIPs routed into it (proxy ARP for a VIP inside the intranet's subnet, so that clients
 * on that subnet reach it), and per server segment a bridge joining the segment's NIC and the
 * TAP. Every step is idempotent: `unless` is a command whose success means "already so".
 */
export interface Step {
  argv: string[];
  unless?: string[];
  /** The NIC the step works on, and where the INI files name it: a NIC may be missing. */
  nic?: { name: string; where: string };
}

/** The bridge of segment `index`: named by position, since "br-" + a 15-character TAP name would not fit. */
export function bridgeName(index: number): string {
  return `sabr${index}`;
}

export function networkPlan(c: Config): Step[] {
  const steps: Step[] = [{ argv: ['sysctl', '-qw', 'net.ipv4.ip_forward=1'] }];
  const { nic, address, address6, tun, vips } = c.intranet;
  const dual = vips.some(isV6) || c.servers.some((s) => isV6(s.address));
  if (dual) steps.push({ argv: ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'] });
  const intranetNic = nic === undefined ? undefined : { name: nic, where: 'appliance.ini [intranet] nic' };
  if (nic !== undefined) {
    steps.push({ argv: ['ip', 'link', 'set', nic, 'up'], nic: intranetNic });
    if (address !== undefined) steps.push({ argv: ['ip', 'addr', 'replace', formatPrefix(address), 'dev', nic], nic: intranetNic });
    // nodad: the host's address is configured, not autoconfigured; it is usable at once.
    if (address6 !== undefined) steps.push({ argv: ['ip', '-6', 'addr', 'replace', formatPrefixAny(address6), 'dev', nic, 'nodad'], nic: intranetNic });
  }
  // Several workers attach a queue each (appliance/workers/): the devices must be made multi-queue.
  const mq = c.appliance.workers > 1 ? ['multi_queue'] : [];
  steps.push({ argv: ['ip', 'tuntap', 'add', 'mode', 'tun', 'name', tun, ...mq], unless: ['ip', 'link', 'show', tun] });
  steps.push({ argv: ['ip', 'link', 'set', tun, 'up'] });
  // An ECMP member's VIP routes are FRR's (host/frr.ts: staticd's, which go with the TUN's
  // carrier); a kernel route of them would outrank staticd's in zebra and never be withdrawn.
  const member = c.ha?.role === 'member';
  for (const vip of vips) {
    const v6 = isV6(vip);
    if (!member) steps.push({ argv: v6 ? ['ip', '-6', 'route', 'replace', `${formatAddress(vip)}/128`, 'dev', tun] : ['ip', 'route', 'replace', `${formatIpv4(vip)}/32`, 'dev', tun] });
    if (nic === undefined) continue;
    if (!v6 && address !== undefined && inPrefix(vip, address)) {
      steps.push({ argv: ['ip', 'neigh', 'replace', 'proxy', formatIpv4(vip), 'dev', nic], nic: intranetNic });
    } else if (v6 && address6 !== undefined && inPrefixAny(vip, address6)) {
      // The intranet's hosts solicit a VIP on their own subnet: the host answers for it (proxy NDP).
      steps.push(
        { argv: ['sysctl', '-qw', `net.ipv6.conf.${nic}.proxy_ndp=1`], nic: intranetNic },
        { argv: ['ip', '-6', 'neigh', 'replace', 'proxy', formatAddress(vip), 'dev', nic], nic: intranetNic },
      );
    }
  }
  const taps: string[] = [];
  for (const s of c.servers) {
    if (s.nic === undefined || taps.includes(s.tap)) continue;
    const br = bridgeName(taps.length);
    taps.push(s.tap);
    steps.push(
      { argv: ['ip', 'link', 'add', br, 'type', 'bridge'], unless: ['ip', 'link', 'show', br] },
      { argv: ['ip', 'tuntap', 'add', 'mode', 'tap', 'name', s.tap, ...mq], unless: ['ip', 'link', 'show', s.tap] },
      { argv: ['ip', 'link', 'set', s.tap, 'master', br, 'up'] },
      { argv: ['ip', 'link', 'set', s.nic, 'master', br, 'up'], nic: { name: s.nic, where: `servers.ini [${s.name}] nic` } },
      { argv: ['ip', 'link', 'set', br, 'up'] },
    );
  }
  return steps;
}
