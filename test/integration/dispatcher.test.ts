import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlSha256, inNs, REPO, socksInClient, useLab, webLog, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const LAB = join(REPO, 'test', 'lab', 'lab.sh');

/**
 * The dispatcher in the lab, judged from outside: the bytes curl received, which SOCKS server
 * the web server or the ALP service saw, what the control socket and `ctl` print.
 */
describe('dispatcher: real clients through the VIP', function () {
  this.timeout(180_000);
  let lab: LabFacts;
  let conf: string;
  let app: ApplianceProcess;
  let vip: string;
  const hello = createHash('sha256').update('hello from the socksalp lab\n').digest('hex');

  before(async function () {
    lab = useLab();
    vip = `${lab.LAB_VIP}:1080`;
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET, idle_timeout: '5' } });
    // [routes] is the file's last section: a route for non-SOCKS traffic to sb's segment.
    writeFileSync(join(conf, 'appliance.ini'), readFileSync(join(conf, 'appliance.ini'), 'utf8') + '198.19.2.0/24 = alp-sb\n');
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  });

  after(async function () {
    try {
      await app?.finish();
    } finally {
      if (conf) ApplianceProcess.cleanup(conf);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  const egress = (server: string) => lab[`LAB_SERVER_${server.toUpperCase()}_EGRESS`];

  const modes = [
    { flag: '--socks4', url: () => `http://${lab.LAB_WEB_ADDR}/big.bin`, server: 'sa' },
    // sa (Dante) speaks no SOCKS4a: the server leg translates the request into SOCKS5 (ATYP 3).
    { flag: '--socks4a', url: () => lab.LAB_BIG_URL, server: 'sa' },
    { flag: '--socks5', url: () => `http://${lab.LAB_WEB_ADDR}/big.bin`, server: 'sa' },
    { flag: '--socks5-hostname', url: () => lab.LAB_BIG_URL, server: 'sa' },
  ];
  for (const m of modes) {
    it(`curl ${m.flag} through the VIP downloads the large file intact, carried by ${m.server}`, async function () {
      const before = webLog(lab).length;
      const d = await curlSha256(lab.LAB_NS_CLIENT, [m.flag, vip, m.url()]);
      expect(d.status, d.stderr).to.equal(0);
      expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
      const lines = webLog(lab).slice(before);
      expect(lines).to.have.length(1);
      expect(lines[0].split(' ')[0]).to.equal(egress(m.server));
    });
  }

  it('works when the client sends its SOCKS handshake one byte per segment (SOCKS5 and SOCKS4)', async function () {
    for (const dialect of ['5h', '4'] as const) {
      const host = dialect === '5h' ? lab.LAB_WEB_HOST : lab.LAB_WEB_ADDR;
      const r = await runInClient({ dialect, host, port: 80, path: '/hello.txt', byteBySegment: true });
      expect(r.body).to.equal(hello);
    }
  });

  it('sends HTTP to the high-capacity server and FTP, Telnet, Gopher to the server configured for them, as the far side sees it', async function () {
    const http = await runInClient({ dialect: '5', host: lab.LAB_WEB_ADDR, port: 80, path: '/hello.txt' });
    expect(http.carrier).to.equal(egress('sa'));
    for (const port of [21, 23, 70]) {
      const svc = await runInClient({ dialect: '4', host: lab.LAB_WEB_ADDR, port });
      expect(svc.carrier, `port ${port}`).to.equal(egress('sb'));
    }
  });

  it('answers ICMP echo on the VIP', function () {
    const r = inNs(lab.LAB_NS_CLIENT, 'ping', ['-c', '2', '-W', '2', lab.LAB_VIP]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/2 received/);
  });

  it('routes non-SOCKS datagrams by [routes], and answers ICMP unreachable where none fits', function () {
    // The kernel in the appliance namespace sends these two destinations into the TUN.
    const routes = [['198.19.2.2/32'], ['198.19.9.0/24']];
    for (const [prefix] of routes) inNs(lab.LAB_NS_APP, 'ip', ['route', 'add', prefix, 'dev', 'alp0']);
    try {
      const routed = inNs(lab.LAB_NS_CLIENT, 'ping', ['-c', '2', '-W', '2', '198.19.2.2']);
      expect(routed.status, routed.stdout + routed.stderr).to.equal(0);
      const unreachable = inNs(lab.LAB_NS_CLIENT, 'ping', ['-c', '1', '-W', '2', '198.19.9.9']);
      expect(unreachable.stdout).to.match(new RegExp(`From ${lab.LAB_VIP.replace(/\./g, '\\.')} .*Destination Net Unreachable`));
    } finally {
      for (const [prefix] of routes) inNs(lab.LAB_NS_APP, 'ip', ['route', 'del', prefix, 'dev', 'alp0']);
    }
  });

  it('shows the servers and a live connection through ctl', async function () {
    // A connection held open from the client: the ftp service echoes until socat's stdin closes.
    const held = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'socat', '-', `SOCKS4:${lab.LAB_VIP}:${lab.LAB_WEB_ADDR}:21,socksport=1080`], { stdio: ['pipe', 'pipe', 'ignore'] });
    await new Promise((r) => held.stdout.once('data', r));
    await new Promise((r) => setTimeout(r, 300)); // active counts are gathered by the sweep, every tick here
    try {
      const conns = socksalp('ctl', '--socket', SOCKET, 'conns', '--filter', 'ftp');
      expect(conns.status, conns.stderr).to.equal(0);
      expect(conns.stdout).to.match(/198\.18\.0\.2:\d+\s+ftp\s+203\.0\.113\.80:21\s+sb\s+\d+\s+spliced/);
      const list = socksalp('ctl', '--socket', SOCKET, 'list');
      expect(list.status, list.stderr).to.equal(0);
      expect(list.stdout).to.match(/^sb\s+198\.19\.2\.2:1080\s+alp-sb\s+5\s+ftp,gopher,telnet\s+up\s+-\s+1\s/m);
    } finally {
      held.kill();
    }
  });

  it('refuses a bad reload with check\'s messages, keeps running, and applies a good one to new connections', async function () {
    const alp = join(conf, 'alp.ini');
    const servers = join(conf, 'servers.ini');
    const goodAlp = readFileSync(alp, 'utf8');
    const goodServers = readFileSync(servers, 'utf8');
    try {
      editIni(alp, { 'http priority': '300' });
      let r = socksalp('ctl', '--socket', SOCKET, 'reload');
      expect(r.status).to.equal(1);
      expect(r.stdout).to.match(/alp\.ini:\d+: \[http\] priority: expected a whole number from 0 to 255/);
      expect((await runInClient({ dialect: '5', host: lab.LAB_WEB_ADDR, port: 80, path: '/hello.txt' })).carrier).to.equal(egress('sa'));

      // HTTP moves from sa to sc: sa no longer lists it, sc now has the capacity priority 7 asks for.
      editIni(alp, { 'http priority': '7' });
      editIni(servers, { 'sa alps': 'ssl', 'sc capacity': '12' });
      app.signal('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
      r = socksalp('ctl', '--socket', SOCKET, 'status');
      expect(JSON.parse(r.stdout).lastReload.ok).to.equal(true);
      for (let i = 0; i < 3; i++) {
        expect((await runInClient({ dialect: '5', host: lab.LAB_WEB_ADDR, port: 80, path: '/hello.txt' })).carrier).to.equal(egress('sc'));
      }
    } finally {
      writeFileSync(alp, goodAlp);
      writeFileSync(servers, goodServers);
      expect(socksalp('ctl', '--socket', SOCKET, 'reload').status).to.equal(0);
    }
  });

  it('sends new connections to the others when a server stops, with no failed client', async function () {
    execFileSync('bash', [LAB, 'stop-server', 'sa']);
    try {
      for (let i = 0; i < 4; i++) {
        const r = await runInClient({ dialect: '5', host: lab.LAB_WEB_ADDR, port: 80, path: '/hello.txt' });
        expect(r.body).to.equal(hello);
        expect([egress('sc'), egress('sd')]).to.include(r.carrier);
      }
      const list = socksalp('ctl', '--socket', SOCKET, 'list');
      expect(list.stdout).to.match(/^sa\s.*\sfailing\s/m);
    } finally {
      execFileSync('bash', [LAB, 'start-server', 'sa']);
    }
  });

  it('carries 2,000 mixed connections at concurrency 32 with no failure, and the table empties', async function () {
    const r = inNs(lab.LAB_NS_CLIENT, process.execPath, [
      join(REPO, 'dist', 'test', 'lab', 'socks-load.js'), '--proxy', vip, '--count', '2000', '--concurrency', '32',
      '--mix', 'http4,http5,http5h,ftp5h,telnet5,gopher4,ssl5,http4a',
    ]);
    expect(r.status, r.stderr).to.equal(0);
    const result = JSON.parse(r.stdout);
    expect(result.failed, JSON.stringify(result.errors)).to.equal(0);
    expect(result.ok).to.equal(2000);
    expect(result.carriers.ftp5h).to.deep.equal({ [egress('sb')]: 250 });
    // SOCKS4a goes where HTTP goes (translated for Dante and microsocks): to sa by capacity,
    // to another HTTP server only while sa is held down.
    expect(Object.keys(result.carriers.http4a).every((a) => ['sa', 'sc', 'sd'].map(egress).includes(a)), JSON.stringify(result.carriers)).to.equal(true);
    expect(result.carriers.http4a[egress('sa')]).to.be.greaterThan(125);
    // Closed connections linger 2 s; anything left idle goes after idle_timeout (5 s here).
    const until = Date.now() + 8000;
    let size = -1;
    while (Date.now() < until) {
      size = ((await app.ask({ cmd: 'status' })).status as { connections: number }).connections;
      if (size === 0) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(size).to.equal(0);
  });

  function socksalp(...args: string[]) {
    return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  }

  /** One request from the client namespace through the VIP; the body's sha256 and who carried it. */
  async function runInClient(o: { dialect: '4' | '4a' | '5' | '5h'; host: string; port: number; path?: string; byteBySegment?: boolean }) {
    return socksInClient(lab, vip, o);
  }
});
