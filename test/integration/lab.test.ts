import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curlSha256, fetchVia, inNs, REPO, urlHost, useLab, webLog, type LabFacts } from '../lab/lab';

/**
 * The lab itself, before any appliance: real clients reach real SOCKS servers directly, the
 * bytes arrive intact, and the web server says which SOCKS server carried each download.
 */
describe('lab: clients reach the SOCKS servers directly', function () {
  this.timeout(120_000);
  let lab: LabFacts;

  before(function () {
    lab = useLab();
  });

  it('has no route out of the lab in any namespace', function () {
    for (const key of Object.keys(lab).filter((k) => k.endsWith('_NS'))) {
      const r = inNs(lab[key], 'ip', ['-4', 'route', 'show', 'default']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim(), `${lab[key]} has a default route`).to.equal('');
    }
  });

  const cases: { server: string; flag: string; target: (l: LabFacts) => string }[] = [
    { server: 'SA', flag: '--socks4', target: (l) => `http://${l.LAB_WEB_ADDR}/big.bin` },
    { server: 'SA', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
    { server: 'SB', flag: '--socks4', target: (l) => `http://${l.LAB_WEB_ADDR}/big.bin` },
    { server: 'SB', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
    { server: 'SC', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
  ];
  for (const c of cases) {
    it(`curl ${c.flag} through ${c.server.toLowerCase()} downloads the large file intact`, async function () {
      const before = webLog(lab).length;
      const d = await curlSha256(lab.LAB_NS_CLIENT, [c.flag, lab[`LAB_SERVER_${c.server}_SOCKS`], c.target(lab)]);
      expect(d.status, d.stderr).to.equal(0);
      expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
      const lines = webLog(lab).slice(before);
      expect(lines, 'one request reached the web server').to.have.length(1);
      expect(lines[0].split(' ')[0], 'the web server saw the SOCKS server\'s egress address').to.equal(lab[`LAB_SERVER_${c.server}_EGRESS`]);
    });
  }

  it('se takes only its user\'s username and password: with them the large file arrives intact, without them curl is refused', async function () {
    const password = readFileSync(lab.LAB_SE_PASSWORD_FILE, 'utf8').split('\n')[0];
    expect(password).to.match(/^[A-Za-z0-9_-]{20}$/);
    const before = webLog(lab).length;
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `${lab.LAB_SE_USER}:${password}`, lab.LAB_BIG_URL]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
    const lines = webLog(lab).slice(before);
    expect(lines).to.have.length(1);
    expect(lines[0].split(' ')[0]).to.equal(lab.LAB_SERVER_SE_EGRESS);
    const refused: [string, string[], RegExp][] = [
      ['no credentials', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS], /No authentication method was acceptable/],
      ['a wrong password', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `${lab.LAB_SE_USER}:${password}x`], /User was rejected/],
      ['another user', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `nobody:${password}`], /User was rejected/],
      ['SOCKS4', ['--socks4', lab.LAB_SERVER_SE_SOCKS], /SOCKS4/],
    ];
    for (const [what, args, why] of refused) {
      const r = await curlSha256(lab.LAB_NS_CLIENT, [...args, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
      expect(r.status, `${what}: ${r.stderr}`).to.equal(97);
      expect(r.stderr, what).to.match(why);
    }
    expect(webLog(lab).slice(before), 'nothing refused reached the web server').to.have.length(1);
  });

  it('keeps se\'s password in a root-only file that socksalp check takes as a password_file', function () {
    const st = statSync(lab.LAB_SE_PASSWORD_FILE);
    expect(st.mode & 0o777).to.equal(0o600);
    expect(st.uid).to.equal(0);
    const dir = mkdtempSync(join(tmpdir(), 'socksalp-lab-se-'));
    try {
      for (const f of ['appliance.ini', 'alp.ini', 'servers.ini']) copyFileSync(join(REPO, 'conf', f), join(dir, f));
      const servers = readFileSync(join(dir, 'servers.ini'), 'utf8');
      writeFileSync(join(dir, 'servers.ini'), `${servers}\n[se]\naddress = 198.19.5.2\ntap = alp-se\nlocal = 198.19.5.1/24\nalps = http\nusername = ${lab.LAB_SE_USER}\npassword_file = ${lab.LAB_SE_PASSWORD_FILE}\n`);
      const r = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'check', '--config', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include(`username "${lab.LAB_SE_USER}", password_file "${lab.LAB_SE_PASSWORD_FILE}" (password: 20 bytes)`);
      expect(r.stdout + r.stderr).not.to.include(readFileSync(lab.LAB_SE_PASSWORD_FILE, 'utf8').trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the ALP ports with a banner naming the peer', function () {
    const r = inNs(lab.LAB_NS_CLIENT, 'socat', ['-T', '5', '-', `SOCKS4:${lab.LAB_SERVER_SB_SOCKS.split(':')[0]}:${lab.LAB_WEB_ADDR}:21,socksport=1080`], 'ping\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`socksalp-lab ftp ${lab.LAB_SERVER_SB_EGRESS}\nping\n`);
  });

  /** The mirrors: the web host's own address and the mirror's. */
  const mirrors = (l: LabFacts) => [l.LAB_WEB_ADDR, l.LAB_MIRROR_ADDR];
  const serverNamespaces = (l: LabFacts) => l.LAB_SERVERS.split(',').map((s) => l[`LAB_SERVER_${s.toUpperCase()}_NS`]);
  const mirrorHeader = (headers: string) => /^X-Mirror: (\S+)\r?$/im.exec(headers)?.[1];

  it('resolves the mirror\'s name in the client\'s and every server\'s namespace', function () {
    expect(lab.LAB_MIRROR_ADDR).to.equal('203.0.113.81');
    for (const ns of [lab.LAB_NS_CLIENT, ...serverNamespaces(lab)]) {
      const r = inNs(ns, 'getent', ['hosts', lab.LAB_MIRROR_HOST]);
      expect(r.status, `${ns}: ${r.stderr}`).to.equal(0);
      expect(r.stdout.split(/\s+/)[0], ns).to.equal(lab.LAB_MIRROR_ADDR);
    }
  });

  it('the mirror serves the large file intact, directly from sa and through sa, and says it answered', async function () {
    const direct = { how: 'directly from sa', ns: lab.LAB_SERVER_SA_NS, args: [] as string[] };
    const socks = { how: 'through sa', ns: lab.LAB_NS_CLIENT, args: ['--socks5-hostname', lab.LAB_SERVER_SA_SOCKS] };
    for (const c of [direct, socks]) {
      const before = webLog(lab).length;
      // The header by -w: curl 7.88 crashes with -D on a pipe (-D /dev/stderr).
      const d = await curlSha256(c.ns, [...c.args, '-w', '%{stderr}X-Mirror: %header{x-mirror}\\n', `http://${lab.LAB_MIRROR_HOST}/big.bin`]);
      expect(d.status, `${c.how}: ${d.stderr}`).to.equal(0);
      expect(d.sha256, c.how).to.equal(lab.LAB_BIG_SHA256);
      expect(mirrorHeader(d.stderr), `${c.how}: X-Mirror`).to.equal(lab.LAB_MIRROR_ADDR);
      const lines = webLog(lab).slice(before);
      expect(lines, c.how).to.have.length(1);
      const fields = lines[0].split(' ');
      expect(fields.slice(0, 4), c.how).to.deep.equal([lab.LAB_SERVER_SA_EGRESS, '/big.bin', '200', String(d.bytes)]);
      expect(fields[fields.length - 1], `${c.how}: the log's last field`).to.equal(lab.LAB_MIRROR_ADDR);
    }
  });

  it('each mirror answers on 80 and 8080, naming itself in X-Mirror and as the access log\'s last field', function () {
    for (const addr of mirrors(lab)) {
      for (const port of [80, 8080]) {
        const what = `${addr}:${port}`;
        const before = webLog(lab).length;
        const r = inNs(lab.LAB_SERVER_SA_NS, 'curl', ['-sS', '--max-time', '10', '-D', '-', `http://${what}/hello.txt`]);
        expect(r.status, `${what}: ${r.stderr}`).to.equal(0);
        expect(r.stdout, what).to.match(/^HTTP\/1\.1 200 /);
        expect(r.stdout, what).to.match(/\r\n\r\nhello from the socksalp lab\n$/);
        expect(mirrorHeader(r.stdout), `${what}: X-Mirror`).to.equal(addr);
        const lines = webLog(lab).slice(before);
        expect(lines, what).to.have.length(1);
        expect(lines[0].split(' '), `${what}: the log line`).to.deep.equal([lab.LAB_SERVER_SA_EGRESS, '/hello.txt', '200', '28', addr]);
      }
    }
  });

  it(`each mirror's UDP service answers every datagram, from its own address, with a line naming it`, function () {
    // One datagram out, the first one back and where it came from: a node one-liner in the namespace.
    const ask = `const s = require('dgram').createSocket('udp4');
      const t = setTimeout(() => { console.log('{}'); process.exit(0); }, 5000);
      s.on('message', (b, r) => { console.log(JSON.stringify({ from: r.address, port: r.port, text: b.toString() })); clearTimeout(t); s.close(); });
      s.send('which mirror?\\n', Number(process.argv[2]), process.argv[1]);`;
    for (const ns of serverNamespaces(lab)) {
      for (const addr of mirrors(lab)) {
        for (let i = 0; i < 2; i++) {
          const r = inNs(ns, process.execPath, ['-e', ask, addr, lab.LAB_UDP_PORT]);
          expect(r.status, `${ns} -> ${addr}: ${r.stderr}`).to.equal(0);
          expect(JSON.parse(r.stdout), `${ns} -> ${addr}`).to.deep.equal({ from: addr, port: Number(lab.LAB_UDP_PORT), text: `mirror ${addr}\n` });
        }
      }
    }
  });
});

/**
 * The lab's IPv6 side, beside the IPv4 one above: documentation addresses only, no way out,
 * real clients reaching the IPv6 SOCKS servers (sc's second address, sf on its IPv6-only
 * segment) over the kernel's path, nginx, the UDP mirrors and nsd answering over IPv6.
 */
describe('lab: dual stack', function () {
  this.timeout(120_000);
  let lab: LabFacts;

  before(function () {
    lab = useLab();
  });

  const namespaces = (l: LabFacts) => Object.keys(l).filter((k) => k.endsWith('_NS')).map((k) => l[k]);
  const prefixes = (list: [string, number][]) => {
    const b = new BlockList();
    for (const [net, len] of list) b.addSubnet(net, len, 'ipv6');
    return b;
  };
  const documentation = prefixes([['2001:db8::', 32]]);
  const linkLocal = prefixes([['fe80::', 10]]);
  const json = (ns: string, args: string[]) => {
    const r = inNs(ns, 'ip', ['-j', ...args]);
    expect(r.status, `${ns}: ip ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return JSON.parse(r.stdout) as Record<string, unknown>[];
  };
  const globals6 = (ns: string, dev: string) =>
    // ip -j prints an empty object in place of each address the filter leaves out.
    (json(ns, ['-6', 'addr', 'show', 'dev', dev, 'scope', 'global'])[0]?.addr_info as { local?: string }[] | undefined ?? []).flatMap((a) => a.local ?? []);

  it('has no IPv6 route out of the lab: only 2001:db8::/32 and fe80::/64 routes, only documentation and link-local addresses, none tentative', function () {
    for (const ns of namespaces(lab)) {
      const routes = json(ns, ['-6', 'route', 'show']).map((r) => String(r.dst));
      expect(routes, `${ns} has a default route`).to.not.include('default');
      for (const dst of routes) {
        const [net, len] = dst.includes('/') ? dst.split('/') : [dst, '128'];
        const inside = (Number(len) >= 32 && documentation.check(net, 'ipv6')) || dst === 'fe80::/64';
        expect(inside, `${ns}: route to ${dst}`).to.equal(true);
      }
      const addrs = json(ns, ['-6', 'addr', 'show']).flatMap((l) => (l.addr_info as { local: string; tentative?: boolean }[]).map((a) => ({ dev: l.ifname, ...a })));
      expect(addrs.filter((a) => documentation.check(a.local, 'ipv6')), `${ns} has an IPv6 address of the lab`).to.not.have.length(0);
      for (const a of addrs) {
        expect(documentation.check(a.local, 'ipv6') || linkLocal.check(a.local, 'ipv6') || a.local === '::1', `${ns}: ${a.dev} ${a.local}`).to.equal(true);
        expect(a.tentative ?? false, `${ns}: ${a.dev} ${a.local} is tentative`).to.equal(false);
      }
    }
  });

  it('keeps sa, sb, sd and se IPv4-only on their segments, sc dual-stack, sf IPv6-only; every internet leg dual-stack', function () {
    for (const server of lab.LAB_SERVERS.split(',').map((n) => n.toUpperCase())) {
      const ns = lab[`LAB_SERVER_${server}_NS`];
      const v4 = inNs(ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']).stdout.trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3]);
      const families = lab[`LAB_SERVER_${server}_FAMILIES`];
      expect(v4, `${ns} eth0 IPv4`).to.deep.equal(families.includes('4') ? [`${lab[`LAB_SERVER_${server}_ADDRESS`]}/24`] : []);
      expect(globals6(ns, 'eth0'), `${ns} eth0 IPv6`).to.deep.equal(families.includes('6') ? [lab[`LAB_SERVER_${server}_ADDRESS6`]] : []);
      expect(globals6(ns, 'ext0'), `${ns} ext0 IPv6`).to.deep.equal([lab[`LAB_SERVER_${server}_EGRESS6`]]);
    }
    expect(lab.LAB_SERVER_SC_FAMILIES).to.equal('46');
    expect(lab.LAB_SERVER_SF_FAMILIES).to.equal('6');
  });

  it('routes the IPv6 VIP and the IPv6 internet from the client to the appliance\'s host, and there into the TUN', function () {
    const get = (ns: string, to: string) => json(ns, ['-6', 'route', 'get', to])[0];
    for (const to of [lab.LAB_VIP6, lab.LAB_WEB6]) {
      expect(get(lab.LAB_NS_CLIENT, to), `client -> ${to}`).to.include({ gateway: lab.LAB_APP6, dev: 'c0' });
      expect(get(lab.LAB_NS_APP, to), `appliance host -> ${to}`).to.include({ dev: 'alp0' });
    }
    expect(get(lab.LAB_NS_CLIENT, lab.LAB_SERVER_SF_ADDRESS6)).to.include({ gateway: lab.LAB_APP6, dev: 'c0' });
    expect(get(lab.LAB_NS_APP, lab.LAB_SERVER_SF_LOCAL6.split('/')[0])).to.include({ dev: 'br-sf' });
  });

  const web6 = (l: LabFacts) => `${urlHost(l.LAB_WEB6)}:8080`;
  type Case = { server: string; via: 'SOCKS' | 'SOCKS6'; flag: string; to: string; host: (l: LabFacts) => string; egress: 'EGRESS' | 'EGRESS6'; mirror: (l: LabFacts) => string };
  const cases: Case[] = [
    { server: 'SC', via: 'SOCKS6', flag: '--socks5-hostname', to: 'an IPv6 literal', host: web6, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    { server: 'SC', via: 'SOCKS6', flag: '--socks5', to: 'an IPv6 literal', host: web6, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    { server: 'SF', via: 'SOCKS6', flag: '--socks5-hostname', to: 'an IPv6 literal', host: web6, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    { server: 'SF', via: 'SOCKS6', flag: '--socks5', to: 'an IPv6 literal', host: web6, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    { server: 'SF', via: 'SOCKS6', flag: '--socks5-hostname', to: 'a name with only an IPv6 address', host: (l) => l.LAB_WEB6_HOST, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    // IPv4 destinations over the IPv6-only segment: sf's internet leg is dual-stack.
    { server: 'SF', via: 'SOCKS6', flag: '--socks5', to: 'an IPv4 literal', host: (l) => l.LAB_WEB_ADDR, egress: 'EGRESS', mirror: (l) => l.LAB_WEB_ADDR },
    { server: 'SF', via: 'SOCKS6', flag: '--socks4', to: 'an IPv4 literal', host: (l) => l.LAB_WEB_ADDR, egress: 'EGRESS', mirror: (l) => l.LAB_WEB_ADDR },
    { server: 'SF', via: 'SOCKS6', flag: '--socks5-hostname', to: 'an IPv4 name', host: (l) => l.LAB_WEB_HOST, egress: 'EGRESS', mirror: (l) => l.LAB_WEB_ADDR },
    // IPv6 destinations over IPv4 segments.
    { server: 'SA', via: 'SOCKS', flag: '--socks5', to: 'an IPv6 literal', host: web6, egress: 'EGRESS6', mirror: (l) => l.LAB_WEB6 },
    { server: 'SC', via: 'SOCKS', flag: '--socks5-hostname', to: 'the mirror\'s IPv6-only name', host: (l) => l.LAB_MIRROR6_HOST, egress: 'EGRESS6', mirror: (l) => l.LAB_MIRROR6 },
  ];
  for (const c of cases) {
    it(`curl ${c.flag} through ${c.server.toLowerCase()}'s ${c.via === 'SOCKS6' ? 'IPv6' : 'IPv4'} address to ${c.to} downloads the large file intact, leaving from the egress of that family`, async function () {
      const d = await fetchVia(lab, c.flag, lab[`LAB_SERVER_${c.server}_${c.via}`], { host: c.host(lab) });
      expect(d.status, d.stderr).to.equal(0);
      expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
      expect(d.carrier, 'the web server saw the SOCKS server\'s egress address').to.equal(lab[`LAB_SERVER_${c.server}_${c.egress}`]);
      expect(d.mirror, 'the address that answered').to.equal(c.mirror(lab));
    });
  }

  it('each IPv6 mirror answers on 80 and 8080, naming itself and the IPv6 peer in its headers and its access log', function () {
    for (const addr of [lab.LAB_WEB6, lab.LAB_MIRROR6]) {
      for (const port of [80, 8080]) {
        const what = `${urlHost(addr)}:${port}`;
        const before = webLog(lab).length;
        const r = inNs(lab.LAB_SERVER_SA_NS, 'curl', ['-sS', '--max-time', '10', '-D', '-', `http://${what}/hello.txt`]);
        expect(r.status, `${what}: ${r.stderr}`).to.equal(0);
        expect(r.stdout, what).to.match(/^HTTP\/1\.1 200 /).and.to.match(/\r\n\r\nhello from the socksalp lab\n$/);
        expect(/^X-Mirror: (\S+)\r$/m.exec(r.stdout)?.[1], `${what}: X-Mirror`).to.equal(addr);
        expect(/^X-Peer: (\S+)\r$/m.exec(r.stdout)?.[1], `${what}: X-Peer`).to.equal(lab.LAB_SERVER_SA_EGRESS6);
        const lines = webLog(lab).slice(before);
        expect(lines, what).to.have.length(1);
        expect(lines[0].split(' '), `${what}: the log line`).to.deep.equal([lab.LAB_SERVER_SA_EGRESS6, '/hello.txt', '200', '28', addr]);
      }
    }
    const listening = inNs(lab.LAB_NS_INET, 'ss', ['-Hltn', 'sport = :8080']).stdout;
    for (const addr of [lab.LAB_WEB6, lab.LAB_MIRROR6]) expect(listening).to.include(`[${addr}]:8080`);
  });

  it('each IPv6 mirror\'s UDP service answers every server\'s namespace, from its own address', function () {
    const ask = `const s = require('dgram').createSocket('udp6');
      const t = setTimeout(() => { console.log('{}'); process.exit(0); }, 5000);
      s.on('message', (b, r) => { console.log(JSON.stringify({ from: r.address, port: r.port, text: b.toString() })); clearTimeout(t); s.close(); });
      s.send('which mirror?\\n', Number(process.argv[2]), process.argv[1]);`;
    for (const server of lab.LAB_SERVERS.split(',')) {
      const ns = lab[`LAB_SERVER_${server.toUpperCase()}_NS`];
      for (const addr of [lab.LAB_WEB6, lab.LAB_MIRROR6]) {
        const r = inNs(ns, process.execPath, ['-e', ask, addr, lab.LAB_UDP_PORT]);
        expect(r.status, `${ns} -> ${addr}: ${r.stderr}`).to.equal(0);
        expect(JSON.parse(r.stdout), `${ns} -> ${addr}`).to.deep.equal({ from: addr, port: Number(lab.LAB_UDP_PORT), text: `mirror ${addr}\n` });
      }
    }
  });

  it('serves the ALP ports on the web host\'s IPv6 address with a banner naming the IPv6 peer', function () {
    const r = inNs(lab.LAB_SERVER_SF_NS, 'socat', ['-T', '5', '-', `TCP6:${urlHost(lab.LAB_WEB6)}:21`], 'ping\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`socksalp-lab ftp ${lab.LAB_SERVER_SF_EGRESS6}\nping\n`);
  });

  it('nsd answers over IPv6, UDP and TCP, with AAAA beside A and the IPv6-only names', function () {
    const dig = (server: string, name: string, type: string, tcp = false) => {
      const r = inNs(lab.LAB_SERVER_SF_NS, 'dig', ['+short', '+time=2', '+tries=1', ...(tcp ? ['+tcp'] : []), `@${server}`, name, type]);
      expect(r.status, `${server} ${name} ${type}: ${r.stderr}`).to.equal(0);
      return r.stdout.trim().split('\n').filter(Boolean).sort();
    };
    const web = `web.${lab.LAB_DNS_ZONE}`;
    for (const server of [lab.LAB_DNS6, lab.LAB_DNS_ADDR]) {
      for (const tcp of [false, true]) {
        expect(dig(server, web, 'A', tcp), `${server} tcp=${tcp}`).to.deep.equal([lab.LAB_WEB_ADDR]);
        expect(dig(server, web, 'AAAA', tcp), `${server} tcp=${tcp}`).to.deep.equal([lab.LAB_WEB6]);
      }
      expect(dig(server, lab.LAB_WEB6_HOST, 'AAAA')).to.deep.equal([lab.LAB_WEB6]);
      expect(dig(server, lab.LAB_WEB6_HOST, 'A')).to.deep.equal([]);
      expect(dig(server, `mirrors.${lab.LAB_DNS_ZONE}`, 'AAAA')).to.deep.equal([lab.LAB_WEB6, lab.LAB_MIRROR6].sort());
    }
  });

  it('sf routes IPv6 between the internet and the intranet: salab-inet reaches sc\'s IPv6 segment through it', function () {
    const ping = (hops: string[]) => inNs(lab.LAB_NS_INET, 'ping', ['-6', '-n', '-c', '1', '-W', '2', ...hops, '-I', lab.LAB_WEB6, lab.LAB_SERVER_SC_ADDRESS6]);
    const ok = ping([]);
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    // With a hop limit of 1 the first router says so: sf, on its internet leg.
    const one = ping(['-t', '1']);
    expect(one.status).to.not.equal(0);
    expect(one.stdout).to.match(new RegExp(`From ${lab.LAB_ROUTER6_INET.replace(/\./g, '\\.')}.*Time exceeded`));
  });

  it('stop-server and start-server stop and restart both of sc\'s microsocks, on both families', async function () {
    const LAB = join(REPO, 'test', 'lab', 'lab.sh');
    const both = () => Promise.all(['SOCKS', 'SOCKS6'].map((via) => curlSha256(lab.LAB_NS_CLIENT, ['--socks5', lab[`LAB_SERVER_SC_${via}`], `http://${lab.LAB_WEB_ADDR}/hello.txt`])));
    execFileSync('bash', [LAB, 'stop-server', 'sc']);
    try {
      for (const d of await both()) expect(d.status, d.stderr).to.equal(7);
    } finally {
      execFileSync('bash', [LAB, 'start-server', 'sc']);
    }
    for (const d of await both()) expect(d.status, d.stderr).to.equal(0);
  });
});
