import { expect } from 'chai';
import { configProblems } from '../config-problems';
import { createConnection } from 'node:net';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { computeMac, MAX_MESSAGE, MonitorAuth, signMessage } from '../../../appliance/monitor/auth';
import { MonitorServer } from '../../../appliance/monitor/server';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import type { Appliance } from '../../../appliance/appliance';
import { appended, confCopies } from '../conf-dir';

const KEY = Buffer.from('0123456789abcdef-the-monitor-key');
const ADD = { cmd: 'divert', op: 'add', original: '203.0.113.80:80', diverted: '203.0.113.81' };
const T0 = 1_800_000_000_000;

function auth(rate = 20, maxSkew = 30): MonitorAuth {
  return new MonitorAuth(() => ({ key: KEY, maxSkew, rate }));
}

describe('monitor: message authentication', function () {
  it('accepts a well-signed message once and hands back the request', function () {
    const a = auth();
    const line = signMessage(KEY, ADD, T0 / 1000, 'a'.repeat(32));
    const v = a.check(line, '198.18.0.2', T0);
    expect(v).to.deep.equal({ ok: true, request: ADD });
    expect(a.accepted).to.equal(1);
    const m = JSON.parse(line);
    expect(m.mac).to.equal(computeMac(KEY, m.ts, m.nonce, m.msg));
    expect(m.msg).to.equal(JSON.stringify(ADD));
  });

  it('refuses a bad or missing MAC, and a message signed with another key', function () {
    const a = auth();
    const m = JSON.parse(signMessage(KEY, ADD, T0 / 1000));
    const flipped = { ...m, mac: (m.mac[0] === '0' ? '1' : '0') + m.mac.slice(1) };
    expect(a.check(JSON.stringify(flipped), 'x', T0)).to.include({ ok: false, reason: 'mac', close: false });
    const { mac: _mac, ...bare } = m;
    expect(a.check(JSON.stringify(bare), 'x', T0)).to.include({ ok: false, reason: 'mac' });
    expect(a.check(JSON.stringify({ ...m, mac: 'abc' }), 'x', T0)).to.include({ ok: false, reason: 'mac' });
    expect(a.check(signMessage(Buffer.from('another key, 16+ bytes long'), ADD, T0 / 1000), 'x', T0)).to.include({ ok: false, reason: 'mac' });
    // The MAC covers the request: the same MAC on another request is refused.
    expect(a.check(JSON.stringify({ ...m, msg: JSON.stringify({ ...ADD, diverted: '192.0.2.1' }) }), 'x', T0)).to.include({ ok: false, reason: 'mac' });
    expect(a.refused.mac).to.equal(5);
    expect(a.accepted).to.equal(0);
  });

  it('refuses a replayed nonce, and forgets nonces after twice the skew', function () {
    const a = auth();
    const line = signMessage(KEY, ADD, T0 / 1000, 'b'.repeat(16));
    expect(a.check(line, 'x', T0).ok).to.equal(true);
    expect(a.check(line, 'x', T0 + 1000)).to.include({ ok: false, reason: 'replay' });
    // The same nonce in upper case is the same nonce.
    const upper = signMessage(KEY, ADD, T0 / 1000, 'B'.repeat(16));
    expect(a.check(upper, 'y', T0 + 2000)).to.include({ ok: false, reason: 'replay' });
    expect(a.refused.replay).to.equal(2);
    // Fresh messages long after let the old nonce go.
    expect(a.check(signMessage(KEY, ADD, T0 / 1000 + 61), 'x', T0 + 61_000).ok).to.equal(true);
    expect(a.remembered).to.equal(1);
  });

  it('refuses a stale timestamp, early or late', function () {
    const a = auth();
    expect(a.check(signMessage(KEY, ADD, T0 / 1000 - 31), 'x', T0)).to.include({ ok: false, reason: 'stale' });
    expect(a.check(signMessage(KEY, ADD, T0 / 1000 + 31), 'x', T0)).to.include({ ok: false, reason: 'stale' });
    expect(a.check(signMessage(KEY, ADD, T0 / 1000 - 30), 'x', T0).ok).to.equal(true);
    expect(a.refused.stale).to.equal(2);
  });

  it('refuses oversized messages and closes', function () {
    const a = auth();
    const big = signMessage(KEY, { ...ADD, pad: 'x'.repeat(MAX_MESSAGE) }, T0 / 1000);
    expect(a.check(big, 'x', T0)).to.include({ ok: false, reason: 'oversized', close: true });
    expect(a.refused.oversized).to.equal(1);
  });

  it('refuses malformed messages', function () {
    const a = auth();
    const good = JSON.parse(signMessage(KEY, ADD, T0 / 1000));
    for (const line of ['not json', '[1,2]', 'null', '{}', JSON.stringify({ ...good, ts: String(good.ts) }), JSON.stringify({ ...good, nonce: 'zz'.repeat(10) }),
      JSON.stringify({ ...good, nonce: 'ab' }), JSON.stringify({ ...good, nonce: 'a'.repeat(66) }), JSON.stringify({ ...good, msg: 5 })]) {
      expect(a.check(line, 'x', T0), line).to.include({ ok: false, reason: 'malformed' });
    }
    // Signed, but the request inside is not an object.
    expect(a.check(signMessage(KEY, [1] as unknown as object, T0 / 1000), 'x', T0)).to.include({ ok: false, reason: 'malformed' });
    expect(a.refused.malformed).to.equal(10);
  });

  it('limits the rate per sender: refuses beyond it, closes beyond four times it; a new second starts afresh', function () {
    const a = auth(5);
    const results = [];
    for (let i = 0; i < 21; i++) results.push(a.check(signMessage(KEY, ADD, T0 / 1000), 'flood', T0 + i));
    expect(results.slice(0, 5).every((v) => v.ok)).to.equal(true);
    expect(results[5]).to.include({ ok: false, reason: 'rate', close: false });
    expect(results[19]).to.include({ ok: false, reason: 'rate', close: false });
    expect(results[20]).to.include({ ok: false, reason: 'rate', close: true });
    // Another sender is not affected, nor the same one a second later.
    expect(a.check(signMessage(KEY, ADD, T0 / 1000), 'other', T0 + 30).ok).to.equal(true);
    expect(a.check(signMessage(KEY, ADD, T0 / 1000 + 1), 'flood', T0 + 1000).ok).to.equal(true);
    expect(a.refused.rate).to.equal(16);
  });
});

