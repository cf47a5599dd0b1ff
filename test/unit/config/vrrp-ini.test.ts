import { expect } from 'chai';
import { loadHa } from '../../../appliance/config/ha-ini';
import { formatAddress } from '../../../appliance/addr/address';
import { formatPrefixAny } from '../../../appliance/addr/prefix';
import { haDirs } from './ha-dir';

/** ha.ini [vrrp] (config/vrrp-ini.ts): what `socksalp keepalived` is written from. */

const { dir, problems } = haDirs();
const SYNC = '[sync]\nlisten = 198.18.0.3:7500\npeers = 198.18.0.4:7500\nkey_file = ha.key\n';
const VRRP = '[vrrp]\ninterface = intra0\nrouter_id = 18\naddress = 198.18.0.1/24\n';


describe('config/vrrp-ini: ha.ini [vrrp]', function () {
  it('is optional, and takes the defaults for what it leaves out', function () {
    expect(loadHa(dir(SYNC))!.vrrp).to.equal(undefined);
    const v = loadHa(dir(SYNC + VRRP))!.vrrp!;
    expect([v.interface, v.routerId, v.priority, v.advertInt, v.preempt]).to.deep.equal(['intra0', 18, 100, 1, true]);
    expect(v.addresses.map(formatPrefixAny)).to.deep.equal(['198.18.0.1/24']);
    expect(v.unicastPeers).to.deep.equal([]);
  });

  it('reads both families, hundredths of a second, unicast peers and nopreempt', function () {
    const v = loadHa(dir(SYNC + VRRP.replace('198.18.0.1/24', '198.18.0.1/24, 2001:db8:18:0::1/64') +
      'priority = 254\nadvert_int = 0.35\nunicast_peers = 198.18.0.4, 2001:db8:18::4\npreempt = no\n'))!.vrrp!;
    expect(v.addresses.map(formatPrefixAny)).to.deep.equal(['198.18.0.1/24', '2001:db8:18::1/64']);
    expect(v.unicastPeers.map(formatAddress)).to.deep.equal(['198.18.0.4', '2001:db8:18::4']);
    expect([v.priority, v.advertInt, v.preempt]).to.deep.equal([254, 0.35, false]);
    expect(loadHa(dir(SYNC + VRRP + 'advert_int = 40.95\n'))!.vrrp!.advertInt).to.equal(40.95);
  });

  it('names file, section and key of each bad value', function () {
    const cases: [string, string][] = [
      [VRRP.replace('interface = intra0\n', ''), 'ha.ini:5: [vrrp] interface: required key is missing'],
      [VRRP.replace('intra0', 'intra 0'), 'ha.ini:6: [vrrp] interface: expected an interface name of 1 to 15 letters'],
      [VRRP.replace('router_id = 18', 'router_id = 0'), 'ha.ini:7: [vrrp] router_id: expected a whole number from 1 to 255, got "0"'],
      [VRRP.replace('router_id = 18\n', ''), 'ha.ini:5: [vrrp] router_id: required key is missing'],
      [VRRP + 'priority = 255\n', 'ha.ini:9: [vrrp] priority: expected a whole number from 1 to 254, got "255"'],
      [VRRP + 'advert_int = 41\n', 'ha.ini:9: [vrrp] advert_int: expected seconds from 0.01 to 40.95 (VRRPv3\'s advertisement interval, in hundredths), got "41"'],
      [VRRP + 'advert_int = 0.005\n', 'ha.ini:9: [vrrp] advert_int: expected seconds from 0.01 to 40.95'],
      [VRRP + 'advert_int = 0\n', 'ha.ini:9: [vrrp] advert_int: expected seconds from 0.01 to 40.95'],
      [VRRP.replace('198.18.0.1/24', '198.18.0.1'), 'ha.ini:8: [vrrp] address: expected ADDRESS/PREFIX like 198.18.0.1/24 or 2001:db8:18::1/64, got "198.18.0.1"'],
      [VRRP.replace('198.18.0.1/24', '198.18.0.0/24'), 'ha.ini:8: [vrrp] address: "198.18.0.0/24" is its subnet\'s network or broadcast address, no host\'s'],
      [VRRP.replace('198.18.0.1/24', '198.18.0.1/24, 198.18.0.1/25'), 'ha.ini:8: [vrrp] address: "198.18.0.1/25" is listed twice'],
      [VRRP.replace('address = 198.18.0.1/24\n', ''), 'ha.ini:5: [vrrp] address: required key is missing'],
      [VRRP + 'unicast_peers = 198.18.0.4.1\n', 'ha.ini:9: [vrrp] unicast_peers: expected an IPv4 or IPv6 address like 198.18.0.4 or 2001:db8:18::4, got "198.18.0.4.1"'],
      [VRRP + 'unicast_peers = 198.18.0.1\n', 'ha.ini:9: [vrrp] unicast_peers: "198.18.0.1" is one of the shared addresses, not a peer\'s own'],
      [VRRP + 'unicast_peers = 198.18.0.4, 198.18.0.4\n', 'ha.ini:9: [vrrp] unicast_peers: "198.18.0.4" is listed twice'],
      [VRRP.replace('198.18.0.1/24', '198.18.0.1/24, 2001:db8:18::1/64') + 'unicast_peers = 198.18.0.4\n', 'ha.ini:9: [vrrp] unicast_peers: no IPv6 peer for the IPv6 addresses'],
      [VRRP + 'preempt = maybe\n', 'ha.ini:9: [vrrp] preempt: expected yes or no, got "maybe"'],
      [VRRP + 'vrid = 18\n', 'ha.ini:9: [vrrp] vrid: unknown key (expected one of: address, advert_int, interface, preempt, priority, router_id, unicast_peers)'],
      [VRRP.replace('198.18.0.1/24', '198.18.0.3/24'), 'ha.ini:2: [sync] listen: "198.18.0.3:7500" is a shared address of [vrrp] address: the sync listens on this appliance\'s own'],
    ];
    for (const [vrrp, expected] of cases) {
      const got = problems(SYNC + vrrp);
      expect(got, vrrp).to.have.lengthOf(1);
      expect(got[0], vrrp).to.satisfy((m: string) => m.startsWith(expected));
    }
  });
});
