import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { formatAddress, formatAddressPort, parseAddress } from '../../../appliance/addr/address';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { parseIpv4 } from '../../../appliance/config/address';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import { formatEndpoint, parseEndpoint, type Destination } from '../../../appliance/divert/endpoint';
import { renderDiverted, saveDiverted } from '../../../appliance/divert/save';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { confCopies } from '../conf-dir';
import { configProblems } from '../config-problems';
import { a6 } from '../wire/packets6';

/*
 * The diverted-address table with IPv6 endpoints: parsed and shown in RFC 5952's text (brackets
 * before a port), matched by address number, read from diverted.ini, saved and read back.
 */

const v6 = (t: string) => parseAddress(t)!;
const dest6 = (t: string, port: number): Destination => ({ kind: 'ipv6', address: v6(t), port });
const dest4 = (t: string, port: number): Destination => ({ kind: 'ipv4', address: parseIpv4(t)!, port });
const shown = (d: Destination | undefined) => (d === undefined ? undefined : formatEndpoint(d));
const conf = confCopies();

function table(...lines: string[]): DivertedAddresses {
  const t = new DivertedAddresses();
  for (const l of lines) {
    const [o, d] = l.split(' = ');
    const r = t.add(o, d);
    if (!r.ok) throw new Error(r.message);
  }
  return t;
}

describe('divert: IPv6 endpoints', function () {
  it('parses [address]:port, [address] and address; shows RFC 5952 text, in brackets only before a port', function () {
    const p = parseEndpoint('[2001:DB8:113:0:0:0:0:80]:8080');
    expect(p).to.deep.equal({ ok: true, endpoint: { kind: 'ipv6', address: v6('2001:db8:113::80'), port: 8080 } });
    expect(formatEndpoint(p.ok ? p.endpoint : dest4('0.0.0.0', 1))).to.equal('[2001:db8:113::80]:8080');
    for (const text of ['2001:db8:113::80', '[2001:db8:113::80]', '2001:0db8:0113::0080']) {
      const q = parseEndpoint(text);
      expect(q.ok && formatEndpoint(q.endpoint), text).to.equal('2001:db8:113::80');
    }
    // The longest run of zero groups is the one shortened (RFC 5952 4.2.3); ::ffff: keeps its dotted quad (5).
    const r = parseEndpoint('[2001:db8:0:0:1:0:0:0]:1');
    expect(r.ok && formatEndpoint(r.endpoint)).to.equal('[2001:db8:0:0:1::]:1');
    const m = parseEndpoint('::ffff:203.0.113.80');
    expect(m.ok && m.endpoint.kind).to.equal('ipv6');
    expect(m.ok && formatEndpoint(m.endpoint)).to.equal('::ffff:203.0.113.80');
  });

  it('without holding, an address nothing holds is refused and stays uninterned; a held one is its number', function () {
    const before = ADDRESSES6.size;
    const p = parseEndpoint('[2001:db8:113:77::1]:80', false);
    expect(p.ok).to.equal(false);
    expect(ADDRESSES6.lookup(a6('2001:db8:113:77::1'), 0)).to.equal(-1);
    expect(ADDRESSES6.size).to.equal(before);
    const held = v6('2001:db8:113:77::2');
    expect(parseEndpoint('[2001:db8:113:77::2]:80', false)).to.deep.equal({ ok: true, endpoint: { kind: 'ipv6', address: held, port: 80 } });
  });
});

describe('divert: DivertedAddresses with IPv6 entries', function () {
  const t = table(
    '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080',
    '2001:db8:113::80 = 2001:db8:113::82',
    '[2001:db8:113::90]:443 = 203.0.113.91',
    '203.0.113.90:443 = [2001:db8:113::91]:8443',
    'web6.socksalp.test = 2001:db8:113::81',
    'web4.socksalp.test = 203.0.113.81',
    'named.socksalp.test = [2001:db8:113::81]:80',
  );

  it('an [address]:port entry beats the address entry; the address entry keeps the port', function () {
    expect(shown(t.divert(dest6('2001:db8:113::80', 8080)))).to.equal('[2001:db8:113::81]:8080');
    expect(shown(t.divert(dest6('2001:db8:113::80', 80)))).to.equal('[2001:db8:113::82]:80');
    expect(t.lookupAddress(v6('2001:db8:113::80'), 80)).to.deep.equal({ kind: 'ipv6', address: v6('2001:db8:113::82') });
  });

  it('diverts across families both ways; families never match each other', function () {
    expect(shown(t.divert(dest6('2001:db8:113::90', 443)))).to.equal('203.0.113.91:443');
    expect(shown(t.divert(dest4('203.0.113.90', 443)))).to.equal('[2001:db8:113::91]:8443');
    expect(t.divert(dest6('::ffff:203.0.113.90', 443))).to.equal(undefined);
    expect(t.divert(dest6('2001:db8:113::90', 80))).to.equal(undefined);
    // -1: an address of a datagram that nothing holds, in no entry.
    expect(t.lookupAddress(-1, 8080)).to.equal(undefined);
  });

  it('gives the name server the address of either family a name-only entry names', function () {
    expect(t.nameAddress('WEB6.socksalp.test.')).to.equal(v6('2001:db8:113::81'));
    expect(t.nameAddress('web4.socksalp.test')).to.equal(parseIpv4('203.0.113.81'));
    expect(formatAddress(t.nameAddress('named.socksalp.test')!)).to.equal('2001:db8:113::81');
  });

  it('refuses a self-diversion and a cycle, shown with brackets', function () {
    const u = table('[2001:db8:113::1]:80 = 2001:db8:113::2');
    const self = u.add('[2001:db8:113::5]:80', '[2001:db8:113:0::5]');
    expect(self.ok || self.message).to.equal('[2001:db8:113::5]:80 = 2001:db8:113::5: an entry may not divert to itself');
    const cycle = u.add('[2001:db8:113::2]:80', '[2001:db8:113::1]:80');
    expect(cycle.ok || cycle.message).to.equal('[2001:db8:113::2]:80 = [2001:db8:113::1]:80 would make a cycle of diversions: [2001:db8:113::1]:80 -> [2001:db8:113::2]:80 -> [2001:db8:113::1]:80');
    expect(u.size).to.equal(1);
    expect(u.remove('[2001:DB8:113::1]:80')?.diverted).to.deep.equal({ kind: 'ipv6', address: v6('2001:db8:113::2') });
  });
});