describe('monitor: the channel over TCP', function () {
  const logs: string[] = [];
  const app = {
    config: { diverted: undefined, monitor: undefined, servers: [] },
    log: (m: string) => logs.push(m),
    dispatcher: { diversions: new DivertedAddresses([]) },
  } as unknown as Appliance;
  const server = new MonitorServer(app, { address: 0x7f000001, port: 0, key: { bytes: KEY, file: '/k' }, maxSkew: 30, rate: 20 });
  let port = 0;
  before(async function () {
    await server.listen();
    port = ((server as unknown as { server: { address(): { port: number } } }).server.address()).port;
  });
  after(() => server.close());

  /** Writes `data`, returns the answer lines and whether the appliance closed the connection. */
  function exchange(data: string | Buffer, ms = 300): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
    return new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      let text = '';
      let closed = false;
      s.on('data', (b) => (text += b.toString()));
      s.on('error', () => undefined);
      s.on('close', () => (closed = true));
      s.on('connect', () => s.write(data));
      setTimeout(() => {
        s.destroy();
        resolve({ lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)), closed });
      }, ms);
    });
  }

  it('applies a signed add and answers what was applied; logs it with the sender, never the key', async function () {
    const r = await exchange(signMessage(KEY, ADD) + '\n');
    expect(r.lines[0]).to.include({ ok: true });
    expect(String(r.lines[0].message)).to.match(/^added 203\.0\.113\.80:80 -> 203\.0\.113\.81; /);
    expect(app.dispatcher.diversions.size).to.equal(1);
    expect(logs.join('\n')).to.match(/divert: added 203\.0\.113\.80:80 -> 203\.0\.113\.81 .*by monitor 127\.0\.0\.1/);
    expect(logs.join('\n')).to.not.include(KEY.toString());
  });

  it('closes on a line over 8 KiB without waiting for its end; refusals are logged once per reason and sender', async function () {
    const r = await exchange(Buffer.alloc(MAX_MESSAGE + 100, 0x61));
    expect(r.closed).to.equal(true);
    expect(r.lines[0]).to.include({ ok: false, refused: 'oversized' });
    await exchange(Buffer.alloc(MAX_MESSAGE + 100, 0x61));
    expect(server.stats().refused.oversized).to.equal(2);
    expect(logs.filter((l) => /refused .*oversized/.test(l))).to.have.length(1);
    const bad = await exchange('{"msg":"{}","ts":1,"nonce":"00000000000000000","mac":"00"}\n' + signMessage(KEY, { cmd: 'divert', op: 'list' }) + '\n');
    expect(bad.lines.map((l) => l.refused ?? l.ok)).to.deep.equal(['mac', true]);
    expect(server.stats()).to.deep.include({ accepted: 2 });
  });
});

