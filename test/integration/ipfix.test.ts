import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVia, inNs, type LabFacts } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';
import { IpfixDecoder, ipv4, text, uint, type DecodedMessage } from '../lab/ipfix-decode';

const SOCKET = '/run/socksalp-test-ipfix/control.sock';
/** The collector: on the client's segment (the intranet), beside the appliance's 198.18.0.1. */
const COLLECTOR = '198.18.0.2';
const PORT = 4739;
/** A closed connection lingers 2 s (flow/context.ts LINGER) before its record, then waits up to 1 s for the flush. */
const DRAIN = 4000;
/**
 * A download that stays open: 24 MB at 4 MB/s. The receive buffers on the way take much of it
 * at once (curl's limit paces its reads, not the wire), but the connection lasts until curl
 * has read it all, 3 s or more: with interim = 1, one interim record at least, then the last.
 */
const SLOW_BYTES = 24_000_000;
const SLOW = (ports: string) => ['--local-port', ports, '--range', `0-${SLOW_BYTES - 1}`, '--limit-rate', '4000000'];

/** A process of the test's own in a lab namespace, killed by its pid (`ip netns exec` execs it). */
class NsProcess {
  readonly child: ChildProcess;
  output = '';
  exited: Promise<void>;
  constructor(ns: string, cmd: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await Promise.race([this.exited, sleep(5000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Waits for a UDP listener on COLLECTOR:PORT in `ns`. */
async function listening(ns: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = inNs(ns, 'ss', ['-Hlun', `src ${COLLECTOR} and sport = :${PORT}`]);
    if (r.stdout.trim() !== '') return;
    await sleep(100);
  }
  throw new Error(`nothing listens on udp ${COLLECTOR}:${PORT} in ${ns}`);
}

/** The server (servers.ini, as the lab names it) whose egress reached nginx, and its addresses. */
function serverOf(lab: LabFacts, carrier: string): { name: string; socks: string; local: string } {
  const name = lab.LAB_SERVERS.split(',').find((s) => lab[`LAB_SERVER_${s.toUpperCase()}_EGRESS`] === carrier);
  expect(name, `a lab server has egress ${carrier}`).to.be.a('string');
  const socks = lab[`LAB_SERVER_${name!.toUpperCase()}_SOCKS`].split(':')[0];
  return { name: name!, socks, local: socks.replace(/\.2$/, '.1') };
}

/** A UDP collector that prints every datagram as a line of hex (the test decodes them itself). */
const UDP_DUMP = `
const s = require('dgram').createSocket('udp4');
s.on('message', (m) => process.stdout.write(m.toString('hex') + '\\n'));
s.bind(Number(process.argv[2]), process.argv[1]);
`;

/**
 * IPFIX export seen from a real collector: nfdump's nfcapd receives the appliance's records
 * in the lab, and nfdump shows both legs and byte counts that match what curl downloaded;
 * then a plain UDP socket takes the datagrams and the test decodes what nfdump does not show
 * (flowEndReason, the enterprise elements, the sequence numbers); then no collector at all.
 */
describe('export: IPFIX records of the connections, read by nfcapd/nfdump and decoded', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    spawnSync('sh', ['-c', `printf '\\n[export]\\nipfix = ${COLLECTOR}:${PORT}\\ninterim = 1\\ntemplate_refresh = 2\\nobservation_domain = 13\\n' >> ${join(dir, 'appliance.ini')}`]);
  }, [/export: IPFIX to 198\.18\.0\.2:4739: ECONNREFUSED/]);
  const dirs: string[] = [];
  const procs: NsProcess[] = [];
  after(async function () {
    for (const p of procs) await p.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const via = () => `${s.lab.LAB_VIP}:1080`;

  it('nfdump shows the client leg, the server leg as NAT translation, and the bytes curl got; a slow download has interim records', async function () {
    const lab = s.lab;
    const dir = mkdtempSync(join(tmpdir(), 'socksalp-nfcapd-'));
    dirs.push(dir);
    const nfcapd = new NsProcess(lab.LAB_NS_CLIENT, 'nfcapd', ['-b', COLLECTOR, '-p', String(PORT), '-w', dir, '-t', '3600']);
    procs.push(nfcapd);
    await listening(lab.LAB_NS_CLIENT);
    await sleep(2500); // a template refresh: nfcapd reads nothing before it has the template
    const big = await fetchVia(lab, '--socks5-hostname', via(), { curl: ['--local-port', '46100-46199'] });
    expect(big.status, big.stderr).to.equal(0);
    expect(big.sha256).to.equal(lab.LAB_BIG_SHA256);
    const t0 = Date.now();
    const slow = await fetchVia(lab, '--socks5-hostname', via(), { curl: SLOW('46200-46299') });
    const took = Date.now() - t0;
    expect(slow.status, slow.stderr).to.equal(0);
    expect(slow.bytes).to.equal(SLOW_BYTES);
    await sleep(DRAIN);
    await nfcapd.stop(); // nfcapd writes its file out as it ends
    expect(nfcapd.child.exitCode, nfcapd.output).to.equal(0);
    expect(readdirSync(dir).length, 'nfcapd wrote a file').to.be.at.least(1);
    const r = spawnSync('nfdump', ['-R', dir, '-o', 'json', '-N'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    type Flow = Record<string, string | number>;
    const flows = JSON.parse(r.stdout) as Flow[];
    const of = (lo: number, hi: number) => flows.filter((f) => Number(f.src_port) >= lo && Number(f.src_port) <= hi);
    const sum = (fs: Flow[], k: string) => fs.reduce((n, f) => n + Number(f[k]), 0);

    for (const [d, fs] of [[big, of(46100, 46199)], [slow, of(46200, 46299)]] as const) {
      expect(fs.length, 'records of the download').to.be.at.least(1);
      const server = serverOf(lab, d.carrier);
      for (const f of fs) {
        expect([f.src4_addr, f.dst4_addr, f.dst_port, f.proto]).to.deep.equal(['198.18.0.2', lab.LAB_VIP, 1080, 6]);
        expect([f.src4_xlt_ip, f.dst4_xlt_ip, f.dst_xlt_port], 'the server leg').to.deep.equal([server.local, server.socks, '1080']);
        expect(Number(f.src_xlt_port)).to.be.within(1024, 65535);
      }
      expect(new Set(fs.map((f) => f.src_port)).size, 'one connection').to.equal(1);
      // IP octets from the server: the body and the HTTP and SOCKS headers, plus 40-52 bytes a segment.
      const down = sum(fs, 'out_bytes');
      expect(down, 'octets from the server').to.be.at.least(d.bytes);
      expect(down).to.be.below(d.bytes * 1.05 + 4096);
      expect(sum(fs, 'in_bytes'), 'octets from the client: the request and the ACKs').to.be.above(200).and.below(d.bytes * 0.05 + 4096);
      expect(sum(fs, 'in_packets')).to.be.above(2);
      expect(sum(fs, 'out_packets')).to.be.at.least(Math.floor(d.bytes / 65535));
    }
    const slowFlows = of(46200, 46299);
    expect(slowFlows.length, `a download open ${took} ms with interim = 1: an interim record and the last one`).to.be.at.least(2);
  });

  it('the datagrams decoded: the template, flowEndReason, the appliance\'s elements, sequence numbers', async function () {
    const lab = s.lab;
    const dump = new NsProcess(lab.LAB_NS_CLIENT, process.execPath, ['-e', UDP_DUMP, COLLECTOR, String(PORT)]);
    procs.push(dump);
    await listening(lab.LAB_NS_CLIENT);
    const started = Date.now();
    await sleep(2500);
    const small = await fetchVia(lab, '--socks5-hostname', via(), { path: '/hello.txt', curl: ['--local-port', '46300-46399'] });
    expect(small.status, small.stderr).to.equal(0);
    const slow = await fetchVia(lab, '--socks5-hostname', via(), { curl: SLOW('46400-46499') });
    expect(slow.status, slow.stderr).to.equal(0);
    await sleep(DRAIN);
    await dump.stop();
    const ended = Date.now();
    const decoder = new IpfixDecoder();
    const messages: DecodedMessage[] = dump.output.split('\n').filter(Boolean).map((h) => decoder.decode(Buffer.from(h, 'hex')));
    expect(messages.length).to.be.at.least(3);
    expect(messages.every((m) => m.domain === 13 && m.version === 10)).to.equal(true);
    expect(messages.filter((m) => m.templates.length > 0).length, 'the template, every 2 s').to.be.at.least(2);
    // Nothing lost on the lab's segment: each message's sequence is the last one's plus its records.
    const first = messages.findIndex((m) => m.templates.length > 0);
    const data = messages.slice(first).filter((m) => m.records.length > 0);
    expect(data.every((m) => m.unknownSets === 0)).to.equal(true);
    for (let i = 1; i < data.length; i++) expect(data[i].sequence, `message ${i}`).to.equal(data[i - 1].sequence + data[i - 1].records.length);
    const records = messages.flatMap((m) => m.records);
    const ofPort = (lo: number, hi: number) => records.filter((r) => uint(r.get('0/7')) >= lo && uint(r.get('0/7')) <= hi);

    const [hello] = ofPort(46300, 46399);
    expect(hello, 'the small download\'s record').to.not.equal(undefined);
    const server = serverOf(lab, small.carrier);
    expect([ipv4(hello.get('0/8')), ipv4(hello.get('0/12')), uint(hello.get('0/11')), uint(hello.get('0/4'))]).to.deep.equal(['198.18.0.2', lab.LAB_VIP, 1080, 6]);
    expect([ipv4(hello.get('0/225')), ipv4(hello.get('0/226')), uint(hello.get('0/228'))]).to.deep.equal([server.local, server.socks, 1080]);
    expect(uint(hello.get('29305/1'))).to.be.at.least(small.bytes + 200);
    expect(uint(hello.get('0/136')), 'flowEndReason: end of flow detected').to.equal(3);
    const [start, end] = [uint(hello.get('0/152')), uint(hello.get('0/153'))];
    expect(start).to.be.within(started, ended);
    expect(end).to.be.within(start, ended);
    expect(uint(hello.get('0/6')) & 0x13, 'SYN, ACK and FIN from the client').to.equal(0x13);
    expect(uint(hello.get('29305/6')) & 0x12, 'SYN and ACK from the server').to.equal(0x12);
    expect(hello.has('0/25') || hello.has('0/26'), 'no forward-only length range (RFC 5103 6.1): the range is both directions\'').to.equal(false);
    expect(uint(hello.get('32473/13')), 'smallest datagram, either way').to.be.within(40, 60);
    expect(uint(hello.get('32473/14')), 'largest datagram, either way').to.be.within(100, 1500);
    expect([text(hello.get('32473/9')), uint(hello.get('32473/1')), text(hello.get('32473/10'))]).to.deep.equal(['http', 7, server.name]);
    expect(text(hello.get('32473/11')), 'what the client asked').to.equal(`${lab.LAB_WEB_ADDR}:80`);
    expect(text(hello.get('32473/12')), 'not diverted').to.equal('');
    const handshake = uint(hello.get('32473/2'));
    expect(handshake, 'server leg SYN to SYN-ACK, µs').to.be.within(1, 1_000_000);
    expect(uint(hello.get('32473/3')), 'to the SOCKS reply, after the SYN-ACK').to.be.within(handshake, 2_000_000);
    expect(uint(hello.get('32473/8')), 'EndReason fin').to.equal(1);

    const slowRecords = ofPort(46400, 46499);
    const reasons = slowRecords.map((r) => uint(r.get('0/136')));
    expect(reasons.slice(0, -1).every((v) => v === 2), 'interim records: active timeout').to.equal(true);
    expect(reasons.length).to.be.at.least(2);
    expect(reasons.at(-1)).to.equal(3);
    const down = slowRecords.reduce((n, r) => n + uint(r.get('29305/1')), 0);
    expect(down, 'the deltas add up to the download').to.be.within(slow.bytes, slow.bytes * 1.05 + 4096);
    const rtt = uint(slowRecords.at(-1)!.get('32473/5'));
    expect(rtt, 'an RTT on the server leg').to.be.within(1, 1_000_000);
  });

  it('with no collector: ICMP unreachable counted and logged once, and downloads go on', async function () {
    const lab = s.lab;
    const d = await fetchVia(lab, '--socks5-hostname', via(), { path: '/hello.txt' });
    expect(d.status, d.stderr).to.equal(0);
    await sleep(3000); // the flush and a template refresh: two messages to a port nobody listens on
    const again = await fetchVia(lab, '--socks5-hostname', via(), { path: '/hello.txt' });
    expect(again.status, again.stderr).to.equal(0);
    await sleep(DRAIN);
    const st = (await s.app.ask({ cmd: 'status' })).status as { export: Record<string, number | string> };
    expect(st.export).to.include({ collector: `${COLLECTOR}:${PORT}`, observationDomain: 13 });
    expect(st.export.errors as number).to.be.at.least(1);
    expect(st.export.lastError).to.equal('ECONNREFUSED');
    expect(st.export.records as number).to.be.at.least(4);
    expect(s.app.output.match(/export: IPFIX to 198\.18\.0\.2:4739: ECONNREFUSED/g), 'logged once').to.have.length(1);
  });
});
