import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { controlRequest } from '../../appliance/control/client';
import type { ConnRow, ServerRow } from '../../appliance/control/snapshot';
import { applianceForSuite } from '../lab/appliance-process';
import { curlSha256, inNs } from '../lab/lab';

const SOCKET = '/run/socksalp-test-stats/control.sock';
/** The appliance namespace's link towards the client: its queue is where the test makes delay. */
const TO_CLIENT = 'intra0';

/** A token bucket on `dev` (this kernel has no netem): its queue delays, and its limit drops. */
function shape(ns: string, dev: string, spec: string[] | undefined): void {
  if (spec === undefined) spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']);
  else expect(inNs(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', ...spec]).stderr).to.equal('');
}

/** The kernel's own smoothed RTT of its TCP connections to `peer` (ss -ti), in ms. */
function kernelRtt(ns: string, peer: string): number[] {
  const out = inNs(ns, 'ss', ['-tin', 'dst', peer]).stdout;
  return [...out.matchAll(/\brtt:([\d.]+)\//g)].map((m) => Number(m[1]));
}

/** Polls the connection table until `pick` finds a row, for at most `ms`. */
async function waitRow(pick: (rows: ConnRow[]) => ConnRow | undefined, sort: string, ms = 15_000): Promise<ConnRow | undefined> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    const a = await controlRequest(SOCKET, { cmd: 'conns', sort, limit: 10, offset: 0, filter: '' });
    const row = pick(a.rows as ConnRow[]);
    if (row) return row;
  }
  return undefined;
}

/**
 * The per-connection statistics seen from outside: a queue put on the client's link with tc
 * shows in the client leg's round trip; what the appliance says the two legs take adds up to
 * what the SOCKS server's own kernel measures (the splice passes ACKs through, so Linux at the
 * server sees both legs as one path); the drops of a short queue show as retransmissions.
 */
describe('stats: latency and round trips per connection, against Linux on the same traffic', function () {
  this.timeout(120_000);
  // HTTP only through sa, so that the kernel asked is the one that carried it.
  const s = applianceForSuite(SOCKET, { 'servers.ini': { 'sc alps': 'ftp', 'sd alps': 'ftp' } });

  after(function () {
    if (s.lab) shape(s.lab.LAB_NS_APP, TO_CLIENT, undefined);
  });

  it('shows a download\'s latencies in ctl conns, sorted by round trip, and sums its legs as the server\'s kernel does', async function () {
    const lab = s.lab;
    // 16 Mbit/s with up to 40 ms of queue: a download keeps the queue full.
    shape(lab.LAB_NS_APP, TO_CLIENT, ['rate', '16mbit', 'burst', '16kb', 'latency', '40ms']);
    const download = curlSha256(lab.LAB_NS_CLIENT, ['-r', '0-9999999', '--socks5', `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    const row = await waitRow((rows) => rows.find((x) => x.state === 'spliced' && x.server === 'sa' && x.bytesOut > 2_000_000), 'rtt');
    expect(row, 'the download in ctl conns').to.not.equal(undefined);
    // Both smoothed estimates move with the queue: compare their medians over a few readings.
    const ours: number[] = [];
    const linux: number[] = [];
    let r = row!;
    for (let i = 0; i < 9; i++) {
      const again = await waitRow((rows) => rows.find((x) => x.client === row!.client), 'rtt', 2000);
      const k = kernelRtt(lab.LAB_SERVER_SA_NS, '198.19.1.1');
      if (!again || k.length === 0) break;
      r = again;
      ours.push(r.rttClientMs + r.rttServerMs);
      linux.push(Math.max(...k));
    }
    const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
    expect(ours.length, 'readings taken while the download ran').to.be.at.least(3);
    expect(r.handshakeMs).to.be.within(0.005, 20);
    expect(r.replyMs).to.be.at.least(r.handshakeMs);
    expect(r.rttClientMs, 'the queue towards the client (unshaped, the lab\'s round trip is under 1 ms)').to.be.within(3, 60);
    expect(r.rttServerMs).to.be.within(0.005, 5);
    expect(r.throughput).to.be.within(1e6, 3e6); // 2 MB/s, counted with headers both ways
    expect(r.maxLength).to.be.at.least(1400);
    const sum = median(ours);
    const kernel = median(linux);
    console.log(`      round trip client leg + server leg: appliance ${sum.toFixed(2)} ms, sa's kernel (ss -ti) ${kernel.toFixed(2)} ms (medians of ${ours.length})`);
    // Each reading swings with the queue (10-45 ms here); the medians agree within about a quarter.
    expect(sum / kernel, `appliance ${ours.join(', ')} ms, sa's kernel ${linux.join(', ')} ms`).to.be.within(0.6, 1.6);
    const d = await download;
    expect([d.status, d.bytes]).to.deep.equal([0, 10_000_000]);
    // Its minute shows in the server's figures.
    const servers = (await controlRequest(SOCKET, { cmd: 'servers' })).servers as ServerRow[];
    const sa = servers.find((x) => x.name === 'sa')!;
    expect(sa.load.connectionsPerSecond).to.be.above(0);
    // One connection in the window: its percentiles are its own latency, within a bin's width.
    expect(sa.load.replyP50, JSON.stringify(r)).to.be.closeTo(r.replyMs, r.replyMs * 0.1);
    expect(sa.load.handshakeP99).to.be.closeTo(r.handshakeMs, r.handshakeMs * 0.1);
    expect(sa.load.bytesPerSecond).to.be.above(100_000);
    const ctl = spawnSync(process.execPath, ['dist/appliance/cli/index.js', 'ctl', '--socket', SOCKET, 'list'], { encoding: 'utf8' });
    expect(ctl.stdout).to.match(/ReplyP99/);
  });

  it('counts the retransmissions a short queue\'s drops force on the server', async function () {
    const lab = s.lab;
    shape(lab.LAB_NS_APP, TO_CLIENT, ['rate', '16mbit', 'burst', '4kb', 'limit', '6kb']);
    const child = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'curl', '-sS', '-o', '/dev/null', '--max-time', '30', '--socks5', `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    try {
      const row = await waitRow((rows) => rows.find((x) => x.retransOut > 0), 'retrans');
      expect(row, 'a connection with retransmissions').to.not.equal(undefined);
      expect(row!.retransIn).to.equal(0); // the client lost nothing it sent
      const drops = inNs(lab.LAB_NS_APP, 'tc', ['-s', 'qdisc', 'show', 'dev', TO_CLIENT]).stdout;
      expect(Number(/dropped (\d+)/.exec(drops)?.[1] ?? 0), drops).to.be.above(0);
    } finally {
      child.kill();
    }
  });
});
