import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { formatAddress } from '../../appliance/addr/address';
import { formatPrefixAny } from '../../appliance/addr/prefix';
import { loadConfig } from '../../appliance/config/load';
import { REPO } from '../lab/lab';
import { appended, confCopies } from './conf-dir';
import { configProblems } from './config-problems';

/** Beside conf/'s IPv4 servers: an IPv6 server on alp-sa (a dual-stack segment) and an IPv6-only segment, alp-sf. */
const SERVERS6 = [
  '[sa6]', 'address = 2001:db8:19:1::2', 'tap = alp-sa', 'local = 2001:db8:19:1::1/64', 'alps = http', '',
  '[sf]', 'address = 2001:db8:19:6::100', 'tap = alp-sf', 'local = 2001:db8:19:6::1/64', 'alps = http', '',
].join('\n');

describe('config: IPv6 [routes]', function () {
  this.timeout(20_000);
  const conf = confCopies();
  /** conf/ with the IPv6 servers and `routes` appended to [routes] (the last section of conf/'s appliance.ini). */
  const withRoutes = (routes: string, edit: (t: string) => string = (t) => t) =>
    conf({ 'servers.ini': appended(SERVERS6), 'appliance.ini': (t) => edit(t) + '\n' + routes + '\n' });

  it('reads IPv6 prefixes and gateways beside the IPv4 ones, any text form, a link-local gateway too', function () {
    const c = loadConfig(withRoutes('2001:db8:113::/48 = alp-sf via 2001:db8:19:6::2\n2001:DB8:114:0::/48 = alp-sa\n::/0 = alp-sf via fe80::1'));
    const shown = c.routes.map((r) => `${formatPrefixAny(r.prefix)} ${r.tap} ${r.gateway === undefined ? '-' : formatAddress(r.gateway)}`);
    expect(shown).to.deep.equal([
      '203.0.113.0/24 alp-sa 198.19.1.2',
      '2001:db8:113::/48 alp-sf 2001:db8:19:6::2',
      '2001:db8:114::/48 alp-sa -',
      '::/0 alp-sf fe80::1',
    ]);
  });

  const BAD: [string, string, RegExp][] = [
    ['a key that is no prefix', '2001:db8::g/48 = alp-sf', /\[routes\] 2001:db8::g\/48: expected a destination prefix like 203\.0\.113\.0\/24 or 2001:db8:113::\/48/],
    ['a length past 128', '2001:db8::/129 = alp-sf', /\[routes\] 2001:db8::\/129: expected a destination prefix/],
    ['a multicast prefix', 'ff0e::/16 = alp-sf', /\[routes\] ff0e::\/16: ff0e::\/16 is multicast \(ff00::\/8\), never routed/],
    ['a link-local prefix', 'fe80::/64 = alp-sf', /\[routes\] fe80::\/64: fe80::\/64 is link-local \(fe80::\/10\), never routed/],
    ['one prefix written twice', '2001:db8:113::/48 = alp-sf\n2001:db8:113:0::1/48 = alp-sa', /\[routes\] 2001:db8:113:0::1\/48: the same prefix as the route "2001:db8:113::\/48"/],
    ['an IPv4 gateway for an IPv6 prefix', '2001:db8:115::/48 = alp-sf via 198.19.1.2', /\[routes\] 2001:db8:115::\/48: expected an IPv6 gateway after "via" \(the prefix's family\), got "198\.19\.1\.2"/],
    ['an IPv6 gateway for an IPv4 prefix', '203.0.114.0/24 = alp-sa via 2001:db8:19:1::2', /\[routes\] 203\.0\.114\.0\/24: expected an IPv4 gateway after "via"/],
    ['a group as the gateway', '2001:db8:115::/48 = alp-sf via ff02::2', /\[routes\] 2001:db8:115::\/48: gateway ff02::2 is no single host/],
    ['a TAP without an IPv6 segment', '2001:db8:116::/48 = alp-sb', /\[routes\] 2001:db8:116::\/48: TAP "alp-sb" has no IPv6 segment \(no server on it has an IPv6 "local"\)/],
    ['an IPv4 route on an IPv6-only TAP', '203.0.115.0/24 = alp-sf', /\[routes\] 203\.0\.115\.0\/24: TAP "alp-sf" has no IPv4 segment/],
    ['a gateway off the TAP\'s IPv6 segment', '2001:db8:117::/48 = alp-sf via 2001:db8:19:7::2', /\[routes\] 2001:db8:117::\/48: gateway 2001:db8:19:7::2 is not on alp-sf's IPv6 segment 2001:db8:19:6::1\/64 \(nor link-local\)/],
    ['the appliance itself as the gateway', '2001:db8:118::/48 = alp-sf via 2001:db8:19:6::1', /\[routes\] 2001:db8:118::\/48: gateway 2001:db8:19:6::1 is the appliance's own address on alp-sf/],
    ['a TAP no server uses', '2001:db8:119::/48 = alp-zz via 2001:db8:19:6::2', /\[routes\] 2001:db8:119::\/48: TAP "alp-zz" is not the TAP of any server/],
  ];
  for (const [what, routes, message] of BAD) {
    it(`refuses ${what}, naming file, line, section and key`, function () {
      const problems = configProblems(withRoutes(routes));
      expect(problems.some((p) => /^appliance\.ini:\d+: /.test(p) && message.test(p)), problems.join('\n')).to.equal(true);
    });
  }

  it('refuses an intranet mtu below IPv6\'s 1280 once an IPv6 route is there, not before, and says it once with an IPv6 VIP', function () {
    const route = '2001:db8:113::/48 = alp-sf via 2001:db8:19:6::2';
    const low = (t: string) => t.replace(/^mtu = 1500$/m, 'mtu = 1200');
    const v4Only = (t: string) => low(t).replace(/^vip = .*$/m, 'vip = 198.18.0.100');
    const problems = configProblems(withRoutes(route, v4Only));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^appliance\.ini:\d+: \[intranet\] mtu: IPv6 routes need an mtu of at least 1280 \(RFC 8200 5\), got 1200$/);
    expect(configProblems(withRoutes('', v4Only))).to.deep.equal([]);
    expect(configProblems(withRoutes(route, (t) => low(t).replace(/^vip = .*$/m, 'vip = 198.18.0.100, 2001:db8:18:100::100')))).to.have.length(1);
  });

  it('socksalp check shows the IPv6 routes in their canonical text', function () {
    const dir = withRoutes('2001:DB8:113:0::/48 = alp-sf via 2001:db8:19:6:0::2\n::/0 = alp-sf via fe80::1');
    const r = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'check', '--config', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ {2}routes {5}203\.0\.113\.0\/24 -> alp-sa via 198\.19\.1\.2, 2001:db8:113::\/48 -> alp-sf via 2001:db8:19:6::2, ::\/0 -> alp-sf via fe80::1$/m);
  });
});
