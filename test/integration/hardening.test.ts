import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../../appliance/control/client';
import { curlSha256, fetchVia, inNs, labFacts, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-hardening/control.sock';
const INJECT = join(REPO, 'test', 'lab', 'inject.py');

/** Runs the injector in a namespace; returns its output. */
function inject(ns: string, ...args: (string | number)[]): string {
  const r = inNs(ns, 'python3', [INJECT, ...args.map(String)]);
  expect(r.status, `inject.py ${args.join(' ')}: ${r.stderr}`).to.equal(0);
  return r.stdout.trim();
}

interface Row { client: string; port: number; server: string; state: string; destination: string }

/** The spliced connection to `destination`, once there is one. */
async function spliced(destination: string): Promise<Row> {
  for (let i = 0; i < 100; i++) {
    const a = await controlRequest(SOCKET, { cmd: 'conns', filter: 'spliced', limit: 100 });
    const row = (a.rows as Row[]).find((r) => r.destination === destination && r.state === 'spliced');
    if (row) return row;
    await sleep(50);
  }
  throw new Error(`no spliced connection to ${destination}`);
}

async function guardStats(): Promise<Record<string, number>> {
  return ((await controlRequest(SOCKET, { cmd: 'status' })).status as { rfc5961: Record<string, number> }).rfc5961;
}

/** The client's port of its one connection to `peer` (ss in the client's namespace). */
function clientPortTo(lab: LabFacts, peer: string): number {
  for (const line of inNs(lab.LAB_NS_CLIENT, 'ss', ['-Htn', 'state', 'established', 'dst', peer]).stdout.split('\n')) {
    const m = /198\.18\.0\.2:(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  throw new Error(`no connection to ${peer}`);
}

/**
 * The hardening issue's blind attacks, seen from outside: RSTs with random sequence numbers,
 * RSTs inside the window and SYNs, sent at live downloads from the client's address and from
 * the server's, must leave every byte the client receives intact (RFC 5961), as a Linux peer
 * does on the same traffic; a genuine RST still ends the connection at once.
 */
describe('hardening: blind resets and injected SYNs (RFC 5961)', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET);
  const big = () => `http://${s.lab.LAB_WEB_ADDR}/big.bin`;

  it('on the client leg: 3000 random RSTs, RSTs in the window and SYNs; the download is intact, carried by sa', async function () {
    const lab = s.lab;
    const vip = lab.LAB_VIP;
    const dl = fetchVia(lab, '--socks5', `${vip}:1080`, { curl: ['--limit-rate', '16M'] });
    const row = await spliced(`${lab.LAB_WEB_ADDR}:80`);
    const port = Number(row.client.split(':')[1]);
    expect(port).to.be.above(0);
    const before = await guardStats();
    inject(lab.LAB_NS_CLIENT, 'random', '198.18.0.2', port, vip, 1080, 'R', 3000, '--seed', 7);
    inject(lab.LAB_NS_CLIENT, 'random', '198.18.0.2', port, vip, 1080, 'S', 200, '--seed', 8);
    // The client only acknowledges during a download: its next sequence number stands still.
    const next = Number(inject(lab.LAB_NS_CLIENT, 'next', 'c0', '198.18.0.2', port, vip, 1080));
    inject(lab.LAB_NS_CLIENT, 'send', '198.18.0.2', port, vip, 1080, 'R', next + 1000, next + 5000, next + 20000);
    const d = await dl;
    expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    expect(d.carrier, 'carried by sa').to.equal(lab.LAB_SERVER_SA_EGRESS);
    const after = await guardStats();
    expect(after.rstOutOfWindow - before.rstOutOfWindow).to.be.at.least(2990);
    expect(after.rstChallenged - before.rstChallenged).to.be.at.least(3);
    expect(after.synChallenged - before.synChallenged).to.equal(200);
    expect(after.rstExact - before.rstExact).to.equal(0);
  });

  it('on the server leg: random RSTs, RSTs in the window and SYNs from the server\'s address; the download is intact', async function () {
    const lab = s.lab;
    const dl = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '16M', '--socks4', `${lab.LAB_VIP}:1080`, big()]);
    const row = await spliced(`${lab.LAB_WEB_ADDR}:80`);
    expect(row.server).to.equal('sa');
    const sa = lab.LAB_SERVER_SA_SOCKS.split(':')[0];
    const own = '198.19.1.1';
    const before = await guardStats();
    inject(lab.LAB_SERVER_SA_NS, 'random', sa, 1080, own, row.port, 'R', 3000, '--seed', 9);
    inject(lab.LAB_SERVER_SA_NS, 'random', sa, 1080, own, row.port, 'SA', 100, '--seed', 10);
    const next = Number(inject(lab.LAB_SERVER_SA_NS, 'next', 'eth0', sa, 1080, own, row.port));
    const spread = Array.from({ length: 30 }, (_, k) => (next + (k + 1) * 4096) >>> 0);
    inject(lab.LAB_SERVER_SA_NS, 'send', sa, 1080, own, row.port, 'R', ...spread);
    const d = await dl;
    expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    const after = await guardStats();
    expect(after.rstOutOfWindow - before.rstOutOfWindow).to.be.at.least(2990);
    expect(after.synChallenged - before.synChallenged).to.equal(100);
  });

  it('a Linux peer on the same traffic (straight to Dante) keeps its connection too', async function () {
    const lab = s.lab;
    const dante = lab.LAB_SERVER_SA_SOCKS;
    const [addr, dport] = dante.split(':');
    const dl = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '16M', '--socks5', dante, big()]);
    let port = 0;
    for (let i = 0; i < 50 && port === 0; i++) {
      await sleep(50);
      try { port = clientPortTo(lab, dante); } catch { /* not yet */ }
    }
    expect(port, 'the client\'s connection to Dante').to.be.above(0);
    inject(lab.LAB_NS_CLIENT, 'random', '198.18.0.2', port, addr, dport, 'R', 3000, '--seed', 7);
    inject(lab.LAB_NS_CLIENT, 'random', '198.18.0.2', port, addr, dport, 'S', 200, '--seed', 8);
    const next = Number(inject(lab.LAB_NS_CLIENT, 'next', 'c0', '198.18.0.2', port, addr, dport));
    inject(lab.LAB_NS_CLIENT, 'send', '198.18.0.2', port, addr, dport, 'R', next + 1000, next + 5000, next + 20000);
    const d = await dl;
    expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
  });

  it('a genuine RST (the client closes with SO_LINGER 0) ends the connection at once, on both legs', async function () {
    const lab = s.lab;
    const before = webLog(lab).length;
    const exactBefore = (await guardStats()).rstExact;
    // SOCKS4 CONNECT to the web host, a GET, 1 MB read, then an abortive close: the kernel's RST.
    const py = `
import socket, struct
s = socket.create_connection(('${lab.LAB_VIP}', 1080))
s.sendall(struct.pack('!BBH4sB', 4, 1, 80, socket.inet_aton('${lab.LAB_WEB_ADDR}'), 0))
assert s.recv(8)[1] == 90
s.sendall(b'GET /big.bin HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')
got = 0
while got < 1 << 20:
    got += len(s.recv(65536))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
print(got)
`;
    const r = inNs(lab.LAB_NS_CLIENT, 'python3', ['-c', py]);
    expect(r.status, r.stderr).to.equal(0);
    const t0 = Date.now();
    let lines: string[] = [];
    while (Date.now() - t0 < 3000 && lines.length === 0) {
      await sleep(50);
      lines = webLog(lab).slice(before);
    }
    // nginx logged the request: Dante's leg was reset, so Dante closed its side.
    expect(lines, 'the server side saw the end').to.have.length(1);
    const a = await controlRequest(SOCKET, { cmd: 'conns', filter: 'spliced' });
    expect((a.rows as Row[]).filter((x) => x.destination === `${lab.LAB_WEB_ADDR}:80`)).to.deep.equal([]);
    expect((await guardStats()).rstExact - exactBefore).to.be.at.least(1);
  });
});

