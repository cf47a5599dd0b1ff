import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ApplianceProcess } from '../lab/appliance-process';
import { labFacts, REPO, useLab, webLog, type LabFacts } from '../lab/lab';
import { HaClient, haLab, writeKeystream, healthOf, keepalivedLogs, roleIs, startMember, type ClientResult } from '../lab/ha';

/** The download through each failover: 200 MB, read at 20 MB/s, so that it is under way for ten seconds. */
const FILE = 'ha200.bin';
const MB = 1_000_000;
const SIZE = 200 * MB;
const RATE_MB = 20;
const INTERACTIVE = 100;
/** Where in the download the failure comes. */
const FAIL_AT = 50 * MB;

interface Row { client: string; server: string; port: number }

/**
 * Issue 16's HA pair keeping established connections (lab.sh ha: A in salab-app, B in
 * salab-app2, keepalived in each, the sync between them): a 200 MB download and 100
 * interactive connections (the lab's telnet service, which names the SOCKS server that
 * carried the connection and then echoes) go through the master while, a quarter of the way
 * in, the master is killed (SIGKILL), then the standby is killed, then the master is stopped
 * cleanly (SIGTERM: it hands over first). Each time the download must arrive whole (sha256),
 * every interactive connection must still echo, and each must be carried after as before by
 * the same SOCKS server (the web server's log for the download, the table of the appliance
 * serving it for the rest). The failover as the client saw it, the longest silence of the
 * download, is printed.
 */
