import { expect } from 'chai';
import { networkPlan } from '../../../appliance/host/network-plan';
import type { Config, ServerRecord } from '../../../appliance/config/tables';
import { parseIpv4, parsePrefix } from '../../../appliance/config/address';
import { parseAddress } from '../../../appliance/addr/address';
import { parsePrefixAny } from '../../../appliance/addr/prefix';

function server(name: string, n: number, nic?: string, tap = `alp-${name}`): ServerRecord {
  return {
    name, address: parseIpv4(`198.19.${n}.2`)!, port: 1080, tap, local: parsePrefix(`198.19.${n}.1/24`)!,
    capacity: 1, alps: { all: true }, isDefault: false, versions: ['4', '5'], queueLimit: 64, nic,
  };
}

describe('host: the network plan from the INI files', function () {
  const base: Config = {
    dir: '/etc/socksalp', loadedAt: new Date(0),
    appliance: { socksPort: 1080, idleTimeout: 300, halfOpenTimeout: 10, maxHalfOpen: 10, connectTimeout: 5, maxConnections: 10, controlSocket: '/run/s', rpFilter: 'strict', workers: 1, watchdog: 0 },
    intranet: { tun: 'alp0', vips: [parseIpv4('198.18.0.100')!, parseIpv4('198.18.9.9')!], mtu: 1500, nic: 'ens3', address: parsePrefix('198.18.0.1/24') },
    capacityForPriority: [], routes: [], diversion: { maxFlows: 1024, udpTimeout: 30, tcpTimeout: 300, unrepliedTimeout: 10, dnsTtl: 30 },
    alps: { records: [], fallback: { name: 'default', ports: [], priority: 0, discardEligible: true } },
    servers: [server('sa', 1, 'ens4'), server('sa2', 1, 'ens4', 'alp-sa'), server('sb', 2, 'ens5'), server('sc', 3)],
  };

  it('gives forwarding, the intranet NIC, the TUN and VIP routes (proxy ARP on-subnet), a bridge per NIC segment', function () {
    const lines = networkPlan(base).map((s) => `${s.unless ? `${s.unless.join(' ')} || ` : ''}${s.argv.join(' ')}`);
    expect(lines).to.deep.equal([
      'sysctl -qw net.ipv4.ip_forward=1',
      'ip link set ens3 up',
      'ip addr replace 198.18.0.1/24 dev ens3',
      'ip link show alp0 || ip tuntap add mode tun name alp0',
      'ip link set alp0 up',
      'ip route replace 198.18.0.100/32 dev alp0',
      'ip neigh replace proxy 198.18.0.100 dev ens3',
      'ip route replace 198.18.9.9/32 dev alp0',
      'ip link show sabr0 || ip link add sabr0 type bridge',
      'ip link show alp-sa || ip tuntap add mode tap name alp-sa',
      'ip link set alp-sa master sabr0 up',
      'ip link set ens4 master sabr0 up',
      'ip link set sabr0 up',
      'ip link show sabr1 || ip link add sabr1 type bridge',
      'ip link show alp-sb || ip tuntap add mode tap name alp-sb',
      'ip link set alp-sb master sabr1 up',
      'ip link set ens5 master sabr1 up',
      'ip link set sabr1 up',
    ]);
  });

  it('an ECMP member: no kernel routes of the VIPs (FRR\'s staticd has them, and withdraws them with the TUN\'s carrier)', function () {
    const member = { ...base, ha: { role: 'member' } } as unknown as Config;
    const lines = networkPlan(member).map((s) => s.argv.join(' '));
    expect(lines.filter((l) => l.includes('198.18.0.100') || l.includes('198.18.9.9'))).to.deep.equal(['ip neigh replace proxy 198.18.0.100 dev ens3']);
    expect(lines).to.include('ip link set alp0 up');
  });

  it('dual stack: IPv6 forwarding, the host\'s IPv6 address, /128 routes for IPv6 VIPs, proxy NDP for one on the intranet\'s subnet', function () {
    const v6 = {
      ...base,
      intranet: { ...base.intranet, vips: [parseIpv4('198.18.0.100')!, parseAddress('2001:db8:18::100')!, parseAddress('2001:db8:18:100::100')!], address6: parsePrefixAny('2001:db8:18::1/64') },
      servers: [server('sa', 1)],
    };
    const lines = networkPlan(v6).map((s) => s.argv.join(' '));
    expect(lines).to.deep.equal([
      'sysctl -qw net.ipv4.ip_forward=1',
      'sysctl -qw net.ipv6.conf.all.forwarding=1',
      'ip link set ens3 up',
      'ip addr replace 198.18.0.1/24 dev ens3',
      'ip -6 addr replace 2001:db8:18::1/64 dev ens3 nodad',
      'ip tuntap add mode tun name alp0',
      'ip link set alp0 up',
      'ip route replace 198.18.0.100/32 dev alp0',
      'ip neigh replace proxy 198.18.0.100 dev ens3',
      'ip -6 route replace 2001:db8:18::100/128 dev alp0',
      'sysctl -qw net.ipv6.conf.ens3.proxy_ndp=1',
      'ip -6 neigh replace proxy 2001:db8:18::100 dev ens3',
      'ip -6 route replace 2001:db8:18:100::100/128 dev alp0',
    ]);
  });

  it('leaves the NICs alone when none are named (the lab)', function () {
    const lab = { ...base, intranet: { ...base.intranet, nic: undefined, address: undefined }, servers: [server('sa', 1)] };
    expect(networkPlan(lab).map((s) => s.argv[0] + ' ' + s.argv.slice(1, 3).join(' '))).to.deep.equal([
      'sysctl -qw net.ipv4.ip_forward=1', 'ip tuntap add', 'ip link set', 'ip route replace', 'ip route replace',
    ]);
  });
});
