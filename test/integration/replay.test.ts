import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNs, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-replay/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

/** One connection the test makes: curl for HTTP in each dialect, the lab's SOCKS client for the other services. */
interface Planned {
  tool: 'curl' | 'socks';
  dialect: '4' | '4a' | '5' | '5h';
  host: 'addr' | 'name';
  port: number;
  alp: string;
  /** The dialect column replay prints (sa and sb speak 4 and 5: a SOCKS4a name goes on in SOCKS5). */
  shown: string;
}

const PLAN: Planned[] = [
  { tool: 'curl', dialect: '4', host: 'addr', port: 80, alp: 'http', shown: '4' },
  { tool: 'curl', dialect: '4a', host: 'name', port: 80, alp: 'http', shown: '4a>5' },
  { tool: 'curl', dialect: '5', host: 'addr', port: 80, alp: 'http', shown: '5' },
  { tool: 'curl', dialect: '5h', host: 'name', port: 80, alp: 'http', shown: '5' },
  { tool: 'curl', dialect: '5', host: 'addr', port: 8080, alp: 'http', shown: '5' },
  { tool: 'socks', dialect: '4', host: 'addr', port: 21, alp: 'ftp', shown: '4' },
  { tool: 'socks', dialect: '5', host: 'addr', port: 23, alp: 'telnet', shown: '5' },
  { tool: 'socks', dialect: '5h', host: 'name', port: 70, alp: 'gopher', shown: '5' },
  { tool: 'socks', dialect: '5', host: 'addr', port: 443, alp: 'ssl', shown: '5' },
];

interface Live {
  clientPort: number;
  /** The SOCKS server that carried it, from the far side's account of its peer (nginx's log, the service's banner). */
  server: string;
  /** HTTP only: the address nginx answered on (the mirror, when diverted). */
  answeredBy: string;
}

interface Row { client: string; destination: string; diverted: string; dialect: string; alp: string; server: string; divertedFrom: string; outcome: string }

/**
 * `socksalp replay` on a capture the lab makes itself: tcpdump on the client's interface toward
 * the appliance while curl and the lab's SOCKS client make connections of every dialect and
 * several ALPs; replay's ALP and server for each connection (matched by the client's port) must
 * be where the live appliance sent it, as the far side saw it. Then an edited configuration (a
 * diversion, FTP moved to another server): replay's prediction from the same capture, and the
 * live appliance after reloading that edit, agree; and so for a server diversion (sa's
 * address:port diverted to sc's).
 */
