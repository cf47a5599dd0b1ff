import { expect } from 'chai';
import { writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, formatProblem } from '../../../appliance/config/problem';
import { loadMonitorConfig, type MonitorConfig } from '../../../appliance/monitor/policy-ini';
import { Watcher } from '../../../appliance/monitor/watcher';
import { REPO } from '../../lab/lab';
import { tempDirs } from '../conf-dir';

/** monitor.ini (policy-ini.ts) and the Watcher (watcher.ts) against a stand-in monitor channel. */

const KEY = 'the-monitor-key-0123456789';
const tempDir = tempDirs();

function ini(text: string, keyMode = 0o600): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'monitor.key'), KEY + '\n', { mode: keyMode });
  writeFileSync(join(dir, 'monitor.ini'), text);
  return join(dir, 'monitor.ini');
}

function problems(path: string): string[] {
  try {
    loadMonitorConfig(path);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe('monitor/policy-ini: monitor.ini', function () {
  it('conf/monitor.ini as shipped: the policy and the lab appliance; the key is never shown', function () {
    const path = ini('');
    copyFileSync(join(REPO, 'conf', 'monitor.ini'), path);
    const c = loadMonitorConfig(path);
    expect(c.policy).to.deep.equal({
      interval: 1, polls: 3, latency: 'reply', latencyMs: 200, load: 0.9, failures: 10,
      recoverLatencyMs: 100, recoverLoad: 0.6, recoverFailures: 2, holdDown: 15, restoreOnExit: false,
    });
    expect(c.appliances.map((a) => [a.name, a.host, a.port, a.key.bytes.toString()])).to.deep.equal([['lab', '198.18.0.1', 2130, KEY]]);
    expect(JSON.stringify(c) + inspect(c, { depth: 9 })).to.not.include(KEY);
  });

  it('defaults: recover at half the trip thresholds; off turns a threshold off', function () {
    const c = loadMonitorConfig(ini('[policy]\nload = off\n[appliance a1]\nmonitor = 198.18.0.1:2130\nkey_file = monitor.key\n'));
    expect(c.policy).to.deep.equal({
      interval: 2, polls: 3, latency: 'reply', latencyMs: 1000, load: undefined, failures: 10,
      recoverLatencyMs: 500, recoverLoad: 0, recoverFailures: 5, holdDown: 30, restoreOnExit: false,
    });
  });

  it('bad values: file, line, section and key, and what was expected', function () {
    const p = problems(ini('[policy]\ninterval = 0\nlatency = connect\nload = 1.5x\nlatency_p99_ms = 200\nrecover_latency_p99_ms = 200\ncolour = red\n' +
      '[appliance a1]\nmonitor = 198.18.0.1\nkey_file = monitor.key\n[appliances]\n[appliance two words]\n'));
    expect(p).to.deep.equal([
      'monitor.ini:12: [appliance two words]: section names are a word, or a word, one space and a name, of letters, digits, "_" and "-"',
    ]);
    const q = problems(ini('[policy]\ninterval = 0\nlatency = connect\nload = 1.5x\nlatency_p99_ms = 200\nrecover_latency_p99_ms = 200\ncolour = red\n' +
      '[appliance a1]\nmonitor = 198.18.0.1\nkey_file = monitor.key\n[appliances]\n'));
    expect(q).to.deep.equal([
      'monitor.ini:2: [policy] interval: expected a whole number from 1 to 3600, got "0"',
      'monitor.ini:3: [policy] latency: expected reply (SYN to the server\'s SOCKS reply) or handshake (SYN to SYN-ACK), got "connect"',
      'monitor.ini:4: [policy] load: expected a number from 0.01 to 100, or off, got "1.5x"',
      'monitor.ini:6: [policy] recover_latency_p99_ms: expected less than the trip threshold 200 (hysteresis: a server recovers below where it tripped), got 200',
      'monitor.ini:7: [policy] colour: unknown key (expected one of: failures, hold_down, interval, latency, latency_p99_ms, load, polls, recover_failures, recover_latency_p99_ms, recover_load, restore_on_exit)',
      'monitor.ini:9: [appliance a1] monitor: expected the appliance\'s [monitor] listen, ADDRESS:PORT like 198.18.0.1:2130 (an IPv6 address in brackets, [2001:db8::1]:2130), got "198.18.0.1"',
      'monitor.ini:11: [appliances]: unknown section (expected [policy] or [appliance NAME])',
    ]);
  });

  it('an IPv6 appliance in brackets, kept and logged in RFC 5952 text; without brackets refused (the port could be a group)', function () {
    const c = loadMonitorConfig(ini('[appliance a6]\nmonitor = [2001:DB8:0:0::0001]:2130\nkey_file = monitor.key\n[appliance a4]\nmonitor = 198.18.0.1:2130\nkey_file = monitor.key\n'));
    expect(c.appliances.map((a) => [a.name, a.host, a.port])).to.deep.equal([['a6', '2001:db8::1', 2130], ['a4', '198.18.0.1', 2130]]);
    const logs: string[] = [];
    const w = new Watcher(c, { dryRun: true, log: (m) => logs.push(m), request: async () => ({ ok: true, servers: [] }) });
    w.start();
    void w.stop();
    expect(logs[0]).to.match(/^watching a6 \(\[2001:db8::1\]:2130\), a4 \(198\.18\.0\.1:2130\) every 2 s: /);
    for (const bad of ['2001:db8::1:2130', '[2001:db8::g]:2130', '[198.18.0.1]:2130']) {
      expect(problems(ini(`[appliance a1]\nmonitor = ${bad}\nkey_file = monitor.key\n`)), bad).to.deep.equal([
        `monitor.ini:2: [appliance a1] monitor: expected the appliance's [monitor] listen, ADDRESS:PORT like 198.18.0.1:2130 (an IPv6 address in brackets, [2001:db8::1]:2130), got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  it('a key file others may read is refused, as ssh refuses a key; no appliance at all is a problem', function () {
    const path = ini('[appliance a1]\nmonitor = 198.18.0.1:2130\nkey_file = monitor.key\n', 0o644);
    expect(problems(path)).to.deep.equal([
      `monitor.ini:3: [appliance a1] key_file: key file ${JSON.stringify(join(path, '..', 'monitor.key'))} is accessible by group or others (mode 0644); it must be readable by its owner only (chmod 600)`,
    ]);
    expect(problems(ini('[policy]\ninterval = 5\n'))).to.deep.equal(['monitor.ini: no [appliance NAME] section: the monitor has nothing to watch']);
  });
});

/** Two HTTP servers; sa's reply p99 is `slow()`. */
function answers(reply: () => number) {
  const row = (name: string, n: number, p99: number) => ({
    name, address: `198.19.${n}.2:1080`, alps: ['http'], capacity: 10, active: 1, state: 'up', failures: 0,
    load: { seconds: 60, connectionsPerSecond: 1, active: 1, handshakeP50: 1, handshakeP99: 1, replyP50: p99, replyP99: p99, bytesPerSecond: 0, failures: 0 },
  });
  return { ok: true, servers: [row('sa', 1, reply()), row('sc', 3, 10)] };
}

function watcher(config: MonitorConfig, dryRun: boolean, reply: () => number, reachable: () => boolean) {
  const sent: object[] = [];
  const logs: string[] = [];
  let t = 0;
  let table: { original: string; diverted: string }[] = [];
  const w = new Watcher(config, {
    dryRun, log: (m) => logs.push(m), now: () => t,
    request: async (_h, _p, key, request) => {
      const req = request as Record<string, unknown>;
      expect(key.toString()).to.equal(KEY);
      if (!reachable()) throw new Error('cannot reach the monitor channel 198.18.0.1:2130: ECONNREFUSED');
      if (req.cmd === 'servers') return answers(reply) as Record<string, unknown>;
      sent.push(req);
      if (req.op === 'list') return { ok: true, entries: table };
      if (req.op === 'add') table = [{ original: String(req.original), diverted: String(req.diverted) }];
      if (req.op === 'remove') table = [];
      return { ok: true, message: 'done' };
    },
  });
  const poll = async (at: number) => { t = at; await w.poll(); };
  return { w, sent: () => sent.filter((r) => (r as { op: string }).op !== 'list'), logs, poll };
}

describe('monitor/watcher: polls, sends, logs', function () {
  const config = () => loadMonitorConfig(ini('[policy]\ninterval = 1\nlatency_p99_ms = 200\nhold_down = 5\nrestore_on_exit = yes\n[appliance lab]\nmonitor = 198.18.0.1:2130\nkey_file = monitor.key\n'));

  it('sends a drain divert add after 3 slow polls, logged with its figures; restore_on_exit removes it at stop', async function () {
    const x = watcher(config(), false, () => 412, () => true);
    for (let t = 0; t < 3; t++) await x.poll(t);
    expect(x.sent()).to.deep.equal([{ cmd: 'divert', op: 'add', original: '198.19.1.2:1080', diverted: '198.19.3.2:1080', mode: 'drain' }]);
    expect(x.logs.filter((l) => l.startsWith('lab: divert'))).to.deep.equal([
      'lab: divert sa (198.19.1.2:1080) -> sc (198.19.3.2:1080): reply p99 412 ms > 200 ms over 3 polls; sc reply p99 10 ms, load 0.10 (1/10), 0 failures, spare 9',
    ]);
    await x.w.stop();
    expect(x.sent()[1]).to.deep.equal({ cmd: 'divert', op: 'remove', original: '198.19.1.2:1080', mode: 'drain' });
    expect(x.logs[x.logs.length - 1]).to.equal('lab: divert back sa (198.19.1.2:1080), no longer to sc: restore_on_exit');
  });

  it('--dry-run: prints the decisions, sends none, and follows its own printed table', async function () {
    const x = watcher(config(), true, () => 412, () => true);
    for (let t = 0; t < 10; t++) await x.poll(t);
    expect(x.sent()).to.deep.equal([]);
    expect(x.logs.filter((l) => /dry run/.test(l))).to.deep.equal([
      'lab: dry run: divert sa (198.19.1.2:1080) -> sc (198.19.3.2:1080): reply p99 412 ms > 200 ms over 3 polls; sc reply p99 10 ms, load 0.10 (1/10), 0 failures, spare 9',
    ]);
  });

  it('an unreachable appliance is logged once, polled again, and logged once more when it answers', async function () {
    let up = false;
    const x = watcher(config(), false, () => 10, () => up);
    for (let t = 0; t < 5; t++) await x.poll(t);
    up = true;
    await x.poll(5);
    expect(x.logs).to.deep.equal([
      'lab: cannot reach the monitor channel 198.18.0.1:2130: ECONNREFUSED; polled again every 1 s (logged once)',
      'lab: answers again',
    ]);
  });
});
