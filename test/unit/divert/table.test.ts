import { expect } from 'chai';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseIpv4 } from '../../../appliance/config/address';
import { formatEndpoint, parseEndpoint, type Destination, type DivertedEntry } from '../../../appliance/divert/endpoint';
import { DivertedAddresses } from '../../../appliance/divert/table';

const ip = (t: string) => parseIpv4(t)!;
const v4 = (a: string, port: number): Destination => ({ kind: 'ipv4', address: ip(a), port });
const name = (n: string, port: number): Destination => ({ kind: 'name', name: n, port });
const shown = (d: Destination | undefined) => (d === undefined ? undefined : formatEndpoint(d));

function table(...lines: string[]): DivertedAddresses {
  const t = new DivertedAddresses();
  for (const l of lines) {
    const [o, d] = l.split(' = ');
    const r = t.add(o, d);
    if (!r.ok) throw new Error(r.message);
  }
  return t;
}

describe('divert: DivertedAddresses matching', function () {
  const t = table(
    '203.0.113.80:8080 = 203.0.113.81:8080',
    '203.0.113.80 = 203.0.113.82',
    '203.0.113.90:443 = 203.0.113.91',
    'web.socksalp.test = 203.0.113.81',
    'web.socksalp.test:443 = mirror.socksalp.test:8443',
    'ftp.socksalp.test:21 = ftp2.socksalp.test',
  );

  it('an address:port entry, for that port only', function () {
    expect(shown(t.divert(v4('203.0.113.80', 8080)))).to.equal('203.0.113.81:8080');
    expect(shown(t.divert(v4('203.0.113.90', 443)))).to.equal('203.0.113.91:443');
    expect(t.divert(v4('203.0.113.90', 80))).to.equal(undefined);
  });

  it('an address entry, for every other port of the address, the port kept', function () {
    expect(shown(t.divert(v4('203.0.113.80', 80)))).to.equal('203.0.113.82:80');
    expect(shown(t.divert(v4('203.0.113.80', 8081)))).to.equal('203.0.113.82:8081');
    expect(t.lookupAddress(ip('203.0.113.80'), 80)).to.deep.equal({ kind: 'ipv4', address: ip('203.0.113.82') });
  });

  it('a name entry, any case and trailing dot, the port kept', function () {
    expect(shown(t.divert(name('web.socksalp.test', 80)))).to.equal('203.0.113.81:80');
    expect(shown(t.divert(name('WEB.SocksAlp.test.', 8080)))).to.equal('203.0.113.81:8080');
    expect(t.divert(name('www.socksalp.test', 80))).to.equal(undefined);
  });

  it('a name:port entry beats the name entry; its port, or the original', function () {
    expect(shown(t.divert(name('Web.Socksalp.Test', 443)))).to.equal('mirror.socksalp.test:8443');
    expect(shown(t.divert(name('ftp.socksalp.test', 21)))).to.equal('ftp2.socksalp.test:21');
    expect(t.divert(name('ftp.socksalp.test', 20))).to.equal(undefined);
  });

  it('never matches a name against an address', function () {
    expect(t.divert(name('203.0.113.80', 80))).to.equal(undefined);
    expect(t.lookupName('203.0.113.80', 80)).to.equal(undefined);
  });

  it('applies one entry: the diverted side is not looked up again', function () {
    const chain = table('a.test = b.test', 'b.test = c.test');
    expect(shown(chain.divert(name('a.test', 80)))).to.equal('b.test:80');
  });

  it('returns the entry\'s own endpoint (no copy per lookup)', function () {
    expect(t.lookupAddress(ip('203.0.113.80'), 8080)).to.equal(t.lookupAddress(ip('203.0.113.80'), 8080));
    expect(t.lookup(v4('203.0.113.80', 8080))).to.equal(t.entries()[0].diverted);
    expect(Object.isFrozen(t.entries()[0].diverted)).to.equal(true);
  });

  it('agrees with a plain Map over many entries (hash collisions)', function () {
    const want = new Map<string, string>();
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 3000; i++) {
      const a = `10.${rnd() & 3}.${rnd() & 7}.${rnd() & 255}`;
      const port = rnd() % 3 === 0 ? undefined : 1 + (rnd() & 7);
      want.set(port === undefined ? a : `${a}:${port}`, `198.51.100.${i & 255}:${1 + (i & 1023)}`);
    }
    const parse = (t: string) => {
      const p = parseEndpoint(t);
      if (!p.ok) throw new Error(t);
      return p.endpoint;
    };
    const big = new DivertedAddresses([...want].map(([o, d]) => ({ original: parse(o), diverted: parse(d) })));
    expect(big.size).to.equal(want.size);
    for (let x = 0; x < 4; x++) {
      for (let y = 0; y < 8; y++) {
        for (let z = 0; z < 256; z++) {
          const a = `10.${x}.${y}.${z}`;
          for (let port = 1; port <= 9; port++) {
            const got = big.lookupAddress(ip(a), port);
            expect(got && formatEndpoint(got), `${a}:${port}`).to.equal(want.get(`${a}:${port}`) ?? want.get(a));
          }
        }
      }
    }
  });

  it('allocates nothing on an IPv4 lookup (no garbage collection over millions of them)', async function () {
    /** Young-generation collections while `run` runs; the observer reports them a little later. */
    const collections = async (run: () => void) => {
      let gcs = 0;
      const obs = new PerformanceObserver((list) => {
        gcs += list.getEntries().length;
      });
      obs.observe({ entryTypes: ['gc'] });
      run();
      await new Promise((r) => setTimeout(r, 100));
      obs.disconnect();
      return gcs;
    };
    const addresses = Uint32Array.from({ length: 256 }, (_, i) => ip(`203.0.113.${i}`));
    let hits = 0;
    const lookups = (n: number) => {
      for (let i = 0; i < n; i++) if (t.lookupAddress(addresses[i & 255], i & 1 ? 8080 : 443) !== undefined) hits++;
    };
    lookups(200_000);
    // 16 bytes a lookup would be 80 MB: several scavenges of the young generation.
    expect(await collections(() => lookups(5_000_000))).to.be.lessThan(2);
    expect(hits).to.be.greaterThan(0);
    // The harness sees allocation: `divert` makes a destination when the port is kept.
    const kept: unknown[] = [];
    expect(await collections(() => {
      for (let i = 0; i < 5_000_000; i++) kept[i & 1023] = t.divert(v4('203.0.113.80', 1 + (i & 1023)));
    })).to.be.greaterThan(1);
  });
});

