import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, type LabFacts } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-reload/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

/** A connection through the VIP to one of the lab's services, held open by socat. */
class Held {
  readonly child: ChildProcess;
  private received = Buffer.alloc(0);
  private readonly hash = createHash('sha256');
  echoed = 0;
  banner = '';

  constructor(lab: LabFacts, port: number) {
    this.child = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'socat', '-T', '60', '-', `SOCKS4:${lab.LAB_VIP}:${lab.LAB_WEB_ADDR}:${port},socksport=1080`], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child.stdout!.on('data', (b: Buffer) => {
      if (this.banner === '') {
        this.received = Buffer.concat([this.received, b]);
        const nl = this.received.indexOf(10);
        if (nl < 0) return;
        this.banner = this.received.subarray(0, nl).toString();
        b = this.received.subarray(nl + 1);
      }
      this.hash.update(b);
      this.echoed += b.length;
    });
  }

  async until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The banner's last word: the address the service saw, so the SOCKS server that carried it. */
  get peer(): string {
    return this.banner.split(' ').pop()!;
  }

  write(data: Buffer): void {
    this.child.stdin!.write(data);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

const ctl = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, ...args], { encoding: 'utf8' });

/** A row of `ctl alps` or of the dashboard's ALP panel, by name: its columns. */
function alpRow(text: string, name: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  expect(line, `${name} in:\n${text}`).to.not.equal(undefined);
  return line!.trim().split(/\s+/);
}

/**
 * A reload that inserts an ALP first, removes one and swaps priorities, under traffic in the
 * lab. Connections of each ALP are held open across it and an FTP burst runs through it, over
 * sb's queue cut to 16 datagrams so that congestion control discards. What must hold, seen
 * from outside: every byte of the burst comes back; the held connections still carry bytes on
 * the servers they had; the discards stay with ftp in `ctl` and on the dashboard, by name; the
 * removed ALP's connection is shown as such; and a new connection follows the new tables.
 */
describe('reload: ALPs inserted, removed and reordered under traffic', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => editIni(join(dir, 'servers.ini'), { 'sb capacity': '5\nqueue_limit = 16' }));
  const held: Held[] = [];

  after(function () {
    for (const h of held) h.child.kill();
  });

  it('keeps what every established connection is, and the counters follow the ALP by name', async function () {
    const lab = s.lab;
    const egress = (server: string) => lab[`LAB_SERVER_${server}_EGRESS`];
    const [gopher, telnet, ftp] = [70, 23, 21].map((p) => new Held(lab, p));
    held.push(gopher, telnet, ftp);
    for (const h of [gopher, telnet, ftp]) await h.until('the banner', () => h.banner !== '');
    for (const h of [gopher, telnet, ftp]) expect(h.peer, h.banner).to.equal(egress('SB'));

    // The first half of the burst, before the reload.
    const data = randomBytes(8_000_000);
    const half = data.length / 2;
    ftp.write(data.subarray(0, half));
    await ftp.until('the first half echoed', () => ftp.echoed >= half);
    const before = alpRow(ctl('alps').stdout, 'ftp');
    const discardsBefore = Number(before[6]); // Discards
    expect(discardsBefore, 'the burst overflows sb\'s queue').to.be.greaterThan(0);

    // The reload: ssh inserted first, gopher removed (from sb too), ftp and telnet swapped.
    const alpIni = join(s.conf, 'alp.ini');
    let text = readFileSync(alpIni, 'utf8');
    text = '[ssh]\nports = 22\npriority = 6\ndiscard_eligible = no\n\n' + text.replace(/^\[gopher\][^[]*/m, '');
    writeFileSync(alpIni, text);
    editIni(alpIni, { 'telnet priority': '1', 'ftp priority': '7' });
    editIni(join(s.conf, 'servers.ini'), { 'sb alps': 'ftp, telnet' });
    const reload = ctl('reload');
    expect(reload.status, reload.stdout + reload.stderr).to.equal(0);

    // The second half, after it; every byte comes back.
    ftp.write(data.subarray(half));
    await ftp.until('the whole burst echoed', () => ftp.echoed >= data.length);
    expect(ftp.echoed).to.equal(data.length);
    expect(ftp.digest()).to.equal(createHash('sha256').update(data).digest('hex'));
    // The held connections still carry bytes both ways.
    for (const h of [gopher, telnet]) {
      h.write(Buffer.from('still there\n'));
      await h.until('the echo', () => h.echoed >= 12);
    }

    // A new connection to gopher's port follows the new tables: the default ALP, so sa (the default server).
    const fresh = new Held(lab, 70);
    held.push(fresh);
    await fresh.until('the banner', () => fresh.banner !== '');
    expect(fresh.peer, fresh.banner).to.equal(egress('SA'));

    // The operators' views, after the census has passed (it is gathered by the idle sweep).
    await new Promise((r) => setTimeout(r, 1500));
    const alps = ctl('alps').stdout;
    const names = alps.split('\n').slice(1).filter((l) => l.trim()).map((l) => l.split(/\s+/)[0]);
    expect(names, alps).to.deep.equal(['ssh', 'http', 'ssl', 'telnet', 'ftp', 'default', 'gopher']);
    // ALP Ports Priority DiscardEligible ActiveConn Packets Discards (then the last minute's figures)
    const [, , ftpPrio, , ftpActive, , ftpDiscards] = alpRow(alps, 'ftp');
    expect([ftpPrio, ftpActive]).to.deep.equal(['7', '1']);
    expect(Number(ftpDiscards), 'the burst\'s discards stay with ftp').to.be.greaterThan(discardsBefore);
    for (const other of ['ssh', 'http', 'ssl', 'telnet', 'default']) expect(alpRow(alps, other)[6], `${other}'s discards`).to.equal('0');
    expect(alpRow(alps, 'gopher').slice(1, 5), 'the removed ALP keeps its connection and its rules').to.deep.equal(['(removed)', '1', 'yes', '1']);
    expect(alpRow(alps, 'default')[4], 'the new connection').to.equal('1');
    const list = ctl('list').stdout;
    expect(list).to.match(/^sb\s.*\s\d+\/16\s+[1-9]\d*\s/m); // Queue, then Discards

    const dash = spawnSync(process.execPath, [CLI, 'dash', '--socket', SOCKET, '--once', '--width', '120'], { encoding: 'utf8' });
    expect(dash.status, dash.stderr).to.equal(0);
    // ALP PORTS PRIO DISCARD CONNS PACKETS DISCARDS
    expect(alpRow(dash.stdout, 'gopher').slice(1, 5)).to.deep.equal(['(removed)', '1', 'yes', '1']);
    expect(alpRow(dash.stdout, 'ftp')[6]).to.equal(ftpDiscards);
    expect(alpRow(dash.stdout, 'telnet')[6]).to.equal('0');
    const conns = dash.stdout.split('\n').filter((l) => /^198\.18\.0\.2:\d+ /.test(l));
    expect(conns.filter((l) => /\sgopher\s+203\.0\.113\.80:70\s+sb\s/.test(l)), dash.stdout).to.have.length(1);
    expect(conns.filter((l) => /\sdefault\s+203\.0\.113\.80:70\s+sa\s/.test(l)), dash.stdout).to.have.length(1);
  });
});
