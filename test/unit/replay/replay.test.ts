import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../lab/lab';
import { pcap, pcapng, type Frame, type Link } from './capture-writer';
import { confCopies, tempDirs, type ConfFiles } from '../conf-dir';
import { golden, greeting, inTimeOrder, socks4, socks5, Talk } from './scenario';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

function socksalp(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO });
}

/** The golden capture's report against conf/ as shipped: packets in, exact lines out. */
const GOLDEN = `capture FILE: pcap, Ethernet, 39 packet(s) over 0.501 s; configuration conf

SOCKS connections (7):
  START  CLIENT            DESTINATION               DIVERTED  DIALECT  ALP      PRIO  DISCARD  SERVER  WHY
  0.000  198.18.0.2:40001  203.0.113.80:80           -         5        http     7     no       sa
  0.010  198.18.0.2:40002  web.socksalp.test:21      -         4a>5     ftp      1     no       sb
  0.020  198.18.0.2:40003  203.0.113.80:70           -         4        gopher   1     yes      sb
  0.030  198.18.0.2:40004  files.socksalp.test:9999  -         5        default  4     yes      sa
  0.040  198.18.0.2:40005  203.0.113.80:80           -         5        -        -     -        -       refused: command 2 is not CONNECT
  0.050  198.18.0.2:40006  -                         -         -        -        -     -        -       incomplete: a SOCKS5 greeting, but no request in the capture
  0.060  198.18.0.2:40007  -                         -         -        -        -     -        -       refused: not a SOCKS handshake

Servers:
  SERVER  CONNS  SHARE  PEAK
  sa      2      28.6%  2
  sb      2      28.6%  2
  sc      0      0.0%   0
  sd      0      0.0%   0
  without a server: 3 (refused 2, no server 0, incomplete 1)

ALPs:
  ALP      PRIO  DISCARD  CONNS  SHARE  SERVERS
  http     7     no       1      14.3%  sa 1
  ssl      7     no       0      0.0%
  telnet   7     yes      0      0.0%
  ftp      1     no       1      14.3%  sb 1
  gopher   1     yes      1      14.3%  sb 1
  default  4     yes      1      14.3%  sa 1

Routed flows (1):
  START  PROTO  CLIENT           DESTINATION     DIVERTED  ROUTE
  0.080  udp    198.18.0.2:5353  203.0.113.80:7  -         203.0.113.0/24 = alp-sa via 198.19.1.2

Notes:
  - servers are taken as up: live, a server held down after a failure, failing its health check or not yet resolved is skipped, and one that refuses or resets is failed over to the next candidate; the client's side of a capture shows neither
  - 1 connection(s) to the SOCKS port began before the capture (no SYN in it): not replayed
  - the clients' bytes were put in sequence order: 1 retransmitted and 1 out-of-order segment(s)
`;

interface Row { client: string; server: string; divertedFrom: string; divertSkipped: string; alp: string; diverted: string; outcome: string; why: string; roundRobin: number; end: number | null }