describe('ha-failover: established connections through a failover of the HA pair', function () {
  this.timeout(300_000);
  let facts: LabFacts;
  let sha = '';
  const running: ApplianceProcess[] = [];
  let a: ApplianceProcess;
  let b: ApplianceProcess;
  const clients: HaClient[] = [];

  before(async function () {
    useLab();
    haLab('up');
    facts = labFacts();
    sha = writeKeystream(facts, FILE, SIZE / MB, 9);
    a = await startMember(facts, 'a');
    running.push(a);
    b = await startMember(facts, 'b');
    running.push(b);
    haLab('keepalived-start', 'a');
    haLab('keepalived-start', 'b');
    await roleIs(a, 'master', 20_000).catch((e: Error) => { throw new Error(`${e.message}\n${keepalivedLogs(facts)}`); });
    await a.ready();
  });

  after(async function () {
    for (const c of clients) c.kill();
    const problems: string[] = [];
    for (const name of ['a', 'b']) {
      try { haLab('keepalived-stop', name); } catch (e) { problems.push(String(e)); }
    }
    for (const app of running.splice(0)) {
      try { await app.stop(); } catch (e) { problems.push((e as Error).message); }
    }
    haLab('down');
    rmSync(join(facts.LAB_RUN, 'www', FILE), { force: true });
    if (problems.length) throw new Error(problems.join('\n'));
  });

  /** The connections `app` serves, by the client's port. */
  async function rows(app: ApplianceProcess): Promise<Map<number, Row>> {
    const got = (await app.ask({ cmd: 'conns', limit: 1000 })).rows as Row[];
    return new Map(got.map((r) => [Number(r.client.split(':').pop()), r]));
  }

  /** Server name to the address its connections leave from (what the services and the web server see). */
  function egress(server: string): string {
    return facts[`LAB_SERVER_${server.toUpperCase()}_EGRESS`];
  }

  /**
   * The client through `from` (the master now); at FAIL_AT, `fail`; then the connections must go
   * on through `to` (the master after): whole, echoing, each on the server it had.
   */
  async function through(from: ApplianceProcess, to: ApplianceProcess, fail: () => Promise<void> | void): Promise<ClientResult> {
    const client = new HaClient(facts, `/${FILE}`, RATE_MB, INTERACTIVE);
    clients.push(client);
    await client.opened;
    await client.progress(FAIL_AT);
    const before = await rows(from);
    expect(before.size, 'connections in the master\'s table').to.be.at.least(INTERACTIVE + 1);
    await fail();
    await client.progress(SIZE);
    // Asked before the client closes them: the same connections, on the same servers, in the table of the appliance serving them now.
    const after = await rows(to);
    const r = await client.result;
    expect(r.download.status).to.match(/^HTTP\/1\.1 200/);
    expect([r.download.bytes, r.download.sha256]).to.deep.equal([SIZE, sha]);
    expect(r.interactive).to.have.lengthOf(INTERACTIVE);
    for (const c of r.interactive) {
      const row = before.get(c.port);
      expect(row, `interactive connection from port ${c.port} in the master's table`).to.not.equal(undefined);
      expect(c, `connection ${c.port}`).to.deep.include({ failures: 0, pending: false });
      expect(c.echoes, `connection ${c.port}'s echoes`).to.be.at.least(3);
      expect(c.carrier, `the service saw connection ${c.port} come from ${row!.server}`).to.equal(egress(row!.server));
      expect(after.get(c.port)?.server, `connection ${c.port} after`).to.equal(row!.server);
    }
    // The download: the web server logged it once, whole, from the server the master had it on.
    const logged = webLog(facts).filter((l) => l.split(' ')[1] === `/${FILE}`);
    const line = logged[logged.length - 1].split(' ');
    const downloadRow = before.get(r.download.port);
    expect(downloadRow, 'the download in the master\'s table').to.not.equal(undefined);
    expect(after.get(r.download.port)?.server, 'the download after').to.equal(downloadRow!.server);
    expect([line[2], Number(line[3])]).to.deep.equal(['200', SIZE]);
    expect(line[0], 'the download\'s carrier').to.equal(egress(downloadRow!.server));
    const echo = Math.max(...r.interactive.map((c) => c.longestMs));
    console.log(`      download silent at most ${r.download.longestGapMs} ms (at ${(r.download.gapAtBytes / MB).toFixed(0)} MB); longest echo ${echo} ms`);
    return r;
  }

  it('keeps a 200 MB download and 100 interactive connections through a SIGKILL of the master', async function () {
    const r = await through(a, b, async () => {
      a.signal('SIGKILL');
      await roleIs(b, 'master', 15_000).catch((e: Error) => { throw new Error(`${e.message}\n${keepalivedLogs(facts)}`); });
    });
    const st = (await b.ask({ cmd: 'status' })).status as { sync: { promotion: { adopted: number } } };
    expect(st.sync.promotion.adopted, 'connections B took over').to.be.at.least(INTERACTIVE + 1);
    // A failover, not a reconnection: the silence is the failover's, seconds at most.
    expect(r.download.longestGapMs).to.be.within(1, 10_000);
    // What operators see of it: the dashboard's status line and ctl list's head.
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), ...args, '--socket', facts.LAB_HA_B_SOCKET], { encoding: 'utf8' });
    const dash = cli('dash', '--once');
    expect(dash.status, dash.stderr).to.equal(0);
    expect(dash.stdout).to.match(/ HA master, 0 held /);
    expect(cli('ctl', 'list').stdout.split('\n')[0]).to.match(/; HA master, 0 of the peer's held$/);
  });

  it('changes nothing when the standby is killed', async function () {
    running.splice(running.indexOf(a), 1);
    a = await startMember(facts, 'a');
    running.push(a);
    expect((await healthOf(a))?.role).to.equal('backup');
    const r = await through(b, b, async () => {
      // The standby holds the master's connections (the sync), then dies.
      const held = ((await a.ask({ cmd: 'status' })).status as { sync: { held: number } }).sync.held;
      expect(held, 'connections the standby held').to.be.at.least(INTERACTIVE + 1);
      a.signal('SIGKILL');
    });
    expect((await healthOf(b))?.role).to.equal('master');
    expect(r.download.longestGapMs, 'no failover: the download never stalled').to.be.below(1000);
  });

  it('hands over cleanly on SIGTERM of the master: the standby takes the connections, the master exits 0', async function () {
    running.splice(running.indexOf(a), 1);
    a = await startMember(facts, 'a');
    running.push(a);
    await through(b, a, async () => {
      b.signal('SIGTERM');
      await roleIs(a, 'master', 15_000).catch((e: Error) => { throw new Error(`${e.message}\n${keepalivedLogs(facts)}`); });
    });
    for (let i = 0; i < 100 && b.exited === null; i++) await new Promise((res) => setTimeout(res, 100));
    expect([b.exited, b.exitSignal]).to.deep.equal([0, null]);
    expect(b.output).to.match(/handing over: health fails now/);
    expect(b.output).to.match(/backup: serving stopped; \d+ connection\(s\) left to the peer/);
    expect(b.output.trim().split('\n').pop()).to.match(/socksalp: stopped$/);
  });
});
