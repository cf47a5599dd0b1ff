import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVia, REPO, type LabFacts } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-monitor-auto/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const KEY = 'monitor-auto-key-for-the-lab-0123456789';
const HOLD_DOWN = 8;

/** Milliseconds of every cycle that sa's processes are stopped, and the cycle. */
const STOPPED_MS = 300;
const CYCLE_MS = 400;

/**
 * Slows a SOCKS server down however little it serves: its namespace's processes are stopped
 * STOPPED_MS of every CYCLE_MS (a CPU cap; the lab's kernel has no netem qdisc to delay its
 * link). Its kernel still answers SYNs: the SOCKS exchanges, hence the reply and the check, slow.
 */
class Throttle {
  private on = false;
  private loop: Promise<void> | undefined;
  private readonly stopped = new Set<number>();
  private readonly release = () => this.cont();

  constructor(private readonly ns: string) {}

  start(): void {
    this.on = true;
    process.once('exit', this.release);
    this.loop = (async () => {
      while (this.on) {
        const pids = (spawnSync('ip', ['netns', 'pids', this.ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean).map(Number);
        for (const p of pids) this.signal(p, 'SIGSTOP');
        await sleep(STOPPED_MS);
        this.cont();
        await sleep(CYCLE_MS - STOPPED_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.on = false;
    await this.loop;
    this.cont();
    process.removeListener('exit', this.release);
  }

  private cont(): void {
    for (const p of this.stopped) this.signal(p, 'SIGCONT');
  }

  private signal(pid: number, sig: 'SIGSTOP' | 'SIGCONT'): void {
    try {
      process.kill(pid, sig);
      if (sig === 'SIGSTOP') this.stopped.add(pid);
      else this.stopped.delete(pid);
    } catch {
      this.stopped.delete(pid); // gone
    }
  }
}

interface Fetch { at: number; carrier: string; status: number | null }

/**
 * The network monitor (`socksalp monitor`, the network-management patent's monitor 125) in the
 * lab: a process of its own in the client namespace, watching the appliance over its monitor
 * channel. While small downloads run through the VIP, sa (the HTTP server) is slowed down; the
 * monitor diverts sa's new connections to sc, seen from nginx's log (the SOCKS server's egress
 * address carried each request), and back once sa is fast again for hold_down.
 */
describe('monitor: socksalp monitor diverts from a slow server and back', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    appendFileSync(join(dir, 'appliance.ini'), '\n[monitor]\nlisten = 198.18.0.1:2130\nkey_file = monitor.key\n');
    writeFileSync(join(dir, 'monitor.key'), KEY + '\n', { mode: 0o600 });
    // A check through sa: the live latency that says when it recovered while it gets no new connections.
    const servers = join(dir, 'servers.ini');
    writeFileSync(servers, readFileSync(servers, 'utf8').replace('[sa]\n', '[sa]\ncheck = 203.0.113.80:80\ncheck_interval = 1\ncheck_timeout = 3\n'));
    writeFileSync(join(dir, 'monitor.ini'), [
      '[policy]', 'interval = 1', 'polls = 3', 'latency = reply', 'latency_p99_ms = 200', 'recover_latency_p99_ms = 100',
      'load = 0.9', 'failures = off', `hold_down = ${HOLD_DOWN}`,
      '[appliance lab]', 'monitor = 198.18.0.1:2130', 'key_file = monitor.key', '',
    ].join('\n'));
  });
  let throttle: Throttle | undefined;
  let monitor: ChildProcess | undefined;
  let output = '';
  let loading = false;
  let load: Promise<void> | undefined;

  after(async function () {
    loading = false;
    await throttle?.stop();
    await load;
    if (monitor && monitor.exitCode === null) monitor.kill('SIGKILL');
  });

  async function waitFor(re: RegExp, ms: number): Promise<number> {
    const until = Date.now() + ms;
    while (!re.test(output)) {
      if (Date.now() > until) throw new Error(`the monitor did not log ${re} within ${ms} ms:\n${output}`);
      await sleep(100);
    }
    return Date.now();
  }

  /** Waits for `n` downloads begun after `since`; returns their carriers. */
  async function carriersAfter(fetches: Fetch[], since: number, n: number): Promise<string[]> {
    const until = Date.now() + 20_000;
    while (fetches.filter((f) => f.at > since).length < n) {
      if (Date.now() > until) throw new Error(`fewer than ${n} downloads after ${since}`);
      await sleep(100);
    }
    return fetches.filter((f) => f.at > since).map((f) => f.carrier);
  }

  it('new connections leave sa within a bounded time once it is slow, and come back after it recovers and hold_down passes', async function () {
    const lab: LabFacts = s.lab;
    const SA = lab.LAB_SERVER_SA_EGRESS;
    const SC = lab.LAB_SERVER_SC_EGRESS;
    monitor = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, process.execPath, CLI, 'monitor', '--config', join(s.conf, 'monitor.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
    monitor.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    monitor.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    await waitFor(/socksalp monitor: watching lab \(198\.18\.0\.1:2130\) every 1 s/, 5000);

    const fetches: Fetch[] = [];
    loading = true;
    load = (async () => {
      // Bounded: at most 2000 downloads of 28 bytes, one after another.
      for (let i = 0; loading && i < 2000; i++) {
        const at = Date.now();
        const f = await fetchVia(lab, '--socks5', `${lab.LAB_VIP}:1080`, { path: '/hello.txt' });
        fetches.push({ at, carrier: f.carrier, status: f.status });
      }
    })();
    const started = Date.now();
    expect(new Set(await carriersAfter(fetches, started - 1, 5)), 'sa carries HTTP').to.deep.equal(new Set([SA]));

    throttle = new Throttle(lab.LAB_SERVER_SA_NS);
    const slowAt = Date.now();
    throttle.start();
    const divertedAt = await waitFor(/lab: divert sa \(198\.19\.1\.2:1080\) -> sc \(198\.19\.3\.2:1080\): .*> 200 ms over 3 polls; sc /, 30_000);
    console.log(`      sa slowed down: the monitor diverted it to sc ${((divertedAt - slowAt) / 1000).toFixed(1)} s later`);
    expect(divertedAt - slowAt).to.be.below(20_000);
    const away = await carriersAfter(fetches, divertedAt, 4);
    expect(new Set(away), 'new connections go to sc').to.deep.equal(new Set([SC]));
    const list = spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'divert', 'list'], { encoding: 'utf8' });
    expect(list.stdout).to.match(/^198\.19\.1\.2:1080\s+198\.19\.3\.2:1080\s+sa -> sc\s*$/m);
    expect(s.app.output).to.match(/divert: added 198\.19\.1\.2:1080 -> 198\.19\.3\.2:1080 \(drain: established connections stay where they are; by monitor 198\.18\.0\.2\)/);

    await throttle.stop();
    const fastAt = Date.now();
    const backAt = await waitFor(/lab: divert back sa \(198\.19\.1\.2:1080\), no longer to sc: recovered: check \d/, 40_000);
    console.log(`      sa fast again: the monitor diverted back ${((backAt - fastAt) / 1000).toFixed(1)} s later (hold_down ${HOLD_DOWN} s)`);
    expect(backAt - fastAt).to.be.within((HOLD_DOWN - 1) * 1000, 30_000);
    const back = await carriersAfter(fetches, backAt, 4);
    expect(new Set(back), 'new connections go to sa again').to.deep.equal(new Set([SA]));
    loading = false;
    await load;
    expect(fetches.filter((f) => f.status !== 0), 'every download completed').to.deep.equal([]);
    console.log(`      ${fetches.length} downloads in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const exited = new Promise<number | null>((r) => monitor!.once('exit', (code) => r(code)));
    monitor.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(output.trim().split('\n').slice(-2).map((l) => l.replace(/^\S+ /, ''))).to.deep.equal(['socksalp monitor: SIGTERM: stopping', 'socksalp monitor: stopped']);
    // One decision each way: hold_down and hysteresis kept it from flapping.
    const decisions = output.split('\n').filter((l) => / lab: divert /.test(l));
    for (const l of decisions) console.log(`      ${l}`);
    expect(decisions).to.have.length(2);
  });
});