const FILE = [
  '; IPv6 diversions',
  '[diverted]',
  '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080   ; the mirror',
  '2001:db8:113::80 = 2001:db8:113::82',
  'web6.socksalp.test = 2001:db8:113::81',
  '[2001:DB8:113::90]:443 = 203.0.113.91',
  '',
].join('\n');

describe('divert: diverted.ini with IPv6 entries', function () {
  it('reads them, shows them in check\'s summary, saves unchanged, and reads back what it saved', function () {
    const dir = conf({ 'diverted.ini': FILE });
    const c = loadConfig(dir);
    const texts = c.diverted!.entries.map((e) => `${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)}`);
    expect(texts).to.deep.equal([
      '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080',
      '2001:db8:113::80 = 2001:db8:113::82',
      'web6.socksalp.test = 2001:db8:113::81',
      '[2001:db8:113::90]:443 = 203.0.113.91',
    ]);
    expect(summarizeConfig(c)).to.include('  [2001:db8:113::80]:8080  [2001:db8:113::81]:8080\n  2001:db8:113::80         2001:db8:113::82 (port kept)\n');
    const live = new DivertedAddresses(c.diverted!.entries);
    saveDiverted(c.diverted!.path, live);
    expect(readFileSync(c.diverted!.path, 'utf8')).to.equal(FILE);

    // Changed: the value rewritten in canonical text, its comment kept; a new entry appended.
    expect(live.add('[2001:db8:113::80]:8080', '[2001:db8:113:0::83]:80').ok).to.equal(true);
    expect(live.add('[2001:db8:113::a]:53', 'dns.socksalp.test').ok).to.equal(true);
    expect(live.remove('2001:db8:113::80')).to.not.equal(undefined);
    saveDiverted(c.diverted!.path, live);
    const saved = readFileSync(c.diverted!.path, 'utf8');
    expect(saved).to.equal([
      '; IPv6 diversions',
      '[diverted]',
      '[2001:db8:113::80]:8080 = [2001:db8:113::83]:80   ; the mirror',
      'web6.socksalp.test = 2001:db8:113::81',
      '[2001:DB8:113::90]:443 = 203.0.113.91',
      '[2001:db8:113::a]:53 = dns.socksalp.test',
      '',
    ].join('\n'));
    const again = loadConfig(dir).diverted!.entries;
    expect(again.map((e) => `${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)}`)).to.deep.equal(live.entries().map((e) => `${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)}`));
    expect(renderDiverted(saved, again)).to.equal(saved);
  });
});

describe('servers.ini: an IPv6 health-check target', function () {
  it('is taken for a server that speaks SOCKS5, refused with the reason for one that does not', function () {
    const at = (versions: string) => conf({ 'servers.ini': (t: string) => t.replace('[sb]', `check = [2001:db8:113::80]:80\nversions = ${versions}\n\n[sb]`) });
    expect(configProblems(at('4, 5'))).to.deep.equal([]);
    expect(loadConfig(at('5')).servers[0].check?.target).to.deep.equal({ kind: 'ipv6', address: v6('2001:db8:113::80'), port: 80 });
    const problems = configProblems(at('4, 4a'));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^servers\.ini:\d+: \[sa\] check: an IPv6 target needs SOCKS5 \(ATYP 4\), and this server does not speak it: give an IPv4 address or a name$/);
  });
});

describe('divert: the monitor\'s server diversions name IPv6 servers as the figures do', function () {
  it('an entry made from a server\'s address text (snapshot: formatAddressPort) shows the same text, so the policy matches them', function () {
    const t = new DivertedAddresses();
    const from = formatAddressPort(v6('2001:db8:19:6::2'), 1080);
    const to = formatAddressPort(parseIpv4('198.19.1.2')!, 1080);
    expect(from).to.equal('[2001:db8:19:6::2]:1080');
    const r = t.add(from, to);
    expect(r.ok && [formatEndpoint(r.entry.original), formatEndpoint(r.entry.diverted)]).to.deep.equal([from, to]);
    expect(t.remove(from)).to.not.equal(undefined);
  });
});
