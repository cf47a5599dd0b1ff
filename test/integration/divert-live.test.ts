import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { curlSha256, inNs, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-divert-live/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const ctl = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, ...args], { encoding: 'utf8' });

/** A UDP client in the client's namespace: one datagram every 200 ms to ADDR:PORT; prints "from text" per reply. */
const UDP_CLIENT = `
const s = require('dgram').createSocket('udp4');
const [addr, port] = process.argv.slice(1);
s.on('message', (m, r) => process.stdout.write(r.address + ':' + r.port + ' ' + m.toString().trim() + '\\n'));
s.bind(0, () => { const t = setInterval(() => s.send('ping', Number(port), addr), 200); setTimeout(() => { clearInterval(t); s.close(); }, 60000); });
`;

/** One DNS query with fixed bytes (ID 0x5a17, RD), its answer's bytes in hex or "timeout". */
const DNS_ASK = `
const [server, name, type] = process.argv.slice(1);
const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const q = Buffer.concat([Buffer.from([0x5a, 0x17, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, Number(type), 0, 1])]);
const s = require('dgram').createSocket('udp4');
const t = setTimeout(() => { process.stdout.write('timeout\\n'); s.close(); }, 3000);
s.on('message', (m) => { clearTimeout(t); process.stdout.write(m.toString('hex') + '\\n'); s.close(); });
s.send(q, 53, server);
`;

function ask(ns: string, server: string, name: string, type = 1): string {
  const r = inNs(ns, process.execPath, ['-e', DNS_ASK, server, name, String(type)]);
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.trim();
}

/** The UDP client's replies so far, and a way to wait for the next ones. */
class UdpFlow {
  readonly replies: string[] = [];
  private readonly child: ChildProcess;
  constructor(lab: LabFacts, addr: string, port: string) {
    this.child = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, process.execPath, '-e', UDP_CLIENT, addr, port], { stdio: ['ignore', 'pipe', 'ignore'] });
    let rest = '';
    this.child.stdout!.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop()!;
      this.replies.push(...lines);
    });
  }

  /** Waits for `n` more replies; returns them. */
  async next(n: number): Promise<string[]> {
    const from = this.replies.length;
    for (let i = 0; i < 100 && this.replies.length < from + n; i++) await sleep(100);
    expect(this.replies.length, 'replies keep coming').to.be.at.least(from + n);
    return this.replies.slice(from, from + n);
  }

  stop(): void {
    this.child.kill();
  }
}

/**
 * Live traffic under the diverted-address table, seen from outside: a UDP flow through
 * [routes] moved between the mirrors while the client sees one address; spliced SOCKS
 * connections reset by `move`, whose retry lands on the mirror; and DNS through the appliance,
 * whose diverted names it answers itself (the enhanced name server, figure 5).
 */
