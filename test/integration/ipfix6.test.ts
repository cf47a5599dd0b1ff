import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVia, inNs, REPO, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, dualStackCopy, editIni } from '../lab/appliance-process';
import { IpfixDecoder, ipv4, ipv6, uint, type DecodedMessage } from '../lab/ipfix-decode';

const SOCKET = '/run/socksalp-test-ipfix6/control.sock';
/** The collector: on the client's segment, as in ipfix.test.ts (the exporter's collector is IPv4). */
const COLLECTOR = '198.18.0.2';
const PORT = 4739;
/** A closed connection lingers 2 s before its record, which then waits up to 1 s for the flush. */
const DRAIN = 4000;

/** A UDP collector that prints every datagram as a line of hex. */
const UDP_DUMP = `
const s = require('dgram').createSocket('udp4');
s.on('message', (m) => process.stdout.write(m.toString('hex') + '\\n'));
s.bind(Number(process.argv[2]), process.argv[1]);
`;

/**
 * IPFIX of the dual-stack lab: HTTP carried by sf (the IPv6-only segment), SSL by sa (IPv4),
 * from the client's IPv6 and IPv4 addresses through the VIP of each family; the records'
 * Templates and addresses as the collector decodes them, leg by leg.
 */
describe('export: IPFIX records of IPv6 legs in the dual-stack lab', function () {
  this.timeout(120_000);
  let lab: LabFacts;
  let conf = '';
  let app: ApplianceProcess | undefined;
  let dump: ChildProcess | undefined;
  let dumped = '';

  before(async function () {
    lab = useLab();
    conf = dualStackCopy(lab, ['sf'], { 'appliance.ini': { control_socket: SOCKET } });
    editIni(join(conf, 'servers.ini'), { 'sf alps': 'http', 'sa alps': 'ssl' });
    appendFileSync(join(conf, 'appliance.ini'), `\n[export]\nipfix = ${COLLECTOR}:${PORT}\ninterim = 60\ntemplate_refresh = 2\n`);
    dump = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, process.execPath, '-e', UDP_DUMP, COLLECTOR, String(PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    dump.stdout!.on('data', (b: Buffer) => (dumped += b));
    for (let i = 0; i < 50 && inNs(lab.LAB_NS_CLIENT, 'ss', ['-Hlun', `sport = :${PORT}`]).stdout.trim() === ''; i++) await sleep(100);
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  });
  after(async function () {
    try {
      await app?.finish();
    } finally {
      if (dump && dump.exitCode === null) {
        const exited = new Promise((r) => dump!.once('exit', r));
        dump.kill('SIGTERM');
        await exited;
      }
      if (conf) ApplianceProcess.cleanup(conf);
    }
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && app) process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  /** SSL (the lab's service on 443) through `proxy`: the client's port. */
  function ssl(proxy: string): number {
    const script = `
      const { socksRequest } = require(${JSON.stringify(join(REPO, 'dist', 'test', 'lab', 'socks-client.js'))});
      socksRequest({ proxy: ${JSON.stringify(proxy)}, dialect: '5', host: ${JSON.stringify(lab.LAB_WEB_ADDR)}, port: 443, send: Buffer.from('ping\\n'), until: 'ping\\n' })
        .then((r) => console.log(r.localPort)).catch((e) => { console.error(e.message); process.exit(1); });`;
    const r = inNs(lab.LAB_NS_CLIENT, process.execPath, ['-e', script]);
    expect(r.status, r.stderr).to.equal(0);
    return Number(r.stdout);
  }

  it('sends each connection with the Template of its legs\' families, the IPv6 addresses in their elements', async function () {
    const vip6 = `[${lab.LAB_VIP6}]:1080`;
    const vip4 = `${lab.LAB_VIP}:1080`;
    await sleep(2500); // a template refresh into the dump
    const six = await fetchVia(lab, '--socks5-hostname', vip6, { path: '/hello.txt', curl: ['--local-port', '46500-46599'] });
    const four = await fetchVia(lab, '--socks5-hostname', vip4, { path: '/hello.txt', curl: ['--local-port', '46600-46699'] });
    for (const d of [six, four]) {
      expect(d.status, d.stderr).to.equal(0);
      expect(d.carrier, 'sf carried HTTP').to.equal(lab.LAB_SERVER_SF_EGRESS);
    }
    const sslPort = ssl(vip6);
    await sleep(DRAIN);
    const decoder = new IpfixDecoder();
    const messages: DecodedMessage[] = dumped.split('\n').filter(Boolean).map((h) => decoder.decode(Buffer.from(h, 'hex')));
    expect(messages.some((m) => m.templates.join() === '256,257,258,259'), 'the four templates').to.equal(true);
    const records = messages.flatMap((m) => m.records.map((r, i) => ({ r, template: m.recordTemplates[i] })));
    const byPort = (lo: number, hi: number) => records.filter(({ r }) => {
      const p = uint(r.get('0/7'));
      return p >= lo && p <= hi;
    });
    const local6 = lab.LAB_SERVER_SF_LOCAL6.split('/')[0];
    const [a] = byPort(46500, 46599);
    expect(a, 'the IPv6 client\'s HTTP record').to.not.equal(undefined);
    expect(a.template, 'IPv6 client, IPv6 server').to.equal(259);
    expect([ipv6(a.r.get('0/27')), ipv6(a.r.get('0/28')), uint(a.r.get('0/11'))]).to.deep.equal([lab.LAB_CLIENT6, lab.LAB_VIP6, 1080]);
    expect([ipv6(a.r.get('0/281')), ipv6(a.r.get('0/282')), uint(a.r.get('0/228'))]).to.deep.equal([local6, lab.LAB_SERVER_SF_ADDRESS6, 1080]);
    expect(uint(a.r.get('29305/1')), 'octets from the server').to.be.at.least(six.bytes);
    const [b] = byPort(46600, 46699);
    expect(b.template, 'IPv4 client, IPv6 server').to.equal(258);
    expect([ipv4(b.r.get('0/8')), ipv4(b.r.get('0/12'))]).to.deep.equal([COLLECTOR, lab.LAB_VIP]);
    expect([ipv6(b.r.get('0/281')), ipv6(b.r.get('0/282'))]).to.deep.equal([local6, lab.LAB_SERVER_SF_ADDRESS6]);
    const [c] = byPort(sslPort, sslPort);
    expect(c.template, 'IPv6 client, IPv4 server').to.equal(257);
    expect([ipv6(c.r.get('0/27')), ipv6(c.r.get('0/28'))]).to.deep.equal([lab.LAB_CLIENT6, lab.LAB_VIP6]);
    expect([ipv4(c.r.get('0/225')), ipv4(c.r.get('0/226'))]).to.deep.equal([lab.LAB_SERVER_SA_LOCAL.split('/')[0], lab.LAB_SERVER_SA_ADDRESS]);
  });
});
