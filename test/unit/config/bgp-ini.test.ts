import { expect } from 'chai';
import { loadHa } from '../../../appliance/config/ha-ini';
import { formatAddress, parseAddress } from '../../../appliance/addr/address';
import { frrConf } from '../../../appliance/host/frr';
import { haDirs } from './ha-dir';

/** ha.ini [bgp] (config/bgp-ini.ts) and the frr.conf `socksalp frr` writes from it (host/frr.ts). */

const { dir, problems } = haDirs();
const SYNC = '[sync]\nlisten = 198.18.10.11:7500\npeers = 198.18.10.12:7500\nkey_file = ha.key\nrole = member\nmember = 1\nmembers = 2\n';
const BGP = '[bgp]\nasn = 65101\nrouter_id = 198.18.10.11\nneighbors = 198.18.10.1\nneighbor_asn = 65100\n';


describe('config/bgp-ini: ha.ini [bgp]', function () {
  it('is optional, and takes the defaults for what it leaves out', function () {
    expect(loadHa(dir(SYNC))!.bgp).to.equal(undefined);
    const b = loadHa(dir(SYNC + BGP))!.bgp!;
    expect([b.asn, formatAddress(b.routerId), b.neighbors.map(formatAddress), b.neighborAsn, b.keepaliveS, b.holdS]).to.deep.equal([65101, '198.18.10.11', ['198.18.10.1'], 65100, 1, 3]);
  });

  it('names file, section and key of each bad value', function () {
    const cases: [string, string][] = [
      ['asn = 0\n', 'ha.ini:12: [bgp] asn: expected a whole number from 1 to 4294967294, got "0"'],
      ['router_id = 2001:db8::1\n', 'ha.ini:12: [bgp] router_id: expected an IPv4 address (BGP\'s identifier: this appliance\'s own), got "2001:db8::1"'],
      ['neighbors = 198.18.10.1, router\n', 'ha.ini:12: [bgp] neighbors: expected an IPv4 or IPv6 address like 198.18.10.1 or 2001:db8:18:10::1, got "router"'],
      ['neighbor_asn = 65101\n', 'ha.ini:12: [bgp] neighbor_asn: is asn (65101): the routers are external peers (eBGP), each member an AS of its own or one for all'],
      ['hold_s = 5\nkeepalive_s = 2\n', 'ha.ini:13: [bgp] hold_s: expected at least three keepalive_s (6), got 5: one lost KEEPALIVE would drop the session'],
    ];
    for (const [line, message] of cases) {
      const key = line.split(' ')[0];
      const text = SYNC + BGP.split('\n').filter((l) => !l.startsWith(`${key} `)).join('\n') + line;
      expect(problems(text), line).to.deep.equal([message]);
    }
  });

  it('frr.conf: each VIP a static route into the TUN, only the VIPs redistributed, each family to its own neighbors', function () {
    const bgp = { asn: 65101, routerId: parseAddress('198.18.10.11')!, neighbors: [parseAddress('198.18.10.1')!, parseAddress('2001:db8:18:10::1')!], neighborAsn: 65100, keepaliveS: 1, holdS: 3 };
    const conf = frrConf({ bgp, tun: 'alp0', vips: [parseAddress('198.18.0.100')!, parseAddress('2001:db8:18:100::100')!] });
    expect(conf.split('\n')).to.deep.equal([
      '! frr.conf of a socksalp member of an ECMP group, written by `socksalp frr` from',
      '! ha.ini [bgp] and appliance.ini [intranet]: write it again after an edit rather than editing it.',
      'frr defaults traditional',
      'hostname socksalp-198.18.10.11',
      'log stdout informational',
      '!',
      'ip route 198.18.0.100/32 alp0',
      'ipv6 route 2001:db8:18:100::100/128 alp0',
      '!',
      'ip prefix-list SOCKSALP_VIPS_4 seq 5 permit 198.18.0.100/32',
      'route-map SOCKSALP_VIPS_4 permit 10',
      ' match ip address prefix-list SOCKSALP_VIPS_4',
      'exit',
      '!',
      'ipv6 prefix-list SOCKSALP_VIPS_6 seq 5 permit 2001:db8:18:100::100/128',
      'route-map SOCKSALP_VIPS_6 permit 10',
      ' match ipv6 address prefix-list SOCKSALP_VIPS_6',
      'exit',
      '!',
      'router bgp 65101',
      ' bgp router-id 198.18.10.11',
      ' no bgp ebgp-requires-policy',
      ' no bgp default ipv4-unicast',
      ' neighbor 198.18.10.1 remote-as 65100',
      ' neighbor 198.18.10.1 timers 1 3',
      ' neighbor 198.18.10.1 timers connect 1',
      ' neighbor 2001:db8:18:10::1 remote-as 65100',
      ' neighbor 2001:db8:18:10::1 timers 1 3',
      ' neighbor 2001:db8:18:10::1 timers connect 1',
      ' address-family ipv4 unicast',
      '  redistribute static route-map SOCKSALP_VIPS_4',
      '  neighbor 198.18.10.1 activate',
      ' exit-address-family',
      ' address-family ipv6 unicast',
      '  redistribute static route-map SOCKSALP_VIPS_6',
      '  neighbor 2001:db8:18:10::1 activate',
      ' exit-address-family',
      'exit',
      '',
    ]);
  });
});
