import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../lab/lab';
import { a6, datagram6, udp6 } from '../wire/packets6';
import { pcap, pcapng, type Frame, type Link } from './capture-writer';
import { tempDirs } from '../conf-dir';
import { ends6, golden, greeting, inTimeOrder, socks4, socks5, Talk, type Ends } from './scenario';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const CLIENT6 = '2001:db8:18::2';
/** conf/appliance.ini's IPv6 VIP. */
const VIP6 = '2001:db8:18:100::100';
const T0 = 1_700_000_000;

function socksalp(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO });
}

interface Row { client: string; vip: string; destination: string; server: string; alp: string; dialect: string; outcome: string; why: string; end: number | null }
interface Result { connections: Row[]; routed: { client: string; destination: string; route: string }[]; notes: string[]; capture: { linkTypes: string[] } }

/** `e` with an 8-byte destination options header (a PadN) before the client's TCP: the walk of RFC 8200 4 steps over it. */
function withOptions(e: Ends): Ends {
  return {
    up: (t, p) => {
      const d = e.up(t, p);
      const b = Buffer.concat([d.subarray(0, 40), Buffer.from([d[6], 0, 1, 4, 0, 0, 0, 0]), d.subarray(40)]);
      b.writeUInt16BE(d.readUInt16BE(4) + 8, 4);
      b[6] = 60;
      return b;
    },
    down: e.down,
  };
}