describe('divert: live traffic (move, current connections, the enhanced name server)', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET);

  it('move on a UDP flow through [routes]: every reply comes from the original while the answering mirror changes', async function () {
    const lab = s.lab;
    const original = `${lab.LAB_WEB_ADDR}:${lab.LAB_UDP_PORT}`;
    const flow = new UdpFlow(lab, lab.LAB_WEB_ADDR, lab.LAB_UDP_PORT);
    try {
      const fromOriginal = (rs: string[], mirror: string) => rs.every((r) => r === `${original} mirror ${mirror}`);
      expect(fromOriginal(await flow.next(3), lab.LAB_WEB_ADDR), 'routed as ever').to.equal(true);
      let r = ctl('divert', 'add', original, lab.LAB_MIRROR_ADDR, '--mode', 'move');
      expect(r.status, r.stderr).to.equal(0);
      await flow.next(2); // one may have been under way
      expect(fromOriginal(await flow.next(4), lab.LAB_MIRROR_ADDR), `diverted: ${flow.replies.slice(-4)}`).to.equal(true);
      const flows = ctl('flows');
      expect(flows.stdout).to.match(new RegExp(`udp\\s+198\\.18\\.0\\.2:\\d+\\s+${original.replace(/\./g, '\\.')}\\s+203\\.0\\.113\\.81:${lab.LAB_UDP_PORT}\\s+198\\.19\\.1\\.1:\\d+\\s+replied`));
      // drain: the flow keeps its row, so its mirror, after the entry goes.
      r = ctl('divert', 'remove', original);
      expect(r.status, r.stderr).to.equal(0);
      expect(fromOriginal(await flow.next(4), lab.LAB_MIRROR_ADDR), 'drained: still the mirror').to.equal(true);
      // move: the row goes with the entry; the next datagram is routed to the original again.
      expect(ctl('divert', 'add', original, lab.LAB_MIRROR_ADDR).status).to.equal(0);
      r = ctl('divert', 'remove', original, '--mode', 'move');
      expect(r.stdout).to.match(/1 released to their route/);
      await flow.next(2);
      expect(fromOriginal(await flow.next(4), lab.LAB_WEB_ADDR), `moved back: ${flow.replies.slice(-4)}`).to.equal(true);
    } finally {
      flow.stop();
    }
    expect(JSON.parse(ctl('status').stdout).diversion.returned).to.be.above(4);
  });

  it('move on spliced SOCKS connections: both legs are reset, the server sees its end, the retry lands on the mirror', async function () {
    const lab = s.lab;
    const url = `http://${lab.LAB_WEB_ADDR}/big.bin`;
    const before = webLog(lab).length;
    const slow = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '2M', '--socks5', `${lab.LAB_VIP}:1080`, url]);
    await sleep(1500);
    const r = ctl('divert', 'add', `${lab.LAB_WEB_ADDR}:80`, lab.LAB_MIRROR_ADDR, '--mode', 'move');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1 SOCKS connection\(s\) reset/);
    const cut = await slow;
    // A RST, not a FIN: curl says the peer reset it, at once, not after its 60 s limit.
    expect(cut.status, cut.stderr).to.equal(56);
    expect(cut.stderr).to.match(/reset by peer/i);
    expect(cut.bytes).to.be.below(statSync(join(lab.LAB_RUN, 'www', 'big.bin')).size);
    // nginx logged the cut request soon: the SOCKS server's leg was reset too, not left open.
    let served: string[] = [];
    for (let i = 0; i < 50 && served.length === 0; i++) {
      await sleep(100);
      served = webLog(lab).slice(before);
    }
    expect(served, 'the original request ended on the server side').to.have.length(1);
    expect(served[0].split(' ').pop()).to.equal(lab.LAB_WEB_ADDR);
    const retry = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5', `${lab.LAB_VIP}:1080`, url]);
    expect(retry.sha256, retry.stderr).to.equal(lab.LAB_BIG_SHA256);
    expect(webLog(lab).slice(before + 1).map((l) => l.split(' ').pop())).to.deep.equal([lab.LAB_MIRROR_ADDR]);
    expect(JSON.parse(ctl('status').stdout).dispatcher.movedReset).to.equal(1);
    expect(ctl('divert', 'remove', `${lab.LAB_WEB_ADDR}:80`).status).to.equal(0);
  });

  it('DNS through the appliance: diverted names get the diverted address, other names the server\'s answer byte for byte', function () {
    const lab = s.lab;
    const dns = lab.LAB_DNS_ADDR;
    const direct = (name: string, type = 1) => ask(lab.LAB_NS_INET, dns, name, type);
    const client = (name: string, type = 1) => ask(lab.LAB_NS_CLIENT, dns, name, type);
    const names = [`web.${lab.LAB_DNS_ZONE}`, `mirror.${lab.LAB_DNS_ZONE}`, `www.${lab.LAB_DNS_ZONE}`, `nowhere.${lab.LAB_DNS_ZONE}`];
    // Nothing diverted: every answer passes unchanged.
    for (const n of names) expect(client(n), n).to.equal(direct(n));
    expect(ctl('divert', 'add', `web.${lab.LAB_DNS_ZONE}`, lab.LAB_MIRROR_ADDR).status).to.equal(0);
    try {
      const dig = inNs(lab.LAB_NS_CLIENT, 'dig', ['+norecurse', '+noall', '+answer', '+comments', `@${dns}`, `web.${lab.LAB_DNS_ZONE}`, 'A']);
      expect(dig.status, dig.stderr).to.equal(0);
      expect(dig.stdout).to.match(new RegExp(`^web\\.socksalp\\.test\\.\\s+30\\s+IN\\s+A\\s+${lab.LAB_MIRROR_ADDR.replace(/\./g, '\\.')}$`, 'm'));
      expect(dig.stdout).to.match(/status: NOERROR, id: \d+/);
      expect(dig.stdout).to.match(/flags: qr aa;/);
      // With EDNS (dig's default), the answer carries an OPT record too.
      expect(inNs(lab.LAB_NS_CLIENT, 'dig', ['+short', `@${dns}`, `WEB.SocksAlp.Test`]).stdout.trim()).to.equal(lab.LAB_MIRROR_ADDR);
      const aaaa = inNs(lab.LAB_NS_CLIENT, 'dig', ['+noall', '+comments', '+answer', `@${dns}`, `web.${lab.LAB_DNS_ZONE}`, 'AAAA']).stdout;
      expect(aaaa).to.match(/status: NOERROR/).and.to.match(/ANSWER: 0,/);
      for (const n of names.slice(1)) expect(client(n), n).to.equal(direct(n));
    } finally {
      expect(ctl('divert', 'remove', `web.${lab.LAB_DNS_ZONE}`).status).to.equal(0);
    }
    expect(client(names[0])).to.equal(direct(names[0]));
    const st = JSON.parse(ctl('status').stdout).diversion.nameServer;
    expect(st.answered).to.equal(2);
    expect(st.nodata).to.equal(1);
  });
});