describe('replay: a tcpdump capture of the lab, replayed, against where the live appliance sent each connection', function () {
  this.timeout(180_000);
  const s = applianceForSuite(SOCKET, { 'appliance.ini': { idle_timeout: '5' } });
  let work: string;
  const captures: ChildProcess[] = [];
  let fetches = 0;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'socksalp-replay-lab-'));
  });
  after(function () {
    for (const c of captures) if (c.exitCode === null) c.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`appliance output:\n${s.app.output}\n`);
  });

  const serverOf = (lab: LabFacts, egress: string) => ['sa', 'sb', 'sc', 'sd'].find((n) => lab[`LAB_SERVER_${n.toUpperCase()}_EGRESS`] === egress) ?? `unknown ${egress}`;

  /** tcpdump in the client's namespace, writing `file`; resolves once it listens. */
  async function startCapture(iface: string, file: string): Promise<ChildProcess> {
    // --immediate-mode: packets reach tcpdump as they come, not a ring block (up to a second) later,
    // so none is still in the kernel when SIGINT ends it; -U: each written as it comes; -Z root:
    // the file is opened as root, in the test's own directory.
    const c = spawn('ip', ['netns', 'exec', s.lab.LAB_NS_CLIENT, 'tcpdump', '-i', iface, '-n', '--immediate-mode', '-U', '-s', '0', '-Z', 'root', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    captures.push(c);
    let err = '';
    await new Promise<void>((resolve, reject) => {
      c.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        if (/listening on/.test(err)) resolve();
      });
      c.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)));
    });
    return c;
  }

  async function stopCapture(c: ChildProcess): Promise<void> {
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGINT');
    await done;
  }

  /** Makes one planned connection and reads, from the far side, which server carried it. */
  function connect(p: Planned): Live {
    const lab = s.lab;
    const vip = `${lab.LAB_VIP}:1080`;
    const host = p.host === 'addr' ? lab.LAB_WEB_ADDR : lab.LAB_WEB_HOST;
    if (p.tool === 'curl') {
      const flag = { '4': '--socks4', '4a': '--socks4a', '5': '--socks5', '5h': '--socks5-hostname' }[p.dialect];
      const uri = `/hello.txt?replay=${process.pid}-${++fetches}`;
      const r = inNs(lab.LAB_NS_CLIENT, 'curl', ['-sS', '--max-time', '20', '-o', '/dev/null', '-w', '%{local_port}', flag, vip, `http://${host}:${p.port}${uri}`]);
      expect(r.status, r.stderr).to.equal(0);
      const line = webLog(lab).find((l) => l.split(' ')[1] === uri)?.split(' ') ?? [];
      expect(line, `nginx logged ${uri}`).to.not.be.empty;
      return { clientPort: Number(r.stdout), server: serverOf(lab, line[0]), answeredBy: line[line.length - 1] };
    }
    const script = `
      const { socksRequest, carrier } = require(${JSON.stringify(join(REPO, 'dist', 'test', 'lab', 'socks-client.js'))});
      socksRequest({ proxy: ${JSON.stringify(vip)}, dialect: ${JSON.stringify(p.dialect)}, host: ${JSON.stringify(host)}, port: ${p.port}, send: Buffer.from('ping\\n'), until: 'ping\\n' })
        .then((r) => console.log(JSON.stringify({ localPort: r.localPort, carrier: carrier(r.head) })))
        .catch((e) => { console.error(e.message); process.exit(1); });`;
    const r = inNs(lab.LAB_NS_CLIENT, process.execPath, ['-e', script]);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { localPort: number; carrier: string };
    return { clientPort: out.localPort, server: serverOf(lab, out.carrier), answeredBy: '' };
  }

  function replay(file: string, config: string): { connections: Row[]; notes: string[] } {
    const r = spawnSync(process.execPath, [CLI, 'replay', file, '--config', config, '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout);
  }

  const rowOf = (rows: Row[], live: Live) => {
    const row = rows.find((x) => x.client === `198.18.0.2:${live.clientPort}`);
    expect(row, `replay lists the connection from port ${live.clientPort}`).to.not.be.undefined;
    return row!;
  };

  let ethFile: string;
  let live: Live[];

  it('prints for each captured connection the ALP and the server the live appliance gave it (Ethernet and Linux cooked captures)', async function () {
    ethFile = join(work, 'c0.pcap');
    const anyFile = join(work, 'any.pcap');
    const eth = await startCapture('c0', ethFile);
    const any = await startCapture('any', anyFile); // Linux cooked v2 frames
    try {
      live = PLAN.map(connect);
    } finally {
      await new Promise((r) => setTimeout(r, 300)); // the last FINs into the capture
      await stopCapture(eth);
      await stopCapture(any);
    }
    // In the shipped configuration each ALP has one eligible server: nothing depends on round robin.
    expect(live.map((l) => l.server)).to.deep.equal(['sa', 'sa', 'sa', 'sa', 'sa', 'sb', 'sb', 'sb', 'sa']);
    const r = replay(ethFile, s.conf);
    const seen = `live client ports ${live.map((l) => l.clientPort).join(' ')}; replayed ${r.connections.map((x) => x.client).join(' ')}`;
    expect(r.connections, `the capture holds the test's connections and no other: ${seen}`).to.have.length(PLAN.length);
    PLAN.forEach((p, i) => {
      const row = rowOf(r.connections, live[i]);
      expect(row, `connection ${i} (${p.dialect} to port ${p.port})`).to.include({ outcome: 'server', alp: p.alp, server: live[i].server, dialect: p.shown, diverted: '' });
      expect(row.destination).to.equal(`${p.host === 'addr' ? s.lab.LAB_WEB_ADDR : s.lab.LAB_WEB_HOST}:${p.port}`);
    });
    expect(r.notes.join('\n')).to.not.match(/round robin/);
    // Timestamps differ by microseconds between the two captures; what replay decides does not.
    const decided = (rows: Row[]) => rows.map(({ client, destination, diverted, dialect, alp, server, outcome }) => ({ client, destination, diverted, dialect, alp, server, outcome }));
    expect(decided(replay(anyFile, s.conf).connections), 'the same from tcpdump -i any').to.deep.equal(decided(r.connections));
  });

  it('predicts from the same capture what an edited configuration does, and the live appliance does it after the reload', async function () {
    expect(ethFile, 'the capture of the first test').to.be.a('string');
    // The edit: HTTP to the web server's address diverted to the mirror; FTP moved from sb to sd.
    const edited = join(work, 'edited');
    spawnSync('cp', ['-r', s.conf, edited]);
    const edit = (dir: string) => {
      writeFileSync(join(dir, 'diverted.ini'), `[diverted]\n${s.lab.LAB_WEB_ADDR}:80 = ${s.lab.LAB_MIRROR_ADDR}\n`);
      editIni(join(dir, 'servers.ini'), { 'sb alps': 'gopher, telnet', 'sd alps': 'http, ssl, ftp' });
    };
    edit(edited);
    const predicted = replay(ethFile, edited).connections;
    const expected = PLAN.map((p) => ({
      server: p.alp === 'ftp' ? 'sd' : p.alp === 'http' || p.alp === 'ssl' ? 'sa' : 'sb',
      diverted: p.alp === 'http' && p.host === 'addr' && p.port === 80 ? `${s.lab.LAB_MIRROR_ADDR}:80` : '',
    }));
    PLAN.forEach((p, i) => expect(rowOf(predicted, live[i]), `replayed connection ${i}`).to.include({ alp: p.alp, ...expected[i] }));
    // Different from what the first configuration did: two diverted, FTP elsewhere.
    expect(predicted.filter((x) => x.diverted !== '')).to.have.length(2);

    // The same edit live: the same connections again go where replay said.
    edit(s.conf);
    const reload = spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'reload'], { encoding: 'utf8' });
    expect(reload.status, reload.stdout + reload.stderr).to.equal(0);
    const again = PLAN.map(connect);
    PLAN.forEach((p, i) => {
      const want = rowOf(predicted, live[i]);
      expect(again[i].server, `live connection ${i} (${p.alp})`).to.equal(want.server);
      if (p.tool === 'curl') expect(again[i].answeredBy, `live connection ${i}: the mirror answers the diverted ones`).to.equal(want.diverted !== '' ? s.lab.LAB_MIRROR_ADDR : s.lab.LAB_WEB_ADDR);
    });
  });

  it('predicts a server diversion (sa\'s address:port = sc\'s) as the live server leg applies it', function () {
    expect(ethFile, 'the capture of the first test').to.be.a('string');
    // On the second test's edit: HTTP and SSL, Server ALP Selection's sa, go to sc instead.
    const diverted = join(work, 'server-diversion');
    const edit = (dir: string) => writeFileSync(join(dir, 'diverted.ini'), `[diverted]\n${s.lab.LAB_SERVER_SA_SOCKS} = ${s.lab.LAB_SERVER_SC_SOCKS}\n`);
    spawnSync('cp', ['-r', s.conf, diverted]);
    edit(diverted);
    const predicted = replay(ethFile, diverted);
    PLAN.forEach((p, i) => {
      const web = p.alp === 'http' || p.alp === 'ssl';
      const want = { server: web ? 'sc' : p.alp === 'ftp' ? 'sd' : 'sb', divertedFrom: web ? 'sa' : '' };
      expect(rowOf(predicted.connections, live[i]), `replayed connection ${i} (${p.alp})`).to.include(want);
    });
    expect(predicted.notes.join('\n')).to.match(/^6 connection\(s\) were moved by a server diversion .*: sa -> sc 6$/m);

    edit(s.conf);
    const reload = spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'reload'], { encoding: 'utf8' });
    expect(reload.status, reload.stdout + reload.stderr).to.equal(0);
    const again = PLAN.map(connect);
    PLAN.forEach((p, i) => expect(again[i].server, `live connection ${i} (${p.alp})`).to.equal(rowOf(predicted.connections, live[i]).server));
  });
});