describe('socksalp replay: IPv6 clients of an IPv6 VIP (conf/ as shipped has one)', function () {
  const tempDir = tempDirs();
  let dir: string;
  before(function () {
    dir = tempDir();
  });
  const write = (name: string, b: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, b);
    return p;
  };
  const json = (file: string, config = 'conf'): Result => {
    const r = socksalp('replay', file, '--config', config, '--json');
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as Result;
  };

  it('predicts the golden capture over IPv6 as over IPv4: the same ALP, priority, dialect, server and reason for each', function () {
    const v4 = json(write('golden4.pcapng', pcapng(golden())));
    const v6 = json(write('golden6.pcapng', pcapng(golden(ends6(CLIENT6, VIP6)))));
    expect(v6.connections).to.have.length(7);
    expect(v6.connections).to.deep.equal(v4.connections.map((c) => ({ ...c, client: c.client.replace('198.18.0.2:', `[${CLIENT6}]:`), vip: VIP6 })));
    expect(v6.connections[0]).to.include({ client: '[2001:db8:18::2]:40001', vip: '2001:db8:18:100::100', server: 'sa', alp: 'http' });
    expect(v6.notes).to.deep.equal(v4.notes);
  });

  it('reads IPv6 from Ethernet (0x86dd), Linux cooked SLL and SLL2, raw IP, raw IPv6 and BSD loopback frames', function () {
    const frames = golden(ends6(CLIENT6, VIP6)).filter((f) => f.ip[0] >> 4 === 6);
    const want = json(write('eth6.pcap', pcap(frames))).connections;
    expect(want.map((c) => c.client)).to.include('[2001:db8:18::2]:40001');
    for (const link of ['sll', 'sll2', 'raw', 'ipv6', 'null'] as Link[]) {
      const r = json(write(`${link}6.pcapng`, pcapng(frames, { link })));
      expect(r.connections, link).to.deep.equal(want);
    }
    expect(json(write('ipv6.pcap', pcap(frames, { link: 'ipv6' }))).capture.linkTypes).to.deep.equal(['raw IPv6']);
  });

  it('takes a SOCKS5 request for an IPv6 destination (ATYP 4), over extension headers, beside IPv4 clients; prints RFC 5952 with brackets', function () {
    const f: Frame[] = [];
    const v6 = withOptions(ends6('2001:db8:18:0:0:0:0:a', VIP6));
    new Talk(f, 45001, 100, v6).open(0).send(0.01, greeting).send(0.02, socks5(1, '2001:db8:80:0:0:0:0:80', 443)).finFromAppliance(0.3).fin(0.31);
    new Talk(f, 45002, 200, v6).open(0.05).send(0.06, socks4('203.0.113.80', 80));
    new Talk(f, 45003, 300).open(0.07).send(0.08, [...greeting, ...socks5(1, '2001:db8:80::80', 80)]); // an IPv4 client asking for an IPv6 destination
    // A routed IPv6 datagram (no IPv6 prefix in [routes]), and the first fragment of a datagram.
    f.push({ time: T0 + 0.1, ip: udp6(a6('2001:db8:18::a'), a6('2001:db8:80::80'), 5353, 7, Buffer.from('ping')) });
    f.push({ time: T0 + 0.11, ip: datagram6(a6('2001:db8:18::a'), a6('2001:db8:80::80'), 44, Buffer.from([17, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8])) });
    const file = write('atyp4.pcapng', pcapng(inTimeOrder(f)));
    const r = json(file);
    const row = (port: number) => r.connections.find((c) => c.client.endsWith(`:${port}`))!;
    expect(row(45001)).to.include({ client: '[2001:db8:18::a]:45001', vip: VIP6, destination: '[2001:db8:80::80]:443', alp: 'ssl', dialect: '5', server: 'sa', outcome: 'server', end: 0.31 });
    expect(row(45002)).to.include({ client: '[2001:db8:18::a]:45002', destination: '203.0.113.80:80', alp: 'http', dialect: '4' });
    expect(row(45003)).to.include({ client: '198.18.0.2:45003', vip: '198.18.0.100', destination: '[2001:db8:80::80]:80', alp: 'http', dialect: '5' });
    expect(r.routed).to.deep.equal([{ protocol: 'udp', client: '[2001:db8:18::a]:5353', destination: '[2001:db8:80::80]:7', diverted: '', route: '', start: 0.1 }]);
    expect(r.notes).to.include('1 IPv4 or IPv6 fragment(s) were skipped: replay does not reassemble fragments');
    const text = socksalp('replay', file, '--config', 'conf').stdout;
    expect(text).to.match(/^ {2}0\.000 {2}\[2001:db8:18::a\]:45001 {2}\[2001:db8:80::80\]:443 +- +5 +ssl /m);
    expect(text).to.match(/^ {2}0\.100 {2}udp {4}\[2001:db8:18::a\]:5353 {2}\[2001:db8:80::80\]:7 +- +none: ICMP network unreachable$/m);
  });

  it('notes IPv6 segments the snap length cut, and skips as malformed one cut inside its extension headers', function () {
    const f: Frame[] = [];
    new Talk(f, 47001, 10, ends6(CLIENT6, VIP6)).open(0).send(0.01, greeting).send(0.02, socks5(1, 'web.socksalp.test', 80));
    const r = json(write('snap6.pcap', pcap(f, { snap: 14 + 40 + 20 + 4 })));
    expect(r.connections[0]).to.include({ client: '[2001:db8:18::2]:47001', outcome: 'incomplete' });
    expect(r.notes).to.include("1 segment(s) were cut by the capture's snap length (capture with a larger tcpdump -s)");
    const g: Frame[] = [];
    new Talk(g, 47002, 10, withOptions(ends6(CLIENT6, VIP6))).open(0);
    const cut = json(write('snap6-options.pcap', pcap(g, { snap: 14 + 40 + 4 })));
    expect(cut.connections).to.deep.equal([]);
    // The client's SYN and ACK cut in their options header, the SYN-ACK in its TCP header.
    expect(cut.notes).to.include('3 malformed IPv4, IPv6, TCP or UDP packet(s) were skipped');
  });

  it('keeps IPv6 clients of an address that is no VIP out of the SOCKS rows (routed, as live)', function () {
    const f: Frame[] = [];
    new Talk(f, 46001, 100, ends6(CLIENT6, '2001:db8:18::100')).open(0).send(0.01, socks4('203.0.113.80', 80));
    const r = json(write('novip.pcapng', pcapng(f)));
    expect(r.connections).to.deep.equal([]);
    expect(r.routed.map((x) => [x.client, x.destination])).to.deep.equal([['[2001:db8:18::2]:46001', '[2001:db8:18::100]:1080']]);
  });
});