describe('divert: DivertedAddresses changes', function () {
  it('adds, replaces in place, removes; lookups follow', function () {
    const t = table('203.0.113.80 = 203.0.113.81', 'web.socksalp.test = 203.0.113.82');
    const r = t.add('203.0.113.80', '203.0.113.83:80');
    expect(r.ok && r.replaced && formatEndpoint(r.replaced.diverted)).to.equal('203.0.113.81');
    expect(t.entries().map((e) => formatEndpoint(e.original))).to.deep.equal(['203.0.113.80', 'web.socksalp.test']);
    expect(shown(t.divert(v4('203.0.113.80', 8080)))).to.equal('203.0.113.83:80');
    expect(t.get('WEB.socksalp.test.')?.diverted).to.deep.equal({ kind: 'ipv4', address: ip('203.0.113.82') });

    expect(t.remove('Web.Socksalp.Test')?.original).to.deep.equal({ kind: 'name', name: 'web.socksalp.test' });
    expect(t.remove('web.socksalp.test')).to.equal(undefined);
    expect(t.remove('203.0.113.80:80')).to.equal(undefined);
    expect(t.divert(name('web.socksalp.test', 80))).to.equal(undefined);
    expect(t.size).to.equal(1);
    expect(t.remove('203.0.113.80')).to.not.equal(undefined);
    expect(t.lookupAddress(ip('203.0.113.80'), 80)).to.equal(undefined);
  });

  it('takes endpoints as well as text', function () {
    const t = new DivertedAddresses();
    const r = t.add({ kind: 'name', name: 'Web.Test.' }, { kind: 'ipv4', address: ip('203.0.113.81'), port: 80 });
    expect(r.ok).to.equal(true);
    expect(shown(t.divert(name('web.test', 8080)))).to.equal('203.0.113.81:80');
    expect(t.get('web.test')?.original).to.deep.equal({ kind: 'name', name: 'web.test' });
    // Checked as their text would be.
    const r0 = t.add({ kind: 'ipv4', address: ip('203.0.113.80'), port: 0 }, 'a.test');
    expect(r0.ok === false && r0.message).to.match(/^the original side is not .*: the port is a whole number from 1 to 65535/);
    expect(t.add('a.test', { kind: 'name', name: 'bad_name' }).ok).to.equal(false);
    expect(() => new DivertedAddresses([{ original: { kind: 'name', name: 'x.test', port: 70000 }, diverted: { kind: 'name', name: 'y.test' } }])).to.throw(/the original side is not/);
    expect(new DivertedAddresses([{ original: { kind: 'name', name: 'X.Test.' }, diverted: { kind: 'name', name: 'y.test' } }]).lookupName('x.test', 1)).to.deep.equal({ kind: 'name', name: 'y.test' });
  });

  it('refuses a self-diversion, a cycle and bad text, with a message, the table unchanged', function () {
    const t = table('203.0.113.80:8080 = 203.0.113.81', 'a.test = b.test');
    const before = t.entries();
    const refused = (o: string, d: string) => {
      const r = t.add(o, d);
      expect(r.ok, `${o} = ${d}`).to.equal(false);
      return r.ok ? '' : r.message;
    };
    expect(refused('203.0.113.82', '203.0.113.82')).to.equal('203.0.113.82 = 203.0.113.82: an entry may not divert to itself');
    expect(refused('A.test:25', 'a.test.')).to.match(/may not divert to itself/);
    expect(refused('b.test', 'a.test')).to.equal('b.test = a.test would make a cycle of diversions: a.test -> b.test -> a.test');
    // Through the kept port: 80:8080 -> 81:8080 -> 80:8080.
    expect(refused('203.0.113.81', '203.0.113.80')).to.equal('203.0.113.81 = 203.0.113.80 would make a cycle of diversions: 203.0.113.80:8080 -> 203.0.113.81:8080 -> 203.0.113.80:8080');
    // Replacing an entry can close a cycle too.
    t.add('b.test', 'c.test');
    expect(refused('b.test', 'a.test:80')).to.match(/would make a cycle of diversions: /);
    expect(refused('203.0.113.800', '203.0.113.81')).to.match(/^the original side is not an address, .*: an IPv4 address is four numbers/);
    expect(refused('203.0.113.80', 'bad_name')).to.match(/^the diverted side is not/);
    expect(t.entries().slice(0, 2)).to.deep.equal(before);
    expect(shown(t.divert(name('b.test', 1)))).to.equal('c.test:1');
  });

  it('accepts an address-only entry that names its own port (that port stays as it is)', function () {
    const t = table('203.0.113.80 = 203.0.113.80:8080');
    expect(shown(t.divert(v4('203.0.113.80', 80)))).to.equal('203.0.113.80:8080');
    expect(shown(t.divert(v4('203.0.113.80', 8080)))).to.equal('203.0.113.80:8080');
  });

  it('the constructor refuses a table with a fault', function () {
    const e = (o: string, d: string): DivertedEntry => ({ original: { kind: 'name', name: o }, diverted: { kind: 'name', name: d } });
    expect(() => new DivertedAddresses([e('a.test', 'b.test'), e('b.test', 'a.test')])).to.throw(/cycle of diversions/);
    expect(() => new DivertedAddresses([e('a.test', 'a.test')])).to.throw(/diverts to itself/);
    expect(() => new DivertedAddresses([e('a.test', 'b.test'), e('a.test', 'c.test')])).to.throw(/a\.test has two entries/);
    expect(new DivertedAddresses([e('a.test', 'b.test')]).size).to.equal(1);
  });
});