describe('monitor: appliance.ini [monitor]', function () {
  const copy = confCopies();
  /** A copy of conf/ whose appliance.ini ends with `section`, beside a monitor.key holding `key`. */
  function conf(section: string, key: string | undefined = 'k'.repeat(24) + '\n', mode = 0o600): string {
    const dir = copy({ 'appliance.ini': appended(section), ...(key === undefined ? {} : { 'monitor.key': key }) });
    if (key !== undefined) chmodSync(join(dir, 'monitor.key'), mode);
    return dir;
  }
  const problems = configProblems;

  it('reads listen, key_file (relative to the configuration), max_skew and rate; the key is never shown', function () {
    const dir = conf('[monitor]\nlisten = 198.18.0.1:2130\nkey_file = monitor.key\nmax_skew = 10\nrate = 5\n');
    const c = loadConfig(dir);
    expect(c.monitor).to.deep.include({ address: 0xc6120001, port: 2130, maxSkew: 10, rate: 5 });
    expect(c.monitor!.key.bytes.toString()).to.equal('k'.repeat(24));
    const shown = [summarizeConfig(c), JSON.stringify(c), inspect(c, { depth: 10 })].join('\n');
    expect(shown).to.not.include('k'.repeat(24));
    expect(summarizeConfig(c)).to.match(/monitor +listen 198\.18\.0\.1:2130, key_file .*monitor\.key.* \(key: 24 bytes\), max_skew 10s, rate 5\/s/);
    expect(loadConfig(conf('[monitor]\nlisten = 198.18.0.1:2130\nkey_file = monitor.key\n')).monitor).to.deep.include({ maxSkew: 30, rate: 20 });
    expect(loadConfig(conf('', undefined)).monitor).to.equal(undefined);
  });

  it('refuses a key file readable by others, a short key, a missing key_file, bad values', function () {
    const open = conf('[monitor]\nlisten = 198.18.0.1:2130\nkey_file = monitor.key\n', 'k'.repeat(24), 0o644);
    expect(problems(open)).to.deep.equal([
      `appliance.ini:${lineOf(open, 'key_file')}: [monitor] key_file: key file ${JSON.stringify(join(open, 'monitor.key'))} is accessible by group or others (mode 0644); it must be readable by its owner only (chmod 600)`,
    ]);
    expect(problems(conf('[monitor]\nlisten = 198.18.0.1:2130\nkey_file = monitor.key\n', 'short\n'))[0]).to.match(/\[monitor\] key_file: the key in .* is 5 bytes long; it must be at least 16 bytes$/);
    expect(problems(conf('[monitor]\nlisten = 198.18.0.1:2130\n'))[0]).to.match(/:\d+: \[monitor\] listen: the monitor channel needs key_file/);
    const bad = problems(conf('[monitor]\nlisten = 198.18.0.1\nkey_file = monitor.key\nmax_skew = 0\nrate = x\ncolour = red\n')).join('\n');
    expect(bad).to.match(/\[monitor\] listen: expected ADDRESS:PORT like 198\.18\.0\.1:2130, got "198\.18\.0\.1"/);
    expect(bad).to.match(/\[monitor\] max_skew: expected a whole number from 1 to 3600/);
    expect(bad).to.match(/\[monitor\] rate: expected a whole number/);
    expect(bad).to.match(/\[monitor\] colour: unknown key/);
    expect(bad).to.not.include('k'.repeat(24));
  });

  function lineOf(dir: string, key: string): number {
    const text = readFileSync(join(dir, 'appliance.ini'), 'utf8');
    return text.split('\n').findIndex((l) => l.startsWith(`${key} =`)) + 1;
  }
});
