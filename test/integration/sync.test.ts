import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../appliance/config/load';
import { SyncSender } from '../../appliance/sync/sender';
import { serversHash } from '../../appliance/sync/pair';
import { applianceForSuite } from '../lab/appliance-process';
import { curlSha256, inNs, REPO } from '../lab/lab';

const SOCKET = '/run/socksalp-test-sync/control.sock';
const KEY = 'the-lab-pair-key-0123456789abcdef';
/** The appliance's sync socket and the peer's, on the appliance host's intranet address. */
const LISTEN = '198.18.0.1:7500';
const PEER = '198.18.0.1:7501';

interface PeerLine { held: { client: string; server: string; port: number; alp: string }[]; stats: { datagrams: number; spliced: number; ended: number }; refused: Record<string, number> }
interface SyncStatus { sent: { datagrams: number; entries: number; dropped: number }; held: number; received: { datagrams: number; ended: number; unknown: number }; refused: Record<string, number> }

/**
 * Issue 16's connection-state sync, seen from the other side: with ha.ini [sync], the appliance
 * sends each connection to its peer once spliced, with the server and server-leg port that
 * carry it, and its end; what comes to its own socket is checked (MAC, replay) before it is held.
 * The peer is test/lab/sync-peer.ts, a standby of the same key and servers.
 */
describe('sync: the HA pair\'s connection-state sync (ha.ini), seen from the peer', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    writeFileSync(join(dir, 'ha.key'), `${KEY}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'ha.ini'), `[sync]\nlisten = ${LISTEN}\npeers = ${PEER}\nkey_file = ha.key\nrole = master\n`);
  });
  let peer: ChildProcess | undefined;
  const lines: PeerLine[] = [];
  before(async function () {
    peer = spawn('ip', ['netns', 'exec', s.lab.LAB_NS_APP, process.execPath, join(REPO, 'dist', 'test', 'lab', 'sync-peer.js'), '--config', s.conf, '--listen', PEER], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Bound before any connection is made: what is sent before would be lost (UDP).
    await new Promise<void>((resolve, reject) => {
      let err = '';
      peer!.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.includes('sync-peer on')) resolve();
      });
      peer!.once('exit', (code) => reject(new Error(`sync-peer exited (${code}): ${err}`)));
    });
    let rest = '';
    peer.stdout!.on('data', (b: Buffer) => {
      const all = (rest + b.toString()).split('\n');
      rest = all.pop()!;
      for (const l of all) lines.push(JSON.parse(l) as PeerLine);
    });
  });
  after(function () {
    if (peer?.pid !== undefined && peer.exitCode === null) peer.kill('SIGTERM');
  });

  const sync = async () => ((await s.app.ask({ cmd: 'status' })).status as { sync: SyncStatus }).sync;
  const until = async (what: string, ok: () => boolean, ms = 10_000) => {
    for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; the peer's last line: ${JSON.stringify(lines.at(-1))}`);
    }
  };
  /** A datagram as a sender of this key and servers would send it: one ENDED entry for a client nobody has. */
  const datagram = (key: string): Buffer => {
    const config = loadConfig(s.conf);
    let out = Buffer.alloc(0);
    const sender = new SyncSender({
      sender: 7, key: Buffer.from(key), vipPort: 1080, serverMac: () => new Uint8Array(6), local: () => 0, alpName: () => '', wallMs: (t) => t * 1000,
      serverHash: serversHash(config.servers),
      send: (d, n) => (out = Buffer.from(d.subarray(0, n))),
    }, { epoch: 1 });
    sender.ended(0x0a000001, 4242);
    sender.flush();
    return out;
  };
  const sendToAppliance = (d: Buffer) => {
    const [host, port] = LISTEN.split(':');
    const js = `const s=require('dgram').createSocket('udp4');s.send(Buffer.from(process.argv[1],'hex'),${port},'${host}',()=>s.close())`;
    const r = inNs(s.lab.LAB_NS_APP, process.execPath, ['-e', js, d.toString('hex')]);
    expect(r.status, r.stderr).to.equal(0);
  };

  it('sends each spliced connection with its server and server-leg port, then its end', async function () {
    const lab = s.lab;
    const downloads = Array.from({ length: 4 }, () => curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '8M', '--socks5', `${lab.LAB_VIP}:1080`, `http://${lab.LAB_WEB_ADDR}/big.bin`]));
    let rows: { client: string; server: string; port: number; state: string }[] = [];
    for (let i = 0; i < 75 && rows.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rows = ((await s.app.ask({ cmd: 'conns', limit: 100 })).rows as typeof rows).filter((r) => r.state === 'spliced');
    }
    if (rows.length !== 4) {
      const done = await Promise.all(downloads);
      throw new Error(`${rows.length} of 4 downloads spliced in ctl conns; curl: ${JSON.stringify(done.map((d) => [d.status, d.bytes, d.stderr]))}`);
    }
    for (const r of rows) {
      await until(`the peer holding ${r.client}`, () => (lines.at(-1)?.held ?? []).some((h) => h.client === r.client && h.server === r.server && h.port === r.port && h.alp === 'http'));
    }
    for (const d of await Promise.all(downloads)) expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    await until('the peer told of the four ends', () => { const l = lines.at(-1); return l !== undefined && !l.held.some((h) => rows.some((r) => r.client === h.client)) && l.stats.ended >= 4; });
    const st = await sync();
    expect(st.sent.entries).to.be.at.least(8);
    expect(st.sent.dropped).to.equal(0);
    expect(lines.at(-1)!.refused).to.deep.equal({ mac: 0, replay: 0, malformed: 0, staleEpoch: 0, full: 0, servers: 0 });
  });

  it('refuses a datagram signed with another key, takes a good one once and refuses it replayed', async function () {
    const before = await sync();
    sendToAppliance(datagram('not-the-pair-key-0123456789abcdef'));
    const good = datagram(KEY);
    sendToAppliance(good);
    sendToAppliance(good);
    await new Promise((r) => setTimeout(r, 300));
    const after = await sync();
    expect(after.refused.mac - before.refused.mac, 'another key').to.equal(1);
    expect(after.received.datagrams - before.received.datagrams, 'the good one').to.equal(1);
    expect(after.received.unknown - before.received.unknown, 'its ENDED names no connection held').to.equal(1);
    expect(after.refused.replay - before.refused.replay, 'the good one again').to.equal(1);
  });

  it('shows the key nowhere: log, ctl status, check', async function () {
    const check = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'check', '--config', s.conf], { encoding: 'utf8' });
    expect(check.status, check.stderr).to.equal(0);
    expect(check.stdout).to.match(new RegExp(`sync +listen ${LISTEN}, peers ${PEER}, key_file .*ha\\.key \\(key: ${KEY.length} bytes\\)`));
    const status = JSON.stringify(await s.app.ask({ cmd: 'status' }));
    for (const text of [check.stdout + check.stderr, status, s.app.output]) expect(text).to.not.include(KEY);
    expect(s.app.output).to.match(new RegExp(`sync: listening on ${LISTEN}, sending to ${PEER}`));
  });
});
