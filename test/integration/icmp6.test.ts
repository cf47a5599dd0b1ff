import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../appliance/control/client';
import { ApplianceProcess } from '../lab/appliance-process';
import { REPO } from '../lab/lab';

/** Namespaces of this suite's own (the lab's prefix: the root hooks fail the run if one outlives the suite). */
const NS = 'salab-icmp6';
/** The gateway on the appliance's IPv6 segment, and the web host behind it (an address on its loopback). */
const GW_NS = 'salab-icmp6gw';
const WEB = '2001:db8:113::80';
const VIP = '2001:db8:18::100';
const HOST = '2001:db8:18::2';

/**
 * The appliance's ICMPv6 and IPv6 routing as Linux hosts and their tools see them: an appliance
 * in a namespace of its own, its TUN (mtu 9000) that namespace's way to an IPv6 VIP and to the
 * prefixes [routes] sends to an IPv6 segment (2001:db8:113::/48 via a gateway, a Linux
 * namespace bridged to the TAP) or has no route for (2001:db8:200::/48).
 */
describe('ICMPv6 and IPv6 routing through the TUN: ping -6, traceroute6, a TCP flow, the errors a router sends', function () {
  this.timeout(60_000);
  let dir = '';
  let app: ApplianceProcess | undefined;
  let listener: ChildProcess | undefined;
  const inNs = (...args: string[]) => spawnSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', timeout: 20_000 });
  const ping = (...args: string[]) => {
    const r = inNs('ping', '-6', '-n', '-W', '1', ...args);
    return r.stdout + r.stderr;
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'socksalp-icmp6-'));
    copyFileSync(join(REPO, 'conf', 'alp.ini'), join(dir, 'alp.ini'));
    writeFileSync(join(dir, 'appliance.ini'), [
      '[appliance]', `control_socket = ${join(dir, 'run', 'control.sock')}`,
      '[intranet]', 'tun = alp0', `vip = 198.18.0.100, ${VIP}`, 'mtu = 9000',
      '[routes]', '2001:db8:113::/48 = alp-i6 via 2001:db8:19:9::2', '',
    ].join('\n'));
    writeFileSync(join(dir, 'servers.ini'), ['[i6]', 'address = 2001:db8:19:9::100', 'tap = alp-i6', 'local = 2001:db8:19:9::1/64', 'alps = http, ssl', 'default = yes', ''].join('\n'));
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['netns', 'add', GW_NS]);
    app = new ApplianceProcess(dir, join(dir, 'run', 'control.sock'), {}, NS);
    for (let i = 0; ; i++) {
      try {
        await controlRequest(join(dir, 'run', 'control.sock'), { cmd: 'status' }, 500);
        break;
      } catch (e) {
        if (i > 100 || app.exited !== null) throw new Error(`the appliance did not start: ${String(e)}\n${app.output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const cmd of [
      'ip link set lo up', 'ip link set alp0 mtu 9000', `ip -6 addr add ${HOST}/128 dev lo`,
      `ip -6 route add ${VIP}/128 dev alp0 src ${HOST}`,
      `ip -6 route add 2001:db8:113::/48 dev alp0 src ${HOST}`,
      `ip -6 route add 2001:db8:200::/48 dev alp0 src ${HOST}`,
      // The segment: the appliance's TAP and a veth to the gateway on one bridge.
      'ip link add br-i6 type bridge', 'sysctl -qw net.ipv6.conf.br-i6.disable_ipv6=1', 'ip link set br-i6 up',
      'ip link set alp-i6 master br-i6', 'ip link set alp-i6 up',
      `ip link add v-i6 type veth peer name v-gw netns ${GW_NS}`, 'ip link set v-i6 master br-i6', 'ip link set v-i6 up',
    ]) execFileSync('ip', ['netns', 'exec', NS, ...cmd.split(' ')]);
    for (const cmd of [
      'ip link set lo up', 'ip link set v-gw up', 'ip -6 addr add 2001:db8:19:9::2/64 dev v-gw nodad', `ip -6 addr add ${WEB}/128 dev lo`,
      'ip -6 route add 2001:db8:18::/64 via 2001:db8:19:9::1',
    ]) execFileSync('ip', ['netns', 'exec', GW_NS, ...cmd.split(' ')]);
    listener = spawn('ip', ['netns', 'exec', GW_NS, 'socat', `TCP6-LISTEN:8080,bind=[${WEB}]`, 'SYSTEM:echo routed over IPv6'], { stdio: 'ignore' });
    // Until Neighbor Discovery has the gateway (the appliance solicits it every tick).
    for (let i = 0; i < 50 && !/1 received/.test(ping('-c', '1', WEB)); i++) await new Promise((r) => setTimeout(r, 100));
  });

  after(async function () {
    try {
      if (app !== undefined) await app.finish();
    } finally {
      if (listener?.pid !== undefined && listener.exitCode === null) process.kill(listener.pid);
      spawnSync('ip', ['netns', 'del', GW_NS]);
      spawnSync('ip', ['netns', 'del', NS]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ping -6 of the VIP is answered, hop limit 64, up to the TUN\'s MTU', function () {
    const out = ping('-c', '3', '-i', '0.2', VIP);
    expect(out).to.match(/3 packets transmitted, 3 received/);
    expect(out).to.match(new RegExp(`64 bytes from ${VIP}: icmp_seq=1 ttl=64`));
    expect(ping('-c', '1', '-s', '8000', '-M', 'do', VIP)).to.match(/8008 bytes from 2001:db8:18::100/);
  });

  it('no route: Destination unreachable from the VIP; hop limit 1: Time exceeded', function () {
    expect(ping('-c', '1', '2001:db8:200::1')).to.match(new RegExp(`From ${VIP} icmp_seq=1 Destination unreachable: No route`));
    expect(ping('-c', '1', '-t', '1', '2001:db8:113::80')).to.match(new RegExp(`From ${VIP} icmp_seq=1 Time exceeded: Hop limit`));
  });

  it('a datagram too big for the TAP: Packet Too Big with its MTU, which the host\'s kernel then keeps for the route', function () {
    expect(ping('-c', '1', '-s', '2000', '-M', 'do', '2001:db8:113::80')).to.match(new RegExp(`From ${VIP} icmp_seq=1 Packet too big: mtu=1500`));
    expect(inNs('ip', '-6', 'route', 'get', '2001:db8:113::80').stdout).to.match(/ mtu 1500 /);
  });

  it('routes IPv6 through [routes] to the gateway on the segment and back: ping -6, traceroute6 (the appliance, then the host), TCP', function () {
    expect(ping('-c', '3', '-i', '0.2', WEB)).to.match(/3 packets transmitted, 3 received/);
    const trace = inNs('traceroute6', '-n', '-q', '1', '-w', '1', '-m', '3', WEB).stdout;
    expect(trace).to.match(new RegExp(`^ 1  ${VIP} `, 'm'));
    expect(trace).to.match(new RegExp(`^ 2  ${WEB} `, 'm'));
    expect(inNs('socat', '-T', '5', '-', `TCP6:[${WEB}]:8080`).stdout).to.equal('routed over IPv6\n');
  });

  it('counts what it answered in ctl status', async function () {
    const s = (await app!.ask({ cmd: 'status' })).status as { icmp6: { echoReplies: number; errors: number }; drops: Record<string, number> };
    expect(s.icmp6.echoReplies).to.equal(4);
    // Unreachable, Time Exceeded, Packet Too Big, traceroute6's first hop.
    expect(s.icmp6.errors).to.equal(4);
    expect(s.drops).to.include({ 'no-route': 1, 'ttl-exceeded': 2, 'packet-too-big': 1 });
  });
});
