import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlSha256, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';
import { signMessage } from '../../appliance/monitor/auth';

const SOCKET = '/run/socksalp-test-monitor/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const MONITOR = '198.18.0.1:2130';
const KEY = 'monitor-key-for-the-lab-0123456789';
const WRONG = 'not-the-monitor-key-0123456789abc';
const ctl = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, ...args], { encoding: 'utf8' });

/** `socksalp divert --monitor ... ARGS` run in the client namespace, as the network monitor would. */
function divert(lab: LabFacts, keyFile: string, ...args: string[]) {
  return spawnSync('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, process.execPath, CLI, 'divert', '--monitor', MONITOR, '--key-file', keyFile, ...args], { encoding: 'utf8' });
}

/** Raw lines to the monitor channel from the client namespace: the answers, and whether the appliance closed. */
function raw(lab: LabFacts, lines: string[]): { answers: Record<string, unknown>[]; closed: boolean } {
  const script = `
    const s = require('node:net').createConnection({ host: '198.18.0.1', port: 2130 });
    let text = '', closed = false;
    s.on('data', (b) => (text += b)); s.on('error', () => {}); s.on('close', () => (closed = true));
    const lines = JSON.parse(process.env.LINES);
    s.on('connect', async () => { for (const l of lines) { s.write(l); await new Promise((r) => setTimeout(r, 100)); } });
    setTimeout(() => { process.stdout.write(JSON.stringify({ text, closed })); s.destroy(); }, 200 * lines.length + 800);`;
  const r = spawnSync('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, process.execPath, '-e', script], { encoding: 'utf8', env: { ...process.env, LINES: JSON.stringify(lines) } });
  expect(r.status, r.stderr).to.equal(0);
  const out = JSON.parse(r.stdout) as { text: string; closed: boolean };
  return { answers: out.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)), closed: out.closed };
}

async function download(lab: LabFacts, url: string): Promise<{ sha256: string; mirror: string }> {
  const before = webLog(lab).length;
  const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5', `${lab.LAB_VIP}:1080`, url]);
  expect(d.status, `curl ${url}: ${d.stderr}`).to.equal(0);
  const lines = webLog(lab).slice(before);
  expect(lines, `nginx saw one request for ${url}`).to.have.length(1);
  return { sha256: d.sha256, mirror: lines[0].split(' ').pop()! };
}

type Counters = { accepted: number; refused: Record<string, number> };
const counters = (): Counters => JSON.parse(ctl('status').stdout).monitor;

/**
 * The network monitor's channel (the network-management patent's port 213) in the lab: the
 * appliance listens on its intranet address; from the client namespace, signed divert
 * commands change the table and the next download is served by the mirror; wrong keys,
 * replays, stale and oversized messages change nothing and are counted; the key is shown nowhere.
 */
