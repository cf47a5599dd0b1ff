import { formatAddress, isV6 } from '../addr/address';
import type { BgpSettings } from '../config/bgp-ini';

/** What frr.conf is written from: ha.ini [bgp], and appliance.ini's TUN and VIPs. */
export interface FrrInput {
  bgp: BgpSettings;
  tun: string;
  vips: readonly number[];
}

const PREFIX_LIST = 'SOCKSALP_VIPS';

/**
 * frr.conf for one member of an ECMP group (issue 16), for FRR's zebra, staticd and bgpd: each
 * VIP is a static route into the appliance's TUN, redistributed into BGP (and nothing else:
 * the route-map lets only the VIPs out) to the intranet's router(s), which spread the flows
 * over the members that announce them. The TUN's carrier is the appliance's life: the kernel
 * drops it when the process that opened the TUN ends, however it ends, and zebra then takes the
 * static routes over it for inactive, so bgpd withdraws the VIPs (RFC 4271 9.1.3). A member
 * whose bgpd dies is dropped by the router after hold_s. Each neighbor carries its own family's
 * VIPs (an IPv6 route needs an IPv6 next hop: RFC 4760 3).
 */
export function frrConf(f: FrrInput): string {
  const { bgp } = f;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(f.tun)) throw new Error(`the TUN's name ${JSON.stringify(f.tun)} is not one FRR takes`);
  const families = [false, true].filter((v6) => f.vips.some((a) => isV6(a) === v6));
  const lines = [
    '! frr.conf of a socksalp member of an ECMP group, written by `socksalp frr` from',
    '! ha.ini [bgp] and appliance.ini [intranet]: write it again after an edit rather than editing it.',
    'frr defaults traditional',
    `hostname socksalp-${formatAddress(bgp.routerId)}`,
    'log stdout informational',
    '!',
  ];
  for (const a of f.vips) lines.push(`${isV6(a) ? 'ipv6' : 'ip'} route ${formatAddress(a)}/${isV6(a) ? 128 : 32} ${f.tun}`);
  lines.push('!');
  for (const v6 of families) {
    for (const [i, a] of f.vips.filter((x) => isV6(x) === v6).entries()) {
      lines.push(`${v6 ? 'ipv6' : 'ip'} prefix-list ${PREFIX_LIST}_${v6 ? 6 : 4} seq ${(i + 1) * 5} permit ${formatAddress(a)}/${v6 ? 128 : 32}`);
    }
    lines.push(`route-map ${PREFIX_LIST}_${v6 ? 6 : 4} permit 10`, ` match ${v6 ? 'ipv6' : 'ip'} address prefix-list ${PREFIX_LIST}_${v6 ? 6 : 4}`, 'exit', '!');
  }
  lines.push(
    `router bgp ${bgp.asn}`,
    ` bgp router-id ${formatAddress(bgp.routerId)}`,
    // The routes out are the VIPs alone, by the route-map: no policy beyond it is needed (RFC 8212's default is FRR's).
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
  );
  for (const n of bgp.neighbors) {
    const a = formatAddress(n);
    lines.push(` neighbor ${a} remote-as ${bgp.neighborAsn}`, ` neighbor ${a} timers ${bgp.keepaliveS} ${bgp.holdS}`, ` neighbor ${a} timers connect 1`);
  }
  for (const v6 of families) {
    lines.push(` address-family ipv${v6 ? 6 : 4} unicast`, `  redistribute static route-map ${PREFIX_LIST}_${v6 ? 6 : 4}`);
    for (const n of bgp.neighbors.filter((x) => isV6(x) === v6)) lines.push(`  neighbor ${formatAddress(n)} activate`);
    lines.push(' exit-address-family');
  }
  lines.push('exit', '');
  return lines.join('\n');
}
