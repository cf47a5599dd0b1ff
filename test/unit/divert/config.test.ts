import { expect } from 'chai';
import { configProblems } from '../config-problems';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import { parseIpv4 } from '../../../appliance/config/address';
import { formatEndpoint, parseEndpoint } from '../../../appliance/divert/endpoint';
import { REPO } from '../../lab/lab';
import { confCopies } from '../conf-dir';

const conf = confCopies();
/** A copy of conf/'s three usual files, plus diverted.ini holding `diverted` (none when undefined). */
const confWith = (diverted: string | Buffer | undefined) => conf(diverted === undefined ? {} : { 'diverted.ini': diverted });

const problems = configProblems;

const texts = (dir: string) => loadConfig(dir).diverted!.entries.map((e) => `${formatEndpoint(e.original)} = ${formatEndpoint(e.diverted)}`);

describe('divert: diverted.ini through loadConfig', function () {
  it('is optional: no file, an empty table', function () {
    const c = loadConfig(confWith(undefined));
    expect(c.diverted).to.deep.include({ present: false, entries: [] });
    expect(c.diverted!.path).to.match(/\/diverted\.ini$/);
    expect(summarizeConfig(c)).to.match(/^ {2}diverted {3}none \(no diverted\.ini\)$/m);
  });

  it('conf/diverted.ini diverts nothing (the lab is unchanged)', function () {
    const c = loadConfig(join(REPO, 'conf'));
    expect(c.diverted).to.deep.include({ present: true, entries: [] });
    expect(summarizeConfig(c)).to.match(/^ {2}diverted {3}none \(diverted\.ini has no entries\)$/m);
  });

  it('conf/diverted.ini\'s commented example is valid once uncommented', function () {
    const example = require('node:fs').readFileSync(join(REPO, 'conf', 'diverted.ini'), 'utf8') as string;
    const lines = example.split('\n').filter((l) => /^;\s+[^;\s]+ = \S+$/.test(l)).map((l) => l.replace(/^;\s+/, ''));
    expect(lines).to.have.length(3);
    expect(texts(confWith(`[diverted]\n${lines.join('\n')}\n`))).to.deep.equal(['web.socksalp.test = 203.0.113.81', '203.0.113.80:8080 = 203.0.113.81:80', '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080']);
  });

  it('reads each form of either side, names normalized', function () {
    const dir = confWith([
      '; header',
      '[diverted]',
      '203.0.113.80:8080 = 203.0.113.81:8080',
      '203.0.113.80 = 203.0.113.82   ; every other port, kept',
      'Web.Socksalp.Test. = 203.0.113.81',
      'web.socksalp.test:443 = Mirror.Socksalp.Test:8443',
      'db.socksalp.test = db2.socksalp.test',
      '',
    ].join('\n'));
    const c = loadConfig(dir);
    expect(c.diverted!.entries[0]).to.deep.equal({
      original: { kind: 'ipv4', address: parseIpv4('203.0.113.80'), port: 8080 },
      diverted: { kind: 'ipv4', address: parseIpv4('203.0.113.81'), port: 8080 },
    });
    expect(c.diverted!.entries[2]).to.deep.equal({ original: { kind: 'name', name: 'web.socksalp.test' }, diverted: { kind: 'ipv4', address: parseIpv4('203.0.113.81') } });
    expect(texts(dir)).to.deep.equal([
      '203.0.113.80:8080 = 203.0.113.81:8080',
      '203.0.113.80 = 203.0.113.82',
      'web.socksalp.test = 203.0.113.81',
      'web.socksalp.test:443 = mirror.socksalp.test:8443',
      'db.socksalp.test = db2.socksalp.test',
    ]);
    const summary = summarizeConfig(c);
    expect(summary).to.match(/^ {2}diverted {3}5 entries$/m);
    expect(summary).to.include('Diverted addresses (diverted.ini)\n  ORIGINAL               DIVERTED\n  203.0.113.80:8080      203.0.113.81:8080\n  203.0.113.80           203.0.113.82 (port kept)\n');
  });

  it('takes the one-label names true, false and null as names (the ini package would make them JSON)', function () {
    const dir = confWith('[diverted]\nweb.socksalp.test = null\nmirror.socksalp.test = true\n');
    expect(texts(dir)).to.deep.equal(['web.socksalp.test = null', 'mirror.socksalp.test = true']);
  });

  it('takes an empty file, and comments alone, as no entries', function () {
    expect(loadConfig(confWith('')).diverted).to.deep.include({ present: true, entries: [] });
    expect(loadConfig(confWith('; nothing yet\n')).diverted!.entries).to.deep.equal([]);
    expect(summarizeConfig(loadConfig(confWith('[diverted]\na = b\n')))).to.match(/^ {2}diverted {3}1 entry$/m);
  });

  const CASES: { rule: string; text: string; where: RegExp }[] = [
    { rule: 'bad address', text: '203.0.113.800 = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.800: expected the original as address:port \(\[IPv6\]:port\), address, host name:port or host name \(an IPv4 address is four numbers/ },
    { rule: 'bad diverted address', text: '203.0.113.80 = 203.0.113', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80: expected the diverted side .*got "203\.0\.113"$/ },
    { rule: 'leading zero', text: '203.0.113.080 = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.080: expected the original .*without leading zeros/ },
    { rule: 'port 0', text: '203.0.113.80:0 = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80:0: .*the port is a whole number from 1 to 65535/ },
    { rule: 'port too high', text: '203.0.113.80 = 203.0.113.81:65536', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80: expected the diverted side .*the port is a whole number from 1 to 65535.*got "203\.0\.113\.81:65536"/ },
    { rule: 'port missing', text: '203.0.113.80: = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80:: .*the port is/ },
    { rule: 'name with "_"', text: 'web_1.socksalp.test = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] web_1\.socksalp\.test: .*letters, digits and "-"/ },
    { rule: 'label starting with "-"', text: 'web.-socksalp.test = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] web\.-socksalp\.test: .*not first or last in a label/ },
    { rule: 'label of 64', text: `${'a'.repeat(64)}.test = 203.0.113.81`, where: /^diverted\.ini:2: \[diverted\] a+\.\.\.: .*a label of a host name is 1 to 63 bytes/ },
    { rule: 'empty label', text: 'web..test = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] web\.\.test: .*no empty label/ },
    { rule: 'name of 254', text: `${Array(4).fill('a'.repeat(63)).join('.')}.ab = 203.0.113.81`, where: /^diverted\.ini:2: \[diverted\] a+\.\.\.: .*at most 253 bytes/ },
    { rule: 'bad IPv6 address', text: '203.0.113.80 = [2001:db8::g]:80', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80: expected the diverted side .*an IPv6 address is eight groups .*got "\[2001:db8::g\]:80"$/ },
    { rule: 'IPv6 original without its "]"', text: '[2001:db8::1:80 = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] \[2001:db8::1:80: expected the original .*has its "\]"/ },
    { rule: 'IPv6 port without ":"', text: '[2001:db8::1]80 = 203.0.113.81', where: /^diverted\.ini:2: \[diverted\] \[2001:db8::1\]80: .*after "\]" comes ":" and the port/ },
    { rule: 'IPv6 self-diversion written two ways', text: '[2001:DB8:0::1]:80 = [2001:db8::1]', where: /^diverted\.ini:2: \[diverted\] \[2001:DB8:0::1\]:80: diverts to itself \("2001:db8::1"\)$/ },
    { rule: 'IPv6 cycle', text: '2001:db8::1 = [2001:db8::2]:80\n[2001:db8::2]:80 = 2001:db8::1', where: /^diverted\.ini:3: \[diverted\] \[2001:db8::2\]:80: makes a cycle with line 2: \[2001:db8::[12]\]:80 -> \[2001:db8::[12]\]:80 -> \[2001:db8::[12]\]:80$/ },
    { rule: 'a name and an address that are the same keys', text: 'web.socksalp.test = 203.0.113.81\n203.0.113.81 = web.socksalp.test', where: /^diverted\.ini:3: \[diverted\] 203\.0\.113\.81: makes a cycle with line 2: web\.socksalp\.test -> 203\.0\.113\.81 -> web\.socksalp\.test$/ },
    { rule: 'empty value', text: '203.0.113.80 =', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80: value is empty/ },
    { rule: 'self, address', text: '203.0.113.80 = 203.0.113.80', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80: diverts to itself/ },
    { rule: 'self, port kept', text: '203.0.113.80:8080 = 203.0.113.80', where: /^diverted\.ini:2: \[diverted\] 203\.0\.113\.80:8080: diverts to itself/ },
    { rule: 'self, name in another case', text: 'Web.Socksalp.Test:80 = web.socksalp.test.:80', where: /^diverted\.ini:2: \[diverted\] Web\.Socksalp\.Test:80: diverts to itself/ },
    { rule: 'cycle of two', text: '203.0.113.80 = 203.0.113.81\n203.0.113.81 = 203.0.113.80', where: /^diverted\.ini:3: \[diverted\] 203\.0\.113\.81: makes a cycle with line 2: 203\.0\.113\.8[01] -> 203\.0\.113\.8[01] -> 203\.0\.113\.8[01]$/ },
    { rule: 'cycle through a port kept', text: '203.0.113.80:8080 = 203.0.113.81\n203.0.113.81 = 203.0.113.80', where: /^diverted\.ini:3: \[diverted\] 203\.0\.113\.81: makes a cycle with line 2: 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080 -> 203\.0\.113\.80:8080$/ },
    { rule: 'cycle of names in other cases', text: 'web.socksalp.test = mirror.socksalp.test\nMIRROR.socksalp.test. = Web.Socksalp.Test', where: /^diverted\.ini:3: \[diverted\] MIRROR\.socksalp\.test\.: makes a cycle with line 2: / },
    { rule: 'cycle of three, through a port set', text: 'a.test = b.test:25\nb.test:25 = c.test\nc.test = a.test', where: /^diverted\.ini:4: \[diverted\] c\.test: makes a cycle with lines 2, 3: .*a\.test:25 -> b\.test:25/ },
    { rule: 'duplicate key', text: '203.0.113.80 = 203.0.113.81\n203.0.113.80 = 203.0.113.82', where: /^diverted\.ini:3: \[diverted\] 203\.0\.113\.80: duplicate key \(first at line 2\)/ },
    { rule: 'one name written two ways', text: 'web.socksalp.test = 203.0.113.81\nWEB.socksalp.test. = 203.0.113.82', where: /^diverted\.ini:3: \[diverted\] WEB\.socksalp\.test\.: "web\.socksalp\.test" at line 2 is the same original/ },
    { rule: 'unknown section', text: '203.0.113.80 = 203.0.113.81\n[redirects]\n203.0.113.82 = 203.0.113.83', where: /^diverted\.ini:3: \[redirects\]: unknown section: diverted\.ini has one section, \[diverted\]/ },
    { rule: 'key outside a section', text: '', where: /^diverted\.ini:1: 203\.0\.113\.90: key outside of any section/ },
  ];
  for (const c of CASES) {
    it(`refuses: ${c.rule}`, function () {
      const text = c.rule === 'key outside a section' ? '203.0.113.90 = 203.0.113.91\n[diverted]\n' : `[diverted]\n${c.text}\n`;
      const got = problems(confWith(text));
      expect(got.some((p) => c.where.test(p)), got.join('\n')).to.equal(true);
    });
  }

  it('accepts what is near a fault: a chain, a swap by port, an address-only entry that sets its own port', function () {
    expect(problems(confWith('[diverted]\na.test = b.test\nb.test = c.test\n'))).to.deep.equal([]);
    // 80 goes to 81 and 81 goes to 82: ports are part of what is compared.
    expect(problems(confWith('[diverted]\n203.0.113.80:80 = 203.0.113.80:81\n203.0.113.80:81 = 203.0.113.80:82\n'))).to.deep.equal([]);
    // Every port to 8080; 8080 itself stays as it is (a fixed point, not a cycle).
    expect(problems(confWith('[diverted]\n203.0.113.80 = 203.0.113.80:8080\n'))).to.deep.equal([]);
    // Through an exact entry that catches the port first: 80:8080 goes to .82, never around.
    expect(problems(confWith('[diverted]\n203.0.113.80:8080 = 203.0.113.82\n203.0.113.81 = 203.0.113.80\n203.0.113.80 = 203.0.113.83\n'))).to.deep.equal([]);
    // A name and an address are never the same: nothing is resolved (whatever web.socksalp.test resolves to).
    expect(problems(confWith('[diverted]\nweb.socksalp.test = 203.0.113.81\n203.0.113.80 = web.socksalp.test\n'))).to.deep.equal([]);
  });

  it('reports every bad line in one run, and shows text from the file escaped', function () {
    const got = problems(confWith(Buffer.from('[diverted]\n203.0.113.80 = 203.0.113.\x1b[31m\n203.0.113.81 = bad_name\n203.0.113.82 = 203.0.113.82\n')));
    expect(got).to.have.length(2);
    expect(got[0]).to.match(/^diverted\.ini:2: .*got "203\.0\.113\.\\x1b\[31m"$/);
    expect(got[1]).to.match(/^diverted\.ini:3: .*got "bad_name"$/);
    expect(got.join('')).not.to.include('\x1b');
  });

  it('reports a directory where diverted.ini should be', function () {
    const dir = confWith(undefined);
    mkdirSync(join(dir, 'diverted.ini'));
    expect(problems(dir).join('\n')).to.match(/^diverted\.ini: cannot read .*EISDIR/);
  });
});

describe('divert: parseEndpoint', function () {
  it('parses each form and refuses the rest', function () {
    expect(parseEndpoint('203.0.113.80:8080')).to.deep.equal({ ok: true, endpoint: { kind: 'ipv4', address: parseIpv4('203.0.113.80'), port: 8080 } });
    expect(parseEndpoint('WEB.socksalp.test.')).to.deep.equal({ ok: true, endpoint: { kind: 'name', name: 'web.socksalp.test' } });
    expect(parseEndpoint('localhost:1')).to.deep.equal({ ok: true, endpoint: { kind: 'name', name: 'localhost', port: 1 } });
    expect(parseEndpoint('1.example.test').ok).to.equal(true);
    expect(parseEndpoint(`${Array(3).fill('a'.repeat(63)).join('.')}.${'b'.repeat(61)}`).ok).to.equal(true); // 253 bytes
    for (const bad of ['', '.', ':80', 'a:b', 'a:080', 'a:65536', '1.2.3', '1.2.3.4.5', 'example.123', 'a b', 'é.test', 'a.test..', '[::1', '[::1]x', '[::1]:', '[::1]:0', '[2001:db8::g]', '2001:db8:::1', '[203.0.113.80]:80', '[web.test]:80']) {
      expect(parseEndpoint(bad).ok, bad).to.equal(false);
    }
  });
});
