import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchVia, inNs, REPO, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, dualStackCopy, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-replay6/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

interface Row { client: string; vip: string; destination: string; dialect: string; alp: string; server: string; outcome: string }

/**
 * `socksalp replay` on a tcpdump capture of IPv6 clients in the dual-stack lab: curl through the
 * IPv6 VIP to IPv4 and IPv6 destinations, carried by sf (HTTP) and sa (SSL, the lab's SOCKS
 * client); replay names each connection's client in brackets and the server the live
 * appliance chose, as the far side saw it; an Ethernet capture and a Linux cooked one agree.
 */
describe('replay: a tcpdump capture of IPv6 clients of the lab, replayed', function () {
  this.timeout(120_000);
  let lab: LabFacts;
  let conf = '';
  let work = '';
  let app: ApplianceProcess | undefined;
  const captures: ChildProcess[] = [];

  before(async function () {
    lab = useLab();
    work = mkdtempSync(join(tmpdir(), 'socksalp-replay6-lab-'));
    conf = dualStackCopy(lab, ['sf'], { 'appliance.ini': { control_socket: SOCKET } });
    editIni(join(conf, 'servers.ini'), { 'sf alps': 'http', 'sa alps': 'ssl' });
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  });
  after(async function () {
    for (const c of captures) if (c.exitCode === null) c.kill('SIGKILL');
    try {
      await app?.finish();
    } finally {
      if (conf) ApplianceProcess.cleanup(conf);
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && app) process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  /** tcpdump in the client's namespace (see replay.test.ts); resolves once it listens. */
  async function startCapture(iface: string, file: string): Promise<ChildProcess> {
    const c = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'tcpdump', '-i', iface, '-n', '--immediate-mode', '-U', '-s', '0', '-Z', 'root', '-w', file, 'tcp port 1080'], { stdio: ['ignore', 'ignore', 'pipe'] });
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

  function replay(file: string): { connections: Row[]; capture: { linkTypes: string[] } } {
    const r = spawnSync(process.execPath, [CLI, 'replay', file, '--config', conf, '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout);
  }

  it('lists each IPv6 client in brackets with the ALP and the server the live appliance gave it', async function () {
    const vip6 = `[${lab.LAB_VIP6}]:1080`;
    const ethFile = join(work, 'c0.pcap');
    const anyFile = join(work, 'any.pcap');
    const eth = await startCapture('c0', ethFile);
    const any = await startCapture('any', anyFile);
    /** Each connection by its client's ports: curl's from the range it was given, the SOCKS client's its own. */
    let live: { ports: [number, number]; destination: string; alp: string; server: string }[];
    try {
      const to6 = await fetchVia(lab, '--socks5', vip6, { path: '/hello.txt', host: `[${lab.LAB_WEB6}]:8080`, curl: ['--local-port', '46700-46749'] });
      const to4 = await fetchVia(lab, '--socks4a', vip6, { path: '/hello.txt', host: lab.LAB_WEB_HOST, curl: ['--local-port', '46750-46799'] });
      for (const d of [to6, to4]) expect(d.status, d.stderr).to.equal(0);
      expect([to6.carrier, to4.carrier], 'sf carried both, as nginx saw it').to.deep.equal([lab.LAB_SERVER_SF_EGRESS6, lab.LAB_SERVER_SF_EGRESS]);
      const script = `
        const { socksRequest } = require(${JSON.stringify(join(REPO, 'dist', 'test', 'lab', 'socks-client.js'))});
        socksRequest({ proxy: ${JSON.stringify(vip6)}, dialect: '5', host: ${JSON.stringify(lab.LAB_WEB_ADDR)}, port: 443, send: Buffer.from('ping\\n'), until: 'ping\\n' })
          .then((r) => console.log(r.localPort)).catch((e) => { console.error(e.message); process.exit(1); });`;
      const s = inNs(lab.LAB_NS_CLIENT, process.execPath, ['-e', script]);
      expect(s.status, s.stderr).to.equal(0);
      const sslPort = Number(s.stdout);
      live = [
        { ports: [46700, 46749], destination: `[${lab.LAB_WEB6}]:8080`, alp: 'http', server: 'sf' },
        { ports: [46750, 46799], destination: `${lab.LAB_WEB_HOST}:80`, alp: 'http', server: 'sf' },
        { ports: [sslPort, sslPort], destination: `${lab.LAB_WEB_ADDR}:443`, alp: 'ssl', server: 'sa' },
      ];
    } finally {
      await new Promise((r) => setTimeout(r, 300)); // the last FINs into the capture
      await stopCapture(eth);
      await stopCapture(any);
    }
    const r = replay(ethFile);
    expect(r.connections.map((c) => c.client), 'the test\'s connections and no other').to.have.length(3);
    for (const l of live) {
      const row = r.connections.find((c) => {
        const m = /^\[(.+)\]:(\d+)$/.exec(c.client);
        return m !== null && m[1] === lab.LAB_CLIENT6 && Number(m[2]) >= l.ports[0] && Number(m[2]) <= l.ports[1];
      });
      expect(row, `replay lists a connection from [${lab.LAB_CLIENT6}]:${l.ports.join('-')}`).to.not.equal(undefined);
      expect(row).to.include({ vip: lab.LAB_VIP6, destination: l.destination, alp: l.alp, server: l.server, outcome: 'server' });
    }
    const any6 = replay(anyFile);
    expect(any6.capture.linkTypes).to.deep.equal(['Linux cooked v2 (SLL2)']);
    const decided = (rows: Row[]) => rows.map(({ client, destination, dialect, alp, server }) => ({ client, destination, dialect, alp, server }));
    expect(decided(any6.connections), 'the same from tcpdump -i any').to.deep.equal(decided(r.connections));
  });
});
