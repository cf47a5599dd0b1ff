import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { steeredQueue } from '../../appliance/device/steering';
import { applianceForSuite } from '../lab/appliance-process';
import { curlSha256, inNs, REPO, useLab, webLog } from '../lab/lab';
import { spawn, spawnSync } from 'node:child_process';

const SOCKET = '/run/socksalp-test-workers/control.sock';
const INJECT = join(REPO, 'test', 'lab', 'inject.py');
/** The lab's client (c0 in its namespace). */
const CLIENT = '198.18.0.2';

interface WorkerRow { worker: number; connections: number; created: number; spliced: number; misrouted: number }
interface Status {
  connections: number;
  dispatcher: { spliced: number; misrouted: number; unknownServerSegments: number; resetsSent: number };
  workers: WorkerRow[];
}

/**
 * Two workers (appliance.ini workers = 2): each attaches its own queue of the TUN and of every
 * TAP, and the devices' steering program (device/steering.ts) gives each worker the client
 * ports and the server-leg ports that are its own. Seen from outside: downloads arrive intact,
 * both workers carry some, no segment lands on a worker that does not hold its connection, and
 * the control socket sums the two.
 */
describe('workers: two data-path workers on multi-queue devices', function () {
  this.timeout(180_000);
  const queues = (how: 'multi' | 'single') => {
    const r = spawnSync('bash', [join(REPO, 'test', 'lab', 'lab.sh'), 'queues', how], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`lab.sh queues ${how}: ${r.stderr}`);
  };
  // Multi-queue devices for this suite only: made before the appliance starts (hooks run in the
  // order they are registered), put back after it has stopped.
  before(function () {
    useLab();
    queues('multi');
  });
  const s = applianceForSuite(SOCKET, { 'appliance.ini': { workers: '2' } });
  after(function () {
    queues('single');
  });

  const status = async () => (await s.app.ask({ cmd: 'status' })).status as Status;

  it('carries 60 connections on both workers, each download intact, none on the wrong worker', async function () {
    const lab = s.lab;
    // The first 100,000 bytes of the lab's big file, as the web server has it.
    const part = createHash('sha256').update(readFileSync(join(lab.LAB_RUN, 'www', 'big.bin')).subarray(0, 100_000)).digest('hex');
    const before = await status();
    expect(before.workers.map((w) => w.worker)).to.deep.equal([0, 1]);
    // Linux's ephemeral ports for connect() are even; steering mixes them over both workers.
    const downloads = [];
    for (let i = 0; i < 60; i++) {
      const flag = ['--socks4', '--socks4a', '--socks5', '--socks5-hostname'][i % 4];
      const host = flag.includes('hostname') || flag === '--socks4a' ? lab.LAB_WEB_HOST : lab.LAB_WEB_ADDR;
      downloads.push(curlSha256(lab.LAB_NS_CLIENT, ['-r', '0-99999', flag, `${lab.LAB_VIP}:1080`, `http://${host}/big.bin`]));
      if (i % 8 === 7) await Promise.all(downloads.slice(i - 7));
    }
    const got = await Promise.all(downloads);
    for (const d of got) expect(d.sha256).to.equal(part);
    await new Promise((r) => setTimeout(r, 600)); // the other worker's report (every 250 ms)
    const after = await status();
    const spliced = after.workers.map((w, i) => w.spliced - before.workers[i].spliced);
    expect(spliced[0] + spliced[1]).to.equal(60);
    expect(spliced[0], 'connections the first worker carried').to.be.greaterThan(5);
    expect(spliced[1], 'connections the second worker carried').to.be.greaterThan(5);
    expect(after.dispatcher.spliced - before.dispatcher.spliced, 'the summed figure').to.equal(60);
    expect(after.dispatcher.misrouted, 'segments on a worker that does not hold their connection').to.equal(0);
    expect(after.workers.map((w) => w.misrouted)).to.deep.equal([0, 0]);
    expect(after.dispatcher.unknownServerSegments).to.equal(0);
  });

  it('keeps a large download on one worker from first byte to last', async function () {
    const lab = s.lab;
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5', `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
    expect((await status()).dispatcher.misrouted).to.equal(0);
  });

  it('hands a fragmented SYN over to the worker whose client port it is (fragments all reach the first worker)', async function () {
    const lab = s.lab;
    let port = 40001;
    while (steeredQueue(port, 2) !== 1) port++;
    const before = await status();
    // The SYN-ACK, seen on the client's link: the second worker accepted the connection.
    const seen = new Promise<string>((resolve) => {
      const p = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'python3', INJECT, 'next', 'c0', lab.LAB_VIP, '1080', CLIENT, String(port), '--timeout', '5']);
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.on('exit', (code) => resolve(code === 0 ? out.trim() : `no SYN-ACK (${code})`));
    });
    await new Promise((r) => setTimeout(r, 300));
    const sent = inNs(lab.LAB_NS_CLIENT, 'python3', [INJECT, 'send', CLIENT, String(port), lab.LAB_VIP, '1080', 'S', '1000', '--fragments']);
    expect(sent.status, sent.stderr).to.equal(0);
    expect(await seen, 'a SYN-ACK from the VIP to that port').to.match(/^\d+$/);
    await new Promise((r) => setTimeout(r, 600));
    const after = await status();
    expect(after.workers[0].misrouted - before.workers[0].misrouted, 'handed over by the first worker').to.equal(1);
    expect(after.workers[1].created - before.workers[1].created, 'accepted by the second').to.equal(1);
    expect(after.workers[0].created - before.workers[0].created).to.equal(0);
  });

  it('lists the connections of both workers in ctl conns, and applies a reload in both', async function () {
    const lab = s.lab;
    // Slow downloads stay open while the table is read: the whole big file (64 MiB) at 8 MB/s,
    // since the client's socket buffer takes a few megabytes at once whatever curl's rate.
    const slow = Array.from({ length: 8 }, () => curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '8M', '--socks5', `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]));
    let rows: { client: string; state: string }[] = [];
    let answer: Record<string, unknown> = {};
    for (let i = 0; i < 30 && rows.length < 8; i++) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await s.app.ask({ cmd: 'conns', limit: 100 });
      rows = (answer.rows as typeof rows).filter((r) => r.state === 'spliced');
    }
    if (rows.length !== 8) {
      const workers = JSON.stringify((await status()).workers);
      const done = await Promise.all(slow);
      throw new Error(`${rows.length} of 8 slow downloads listed as spliced: ${JSON.stringify(answer)}; workers: ${workers}; curl: ${JSON.stringify(done.map((d) => [d.status, d.bytes, d.stderr.trim()]))}`);
    }
    // Each row belongs to the worker its client port is steered to: eight rows, none more from
    // one worker than it holds, so both workers' shares are listed.
    const owners = rows.map((r) => steeredQueue(Number(r.client.split(':').pop()), 2));
    await new Promise((r) => setTimeout(r, 600)); // the other worker's report (every 250 ms)
    const st = await status();
    expect(st.workers[0].connections + st.workers[1].connections).to.be.at.least(8);
    for (const w of [0, 1]) {
      const listed = owners.filter((o) => o === w).length;
      expect(listed, `rows of worker ${w}`).to.be.at.most(st.workers[w].connections);
    }
    const list = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'ctl', '--socket', SOCKET, 'list'], { encoding: 'utf8' });
    expect(list.stdout).to.match(/; 2 workers: \d+ \+ \d+ connections, \d+ misrouted/);
    const reload = (await s.app.ask({ cmd: 'reload' })).reload as { ok: boolean };
    expect(reload.ok).to.equal(true);
    for (const d of await Promise.all(slow)) expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    await new Promise((r) => setTimeout(r, 300));
    expect(s.app.output).to.match(/worker 1: reload: configuration applied to new connections/);
    expect(webLog(lab).length).to.be.greaterThan(0);
    expect(inNs(lab.LAB_NS_APP, 'cat', ['/sys/class/net/alp0/tun_flags']).stdout.trim()).to.match(/^0x/);
  });
});