/**
 * Reverse-path filtering per segment, seen from the client's namespace: a host on a server's
 * segment sends UDP to an intranet address through the appliance with sources it may not use
 * (a VIP, the appliance's own address, an intranet address, its own, an internet address the
 * operator routes through another segment); only the datagram whose source [routes] sends
 * back through that segment arrives.
 */
describe('hardening: spoofing from a server segment (rp_filter)', function () {
  this.timeout(60_000);
  const s = applianceForSuite('/run/socksalp-test-rpfilter/control.sock');

  it('only a source routed back through the segment it came from reaches the intranet; the rest is counted', async function () {
    const lab = s.lab;
    const listener = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'python3', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('198.18.0.2', 9999))
s.settimeout(20)
print('listening', flush=True)
try:
    while True:
        data, peer = s.recvfrom(100)
        if data == b'end':
            break
        print(peer[0], data.decode(), flush=True)
except socket.timeout:
    pass
`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let heard = '';
    listener.stdout.on('data', (b: Buffer) => { heard += b.toString(); });
    const done = new Promise((r) => listener.on('close', r));
    // Injected only once the listener is bound (a loaded machine starts python slowly).
    for (let i = 0; i < 100 && !heard.startsWith('listening\n'); i++) await sleep(50);
    expect(heard, 'the listener started').to.equal('listening\n');
    heard = '';
    const hosts = [['sa', '1'], ['sb', '2']] as const;
    let before: Record<string, number> = {};
    try {
      for (const [name, n] of hosts) expect(inNs(lab[`LAB_SERVER_${name.toUpperCase()}_NS`], 'ip', ['route', 'add', '198.18.0.2/32', 'via', `198.19.${n}.1`]).status).to.equal(0);
      before = ((await controlRequest('/run/socksalp-test-rpfilter/control.sock', { cmd: 'status' })).status as { drops: Record<string, number> }).drops;
      await sleep(300);
      const sa = lab.LAB_SERVER_SA_NS;
      for (const [src, what] of [[lab.LAB_VIP, 'vip'], ['198.19.1.1', 'own'], ['198.18.0.5', 'intranet'], ['198.19.1.2', 'sa-itself'], [lab.LAB_WEB_ADDR, 'routed']]) {
        inject(sa, 'udp', src, 7, '198.18.0.2', 9999, `from-sa-${what}`);
      }
      inject(lab.LAB_SERVER_SB_NS, 'udp', lab.LAB_WEB_ADDR, 7, '198.18.0.2', 9999, 'from-sb-routed-elsewhere');
      // The listener stops at "end", sent from the client's own namespace once what the appliance
      // passes has had time to arrive: however long the injections took on a loaded host.
      await sleep(500);
      inNs(lab.LAB_NS_CLIENT, 'python3', ['-c', "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'end', ('198.18.0.2', 9999))"]);
      await done;
    } finally {
      for (const [name, n] of hosts) inNs(lab[`LAB_SERVER_${name.toUpperCase()}_NS`], 'ip', ['route', 'del', '198.18.0.2/32', 'via', `198.19.${n}.1`]);
      listener.kill();
    }
    expect(heard.trim().split('\n')).to.deep.equal([`${lab.LAB_WEB_ADDR} from-sa-routed`]);
    const after = ((await controlRequest('/run/socksalp-test-rpfilter/control.sock', { cmd: 'status' })).status as { drops: Record<string, number> }).drops;
    expect(after['spoofed-source'] - before['spoofed-source']).to.equal(2);
    expect(after['rp-filter'] - before['rp-filter']).to.equal(3);
  });
});

/**
 * A server's TAP deleted during a download and made again, as an operator or a crashed
 * hypervisor might: the appliance says so at once, sends new connections elsewhere without
 * waiting for a timeout, reopens the TAP when it is back, and the download under way
 * completes, every byte right; the server carries connections again.
 */
describe('hardening: a vanished device comes back', function () {
  this.timeout(120_000);
  const sock = '/run/socksalp-test-devices-back/control.sock';
  // The TAP set down is written to and says EIO: expected here.
  const s = applianceForSuite(sock, {}, {}, undefined, [/device alp-sa failed \(write: Input\/output error\)/]);

  it('a TAP deleted and re-created during a download: logged, its server down at once, the download intact, the server used again', async function () {
    const lab = s.lab;
    const url = `http://${lab.LAB_WEB_ADDR}/big.bin`;
    const vip = `${lab.LAB_VIP}:1080`;
    const dl = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '8M', '--socks5', vip, url]);
    let row: Row | undefined;
    for (let i = 0; i < 100 && row === undefined; i++) {
      const a = await controlRequest(sock, { cmd: 'conns', filter: 'spliced' });
      row = (a.rows as Row[]).find((r) => r.destination === `${lab.LAB_WEB_ADDR}:80`);
      if (row === undefined) await sleep(50);
    }
    expect(row, 'the download is spliced').to.not.equal(undefined);
    const name = row!.server;
    const tap = `alp-${name}`;
    await sleep(1000);
    expect(inNs(lab.LAB_NS_APP, 'ip', ['link', 'del', tap]).status).to.equal(0);
    const recreate = () => {
      inNs(lab.LAB_NS_APP, 'ip', ['tuntap', 'add', 'mode', 'tap', 'name', tap]);
      inNs(lab.LAB_NS_APP, 'ip', ['link', 'set', tap, 'master', `br-${name}`]);
      inNs(lab.LAB_NS_APP, 'ip', ['link', 'set', tap, 'up']);
    };
    try {
      for (let i = 0; i < 50 && !s.app.output.includes(`device ${tap} failed`); i++) await sleep(50);
      expect(s.app.output).to.match(new RegExp(`device ${tap} failed \\(.*\\); server\\(s\\) ${name} are down until it returns`));
      const list = await controlRequest(sock, { cmd: 'servers' });
      expect((list.servers as { name: string; state: string }[]).find((x) => x.name === name)!.state).to.equal('no-device');
      // New connections meanwhile: others carry them, each at once (connect_timeout is 5 s).
      for (let i = 0; i < 3; i++) {
        // A small file: the time is the connection's, not the transfer's.
        const t0 = Date.now();
        const quick = await fetchVia(lab, '--socks5', vip, { path: '/hello.txt' });
        expect(quick.status, quick.stderr).to.equal(0);
        expect(Date.now() - t0).to.be.below(4000);
        const other = await fetchVia(lab, '--socks5', vip);
        expect(other.sha256, other.stderr).to.equal(lab.LAB_BIG_SHA256);
        for (const f of [quick, other]) expect(f.carrier).to.not.equal(lab[`LAB_SERVER_${name.toUpperCase()}_EGRESS`]);
      }
    } finally {
      recreate();
    }
    for (let i = 0; i < 60 && !s.app.output.includes(`device ${tap} is back`); i++) await sleep(50);
    expect(s.app.output).to.include(`device ${tap} is back`);
    const d = await dl;
    expect(d.sha256, `the download under way: ${d.stderr}`).to.equal(lab.LAB_BIG_SHA256);
    // The server carries connections again (round robin among the http servers).
    const carriers = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const again = await fetchVia(lab, '--socks5', vip);
      expect(again.sha256, again.stderr).to.equal(lab.LAB_BIG_SHA256);
      carriers.add(again.carrier);
    }
    expect([...carriers]).to.include(lab[`LAB_SERVER_${name.toUpperCase()}_EGRESS`]);
  });
  it('a TAP set down: the connection that meets it fails over at once; the TAP stays down until the operator sets it up; then its server is back', async function () {
    const lab = s.lab;
    const vip = `${lab.LAB_VIP}:1080`;
    const backs = () => (s.app.output.match(/device alp-sa is back/g) ?? []).length;
    const backBefore = backs();
    expect(inNs(lab.LAB_NS_APP, 'ip', ['link', 'set', 'alp-sa', 'down']).status).to.equal(0);
    try {
      const t0 = Date.now();
      const quick = await fetchVia(lab, '--socks5', vip, { path: '/hello.txt' });
      expect(quick.status, quick.stderr).to.equal(0);
      expect(Date.now() - t0, 'no connect_timeout waited').to.be.below(4000);
      expect(quick.carrier).to.not.equal(lab.LAB_SERVER_SA_EGRESS);
      const d = await fetchVia(lab, '--socks5', vip);
      expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
      expect(s.app.output).to.match(/device alp-sa failed \(write: Input\/output error\)/);
      await sleep(2500);
      expect(inNs(lab.LAB_NS_APP, 'ip', ['-br', 'link', 'show', 'alp-sa']).stdout, 'the appliance does not set it up').to.match(/\bDOWN\b/);
    } finally {
      inNs(lab.LAB_NS_APP, 'ip', ['link', 'set', 'alp-sa', 'up']);
    }
    for (let i = 0; i < 60 && backs() === backBefore; i++) await sleep(50);
    expect(backs(), 'this time back too').to.equal(backBefore + 1);
    const again = await fetchVia(lab, '--socks5', vip);
    expect(again.sha256, again.stderr).to.equal(lab.LAB_BIG_SHA256);
    expect(again.carrier, 'sa, the one http server with the capacity priority 7 asks for').to.equal(lab.LAB_SERVER_SA_EGRESS);
  });
  it('the TUN deleted and made again by its maker: logged, reopened, the VIP serves again', async function () {
    const lab = s.lab;
    const url = `http://${lab.LAB_WEB_ADDR}/big.bin`;
    const ns = lab.LAB_NS_APP;
    expect(inNs(ns, 'ip', ['link', 'del', 'alp0']).status).to.equal(0);
    try {
      for (let i = 0; i < 50 && !s.app.output.includes('device alp0 failed'); i++) await sleep(50);
      expect(s.app.output).to.match(/device alp0 failed \(.*\); the intranet is unreachable until it returns/);
    } finally {
      // As the lab makes it: the TUN, up, and the routes into it, of both families.
      execFileSync('bash', [join(REPO, 'test', 'lab', 'lab.sh'), 'tun']);
    }
    for (let i = 0; i < 60 && !s.app.output.includes('device alp0 is back'); i++) await sleep(50);
    expect(s.app.output).to.include('device alp0 is back');
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5', `${lab.LAB_VIP}:1080`, url]);
    expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
  });
});