describe('monitor: signed divert commands over TCP from another host', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    appendFileSync(join(dir, 'appliance.ini'), `\n[monitor]\nlisten = ${MONITOR}\nkey_file = monitor.key\n`);
    writeFileSync(join(dir, 'monitor.key'), KEY + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'wrong.key'), WRONG + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'open.key'), KEY + '\n');
    chmodSync(join(dir, 'open.key'), 0o644);
  });
  const keyFile = () => join(s.conf, 'monitor.key');
  const seen: string[] = [];

  it('socksalp divert add from the client namespace: the next download is served by the mirror, bytes intact', async function () {
    const lab = s.lab;
    expect(counters()).to.deep.equal({ listen: MONITOR, accepted: 0, refused: { mac: 0, stale: 0, replay: 0, oversized: 0, rate: 0, malformed: 0 } });
    const add = divert(lab, keyFile(), 'add', `${lab.LAB_WEB_ADDR}:80`, lab.LAB_MIRROR_ADDR);
    seen.push(add.stdout, add.stderr);
    expect(add.status, add.stderr).to.equal(0);
    expect(add.stdout).to.match(/^added 203\.0\.113\.80:80 -> 203\.0\.113\.81; established connections stay where they are$/m);
    expect(await download(lab, `http://${lab.LAB_WEB_ADDR}/big.bin`)).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, mirror: lab.LAB_MIRROR_ADDR });
    const list = divert(lab, keyFile(), 'list');
    seen.push(list.stdout, list.stderr);
    expect(list.status, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/^203\.0\.113\.80:80\s+203\.0\.113\.81\s*$/m);
    expect(s.app.output).to.match(/divert: added 203\.0\.113\.80:80 -> 203\.0\.113\.81 \(drain: established connections stay where they are; by monitor 198\.18\.0\.2\)/);
    expect(counters().accepted).to.equal(2);
  });

  it('a wrong key, a replay, a stale timestamp and an oversized line change nothing and are counted', async function () {
    const lab = s.lab;
    const before = ctl('divert', 'list').stdout;
    seen.push(before);

    const wrong = divert(lab, join(s.conf, 'wrong.key'), 'remove', `${lab.LAB_WEB_ADDR}:80`);
    seen.push(wrong.stdout, wrong.stderr);
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr).to.match(/refused \(mac\): bad MAC/);
    const open = divert(lab, join(s.conf, 'open.key'), 'remove', `${lab.LAB_WEB_ADDR}:80`);
    seen.push(open.stdout, open.stderr);
    expect(open.status).to.equal(1);
    expect(open.stderr).to.match(/key file .*open\.key" is accessible by group or others \(mode 0644\)/);

    // A signed add, accepted once; removed; the same line again is a replay and adds nothing.
    const key = Buffer.from(KEY);
    const line = signMessage(key, { cmd: 'divert', op: 'add', original: '198.51.100.7:80', diverted: lab.LAB_MIRROR_ADDR }) + '\n';
    const first = raw(lab, [line]);
    expect(first.answers[0]).to.include({ ok: true });
    expect(ctl('divert', 'remove', '198.51.100.7:80').status).to.equal(0);
    const again = raw(lab, [line, line]);
    expect(again.answers.map((a) => a.refused)).to.deep.equal(['replay', 'replay']);

    const stale = raw(lab, [signMessage(key, { cmd: 'divert', op: 'remove', original: `${lab.LAB_WEB_ADDR}:80` }, Math.floor(Date.now() / 1000) - 120) + '\n']);
    expect(stale.answers[0]).to.include({ ok: false, refused: 'stale' });
    const oversized = raw(lab, ['{"msg":"' + 'x'.repeat(9000), '"}\n']);
    expect(oversized.answers[0]).to.include({ ok: false, refused: 'oversized' });
    expect(oversized.closed).to.equal(true);
    const malformed = raw(lab, ['hello\n']);
    expect(malformed.answers[0]).to.include({ ok: false, refused: 'malformed' });

    expect(ctl('divert', 'list').stdout).to.equal(before);
    const c = counters();
    expect(c.accepted).to.equal(3);
    expect(c.refused).to.deep.equal({ mac: 1, stale: 1, replay: 2, oversized: 1, rate: 0, malformed: 1 });
    // Logged once per reason and sender.
    await new Promise((r) => setTimeout(r, 300));
    expect(s.app.output.split('\n').filter((l) => /monitor: refused a message from 198\.18\.0\.2: replay/.test(l)), s.app.output).to.have.length(1);
  });

  it('a flood beyond the rate is refused, then disconnected; the key appears in no log or ctl output', function () {
    const lab = s.lab;
    const key = Buffer.from(KEY);
    const lines = Array.from({ length: 90 }, () => signMessage(key, { cmd: 'divert', op: 'list' }) + '\n').join('');
    const flood = raw(lab, [lines]);
    expect(flood.closed).to.equal(true);
    expect(flood.answers.filter((a) => a.ok === true).length).to.be.at.most(20);
    expect(flood.answers.some((a) => a.refused === 'rate')).to.equal(true);
    expect(counters().refused.rate).to.be.greaterThan(0);
    const outputs = [...seen, ctl('status').stdout, ctl('divert', 'list').stdout, s.app.output,
      spawnSync(process.execPath, [CLI, 'check', '--config', s.conf], { encoding: 'utf8' }).stdout];
    expect(outputs.join('\n')).to.include('monitor.key');
    for (const secret of [KEY, WRONG]) expect(outputs.join('\n')).to.not.include(secret);
  });
});