describe('socksalp replay', function () {
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
  const json = (file: string, config = 'conf') => {
    const r = socksalp('replay', file, '--config', config, '--json');
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as { connections: Row[]; routed: { diverted: string; route: string }[]; notes: string[]; servers: { server: string; connections: number; peak: number }[] };
  };
  const copy = confCopies();
  /** A copy of conf/ (diverted.ini too) with `files`' edits applied, each of which must change its file. */
  const conf = (files: Record<string, (text: string) => string>) => {
    const checked: ConfFiles = { 'diverted.ini': (t) => t };
    for (const [f, edit] of Object.entries(files)) {
      checked[f] = (before) => {
        const after = edit(before);
        expect(after, `the edit of ${f} changed nothing`).to.not.equal(before);
        return after;
      };
    }
    return copy(checked);
  };

  it('prints each connection, the servers, the ALPs, the routed flows and the notes of a capture (golden)', function () {
    const file = write('golden.pcap', pcap(golden()));
    const r = socksalp('replay', file, '--config', 'conf');
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout.split(file).join('FILE').split(join(REPO, 'conf')).join('conf')).to.equal(GOLDEN);
  });

  it('reads the same connections from Linux cooked (SLL, SLL2), raw IP, big-endian nanosecond pcap and pcapng', function () {
    const frames = golden();
    const want = json(write('eth.pcap', pcap(frames))).connections;
    expect(want).to.have.length(7);
    const files: [string, Buffer][] = (['sll', 'sll2', 'raw'] as Link[]).map((link) => [`${link}.pcap`, pcap(frames, { link })]);
    files.push(['be-ns.pcap', pcap(frames, { bigEndian: true, nano: true })], ['eth.pcapng', pcapng(frames)], ['sll2.pcapng', pcapng(frames, { link: 'sll2' })]);
    for (const [name, bytes] of files) expect(json(write(name, bytes)).connections, name).to.deep.equal(want);
  });

  it('shows what an edited configuration would do: a diversion, an ALP moved off a server (round robin, noted)', function () {
    const edited = conf({
      'diverted.ini': (t) => t + '203.0.113.80:80 = 203.0.113.81\n203.0.113.80:7 = 203.0.113.81\n',
      // sa keeps only SSL (and stays the default): HTTP goes to sc and sd, neither of capacity 10.
      'servers.ini': (t) => t.replace(/^alps = http, ssl\ndefault = yes/m, 'alps = ssl\ndefault = yes'),
    });
    const r = json(write('edited.pcap', pcap(golden())), edited);
    const a = r.connections.find((c) => c.client === '198.18.0.2:40001')!;
    expect(a).to.include({ alp: 'http', diverted: '203.0.113.81:80', server: 'sc', roundRobin: 2 });
    expect(r.connections.find((c) => c.client === '198.18.0.2:40004')).to.include({ alp: 'default', server: 'sa' });
    expect(r.routed[0]).to.deep.include({ diverted: '203.0.113.81:7', route: '203.0.113.0/24 = alp-sa via 198.19.1.2' });
    expect(r.notes.join('\n')).to.match(/1 connection\(s\) went to one of several equal servers by round robin/);
    const text = socksalp('replay', join(dir, 'edited.pcap'), '--config', edited).stdout;
    expect(text).to.match(/^ {2}0\.000 {2}198\.18\.0\.2:40001 {2}203\.0\.113\.80:80 +203\.0\.113\.81:80 +5 +http +7 +no +sc +round robin among 2$/m);
  });

  it('applies a server diversion as the server leg does: sa = sc moves HTTP to sc, and the default ALP (sc does not list it) stays on sa (golden)', function () {
    const moved = conf({ 'diverted.ini': (t) => t + '198.19.1.2:1080 = 198.19.3.2:1080\n' });
    const file = write('server-diversion.pcap', pcap(golden()));
    const text = socksalp('replay', file, '--config', moved).stdout;
    expect(text).to.include([
      '  START  CLIENT            DESTINATION               DIVERTED  DIALECT  ALP      PRIO  DISCARD  SERVER                 WHY',
      '  0.000  198.18.0.2:40001  203.0.113.80:80           -         5        http     7     no       sc (diverted from sa)',
      '  0.010  198.18.0.2:40002  web.socksalp.test:21      -         4a>5     ftp      1     no       sb',
      '  0.020  198.18.0.2:40003  203.0.113.80:70           -         4        gopher   1     yes      sb',
      '  0.030  198.18.0.2:40004  files.socksalp.test:9999  -         5        default  4     yes      sa                     diverted to sc, which cannot take it',
    ].join('\n'));
    expect(text).to.include(['  sa      1      14.3%  1', '  sb      2      28.6%  2', '  sc      1      14.3%  1'].join('\n'));
    expect(text).to.include("  - 1 connection(s) were moved by a server diversion (a diverted-address entry from one server's address:port to another's), " +
      'as the live appliance moves them while the target can take them: sa -> sc 1\n');
    expect(text).to.include('  - 1 connection(s) stayed on their server although a server diversion names another, which does not list their ALP ' +
      'or speak a dialect for them (live: counted as serverDivertSkipped, logged): sa -> sc 1\n');
    const r = json(file, moved);
    expect(r.connections[0]).to.include({ server: 'sc', divertedFrom: 'sa', divertSkipped: '', diverted: '' });
    expect(r.connections[3]).to.include({ server: 'sa', divertedFrom: '', divertSkipped: 'sc' });
    expect(r.servers.find((x) => x.server === 'sc')).to.include({ connections: 1, peak: 1 });
  });

  it('rotates round robin over the connections in capture order, and counts each against its server until its close', function () {
    const edited = conf({ 'servers.ini': (t) => t.replace(/^alps = http, ssl\ndefault = yes/m, 'alps = ssl\ndefault = yes') });
    const f: Frame[] = [];
    // One every 0.1 s; each lives 0.25 s but the second, 0.05 s.
    for (let i = 0; i < 4; i++) new Talk(f, 41000 + i, 100 * i).open(i * 0.1).send(i * 0.1 + 0.01, socks4('203.0.113.80', 80)).rst(i * 0.1 + (i === 1 ? 0.05 : 0.25));
    const r = json(write('rr.pcap', pcap(inTimeOrder(f))), edited);
    expect(r.connections.map((c) => c.server)).to.deep.equal(['sc', 'sd', 'sc', 'sd']);
    // sc: the first still open when the third comes; sd: the second closed before the fourth.
    expect(r.servers.find((s) => s.server === 'sc')).to.include({ connections: 2, peak: 2 });
    expect(r.servers.find((s) => s.server === 'sd')).to.include({ connections: 2, peak: 1 });
  });

  it('keeps the Connection table\'s limits: a SYN over max_connections is dropped, and its retry taken once a connection has closed', function () {
    const limited = conf({ 'appliance.ini': (t) => t.replace(/^max_connections = \d+/m, 'max_connections = 2') });
    const f: Frame[] = [];
    const a = new Talk(f, 42001, 10).open(0).send(0.001, socks4('203.0.113.80', 80));
    new Talk(f, 42002, 20).open(0.01).send(0.011, socks4('203.0.113.80', 21));
    const c = new Talk(f, 42003, 30).open(0.02); // dropped: two in the table
    new Talk(f, 42004, 40).open(0.03); // dropped, and never retried
    a.finFromAppliance(0.1).fin(0.101);
    c.open(0.2).send(0.201, socks4('203.0.113.80', 23)); // the same ISN again: a retry
    const r = json(write('limited.pcap', pcap(inTimeOrder(f))), limited);
    const row = (port: number) => r.connections.find((x) => x.client === `198.18.0.2:${port}`)!;
    expect(r.connections).to.have.length(4);
    expect(row(42001)).to.include({ server: 'sa', end: 0.101 });
    expect(row(42003)).to.include({ server: 'sb', alp: 'telnet' });
    expect(row(42004)).to.include({ outcome: 'refused', why: 'max_connections (2) reached: the SYN was dropped' });
  });

  it('refuses a request that comes after half_open_timeout, as the live table would have dropped it', function () {
    const f: Frame[] = [];
    new Talk(f, 43001, 10).open(0).send(10.5, socks4('203.0.113.80', 80));
    const r = json(write('late.pcap', pcap(f)));
    expect(r.connections[0]).to.include({ outcome: 'refused', why: 'the request came 10.5 s after the SYN, past half_open_timeout (10 s)' });
  });

  it('notes segments the snap length cut, and leaves their handshake incomplete', function () {
    const f: Frame[] = [];
    new Talk(f, 44001, 10).open(0).send(0.01, greeting).send(0.02, socks5(1, 'web.socksalp.test', 80));
    const r = json(write('snap.pcap', pcap(f, { snap: 14 + 40 + 8 })));
    expect(r.connections[0]).to.include({ outcome: 'incomplete' });
    expect(r.notes).to.include("1 segment(s) were cut by the capture's snap length (capture with a larger tcpdump -s)");
  });

  describe('files it cannot read', function () {
    const fails = (file: string, message: string) => {
      const r = socksalp('replay', file, '--config', 'conf');
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.equal(`socksalp: replay: ${message}\n`);
      expect(r.status).to.equal(1);
    };

    it('a truncated file: where the record ends too soon, and how much is missing', function () {
      const whole = pcap(golden());
      const lastFrame = 14 + golden().at(-1)!.ip.length;
      const lastAt = whole.length - 16 - lastFrame;
      const cut = write('cut.pcap', whole.subarray(0, whole.length - 10));
      fails(cut, `${cut}: truncated: record 39 at byte ${lastAt} needs ${16 + lastFrame} bytes, the file has ${16 + lastFrame - 10} more (was it copied while the capture was still being written?)`);
      const header = write('cut-header.pcap', whole.subarray(0, 24 + 8));
      fails(header, `${header}: truncated: record 1's header at byte 24 needs 16 bytes, the file has 8 more (was it copied while the capture was still being written?)`);
      const ng = pcapng(golden());
      const cutNg = write('cut.pcapng', ng.subarray(0, ng.length - 3));
      const r = socksalp('replay', cutNg);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^socksalp: replay: .*cut\.pcapng: truncated: block enhanced packet at byte \d+ needs \d+ bytes, the file has \d+ more/);
    });

    it('a file that is no capture, an empty one, a compressed one, a missing one, a directory', function () {
      const text = write('notes.txt', Buffer.from('[appliance]\n'));
      fails(text, `${text}: not a pcap or pcapng capture: it begins with 5b 61 70 70`);
      const gz = write('golden.pcap.gz', require('node:zlib').gzipSync(pcap(golden())));
      fails(gz, `${gz}: not a pcap or pcapng capture: it begins with 1f 8b 08 00 (gzip-compressed: gunzip it first)`);
      const empty = write('empty.pcap', Buffer.alloc(0));
      fails(empty, `${empty}: the file is empty, not a capture`);
      fails(join(dir, 'absent.pcap'), `${join(dir, 'absent.pcap')}: no such file`);
      fails(dir, `${dir}: is a directory, not a capture file`);
    });

    it('a bad configuration: the messages of socksalp check, and nothing replayed', function () {
      const bad = conf({ 'appliance.ini': (t) => t.replace(/^socks_port = 1080/m, 'socks_port = 70000') });
      const r = socksalp('replay', write('ok.pcap', pcap(golden())), '--config', bad);
      expect(r.status).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/^appliance\.ini:\d+: \[appliance\] socks_port: expected a whole number from 1 to 65535, got "70000"\n1 problem in .*; nothing was replayed\n$/);
    });
  });

  it('has --help, and a usage error without a FILE', function () {
    const help = socksalp('replay', '--help');
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^Usage: socksalp replay FILE \[--config DIR\] \[--json\]/);
    const none = socksalp('replay');
    expect(none.status).to.equal(2);
    expect(none.stderr).to.match(/^socksalp: the capture FILE is missing\n\nUsage: socksalp replay/);
    expect(socksalp('--help').stdout).to.match(/^ {2}replay {2}what a configuration would do/m);
  });
});