/**
 * ARP on a server's segment: a forged gratuitous ARP naming a MAC nobody has must not divert
 * the server's traffic; a server whose MAC really changes is found again by itself.
 */
describe('hardening: ARP poisoning and a server that changes its MAC', function () {
  this.timeout(120_000);
  const sock = '/run/socksalp-test-arp/control.sock';
  const s = applianceForSuite(sock);

  async function carrying(lab: LabFacts, flag: string): Promise<{ dl: ReturnType<typeof curlSha256>; server: string }> {
    const dl = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '16M', flag, `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    for (let i = 0; i < 100; i++) {
      const a = await controlRequest(sock, { cmd: 'conns', filter: 'spliced' });
      const row = (a.rows as Row[]).find((r) => r.destination === `${lab.LAB_WEB_ADDR}:80`);
      if (row) return { dl, server: row.server };
      await sleep(50);
    }
    throw new Error('no spliced download');
  }

  it('a gratuitous ARP with a false MAC for the server under a download changes nothing: the claim is checked and refused', async function () {
    const lab = s.lab;
    const { dl, server } = await carrying(lab, '--socks5');
    const n = { sa: 1, sb: 2, sc: 3, sd: 4, se: 5 }[server]!;
    await sleep(500);
    const t0 = Date.now();
    inject(lab[`LAB_SERVER_${server.toUpperCase()}_NS`], 'garp', 'eth0', `198.19.${n}.2`, '02:00:00:de:ad:01');
    const d = await dl;
    expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    expect(Date.now() - t0, 'no stall').to.be.below(10_000);
    expect(s.app.output).to.match(new RegExp(`ARP claims server ${server} is at 02:00:00:de:ad:01, not `));
    expect(s.app.output).to.match(new RegExp(`server ${server} still answers at .*: the claim for 02:00:00:de:ad:01 is refused`));
  });

  it('the server\'s MAC changes under a download: probed, found at its new MAC, the download completes', async function () {
    const lab = s.lab;
    const { dl, server } = await carrying(lab, '--socks4');
    const ns = lab[`LAB_SERVER_${server.toUpperCase()}_NS`];
    const before = inNs(ns, 'cat', ['/sys/class/net/eth0/address']).stdout.trim();
    await sleep(500);
    expect(inNs(ns, 'ip', ['link', 'set', 'eth0', 'address', '02:00:00:be:ef:01']).status).to.equal(0);
    try {
      const d = await dl;
      expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
      expect(s.app.output).to.match(new RegExp(`server ${server} moved from ${before} to 02:00:00:be:ef:01`));
    } finally {
      inNs(ns, 'ip', ['link', 'set', 'eth0', 'address', before]);
    }
  });
});

/**
 * Active health checks through the servers (servers.ini `check`): a probe through each HTTP
 * server to the web host every second. A server whose SOCKS port answers but whose path behind
 * it is dead is taken down before clients meet it; a Dante restarted is used again within
 * rise x check_interval, not after a minute's hold-down.
 */
describe('hardening: active health checks through the servers', function () {
  this.timeout(120_000);
  const sock = '/run/socksalp-test-checks/control.sock';
  const checks = 'http, ssl\ncheck = 203.0.113.80:80\ncheck_http = /hello.txt\ncheck_interval = 1\ncheck_timeout = 1\nrise = 2\nfall = 2';
  // nginx's log as it was before this suite's appliance (and its probes) began.
  let logStart = 0;
  const s = applianceForSuite(sock, {}, {}, (dir) => {
    logStart = webLog(labFacts()).length;
    editIni(join(dir, 'servers.ini'), { 'sa alps': checks, 'sc alps': checks, 'sd alps': checks });
  });
  const state = async (name: string) => ((await controlRequest(sock, { cmd: 'servers' })).servers as { name: string; state: string; check: { state: string; last: string } }[]).find((x) => x.name === name)!;
  const until = async (what: string, ms: number, test: () => Promise<boolean>) => {
    const t0 = Date.now();
    while (!(await test())) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
      await sleep(100);
    }
    return Date.now() - t0;
  };
  const carriedBy = async (n: number) => {
    const by: string[] = [];
    for (let i = 0; i < n; i++) {
      const d = await fetchVia(s.lab, '--socks5', `${s.lab.LAB_VIP}:1080`);
      expect(d.sha256, d.stderr).to.equal(s.lab.LAB_BIG_SHA256);
      by.push(d.carrier);
    }
    return by;
  };

  it('every checked server passes: up, with its latency; the web server saw the probes through each, and only those', async function () {
    await until('sa, sc and sd checked', 10_000, async () => {
      for (const n of ['sa', 'sc', 'sd']) if ((await state(n)).check.last !== 'ok') return false;
      return true;
    });
    for (const n of ['sa', 'sc', 'sd']) expect(((await state(n)).check as unknown as { latencyMs: number }).latencyMs, n).to.be.above(0);
    expect((await state('sb')).check.state).to.equal('off');
    const probedFrom = new Set(webLog(s.lab).slice(logStart).filter((l) => l.split(' ')[1] === '/hello.txt').map((l) => l.split(' ')[0]));
    const egress = (n: string) => s.lab[`LAB_SERVER_${n.toUpperCase()}_EGRESS`];
    expect([...probedFrom].sort()).to.deep.equal(['sa', 'sc', 'sd'].map(egress).sort());
  });

  // sa is the one http server with the capacity priority 7 asks for (capacity_for_priority
  // 7:10): the others carry http only while it is down.
  it('a server whose port answers but whose path to the web host is dead is taken down; clients never meet it; it comes back', async function () {
    const lab = s.lab;
    const ns = lab.LAB_SERVER_SA_NS;
    expect(inNs(ns, 'ip', ['route', 'add', 'blackhole', `${lab.LAB_WEB_ADDR}/32`]).status).to.equal(0);
    try {
      await until('sa check-down', 8000, async () => (await state('sa')).state === 'check-down');
      expect(s.app.output).to.match(/server sa fails its check 2 time\(s\) in a row \(.*\); down until it passes 2 in a row/);
      const by = await carriedBy(6);
      expect(by, 'no download through sa').to.not.include(lab.LAB_SERVER_SA_EGRESS);
    } finally {
      inNs(ns, 'ip', ['route', 'del', 'blackhole', `${lab.LAB_WEB_ADDR}/32`]);
    }
    await until('sa up again', 8000, async () => (await state('sa')).state === 'up');
    expect(s.app.output).to.include('server sa passes its check again; up');
    expect(await carriedBy(8)).to.include(lab.LAB_SERVER_SA_EGRESS);
  });

  it('Dante stopped, then started again 3 s later: down while it is away, used again within seconds of its return', async function () {
    const lab = s.lab;
    const labSh = join(REPO, 'test', 'lab', 'lab.sh');
    const sh = (...a: string[]) => expect(spawnSync('bash', [labSh, ...a]).status, `lab.sh ${a.join(' ')}`).to.equal(0);
    try {
      sh('stop-server', 'sa');
      await until('sa check-down', 8000, async () => (await state('sa')).state === 'check-down');
      await sleep(3000);
    } finally {
      sh('start-server', 'sa');
    }
    const back = await until('sa up', 10_000, async () => (await state('sa')).state === 'up');
    expect(back, 'within rise x check_interval and a probe\'s time').to.be.below(5000);
    expect(await carriedBy(8)).to.include(lab.LAB_SERVER_SA_EGRESS);
  });
});
