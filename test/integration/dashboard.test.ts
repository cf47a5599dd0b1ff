import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { controlRequest } from '../../appliance/control/client';
import { REPO, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-dash/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
/** Our own tmux server, so that nothing of anyone else's is touched, and all of it can go. */
const TMUX = ['-L', 'socksalp-test'];
const SESSION = 'dash';

function tmux(...args: string[]) {
  return spawnSync('tmux', [...TMUX, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', SESSION).stdout;
}

/** Rows of the Connections panel (those naming the lab's client). */
function connectionRows(text: string): string[] {
  return text.split('\n').filter((l) => /198\.18\.0\.2:\d+/.test(l));
}

async function until(what: string, test: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the screen:\n${screen()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The diverted-address table as the appliance holds it, asked apart from the screen. */
async function diversions(): Promise<unknown> {
  return (await controlRequest(SOCKET, { cmd: 'divert', op: 'list' })).entries;
}

/** Sends `text` to the dashboard as typed (-l: no word of it is taken for a key name), then Enter. */
function typeLine(text: string): void {
  tmux('send-keys', '-t', SESSION, '-l', text);
  tmux('send-keys', '-t', SESSION, 'Enter');
}

/**
 * The dashboard as its users see it, in tmux: what the screen shows after real traffic, after
 * a filter keystroke, after a diversion added and removed with its keys, after the appliance
 * stops; and the --once snapshot.
 */
describe('dashboard: the screen, driven through tmux', function () {
  this.timeout(120_000);
  let lab: LabFacts;
  let conf: string;
  let app: ApplianceProcess;
  const held: ChildProcess[] = [];

  before(async function () {
    lab = useLab();
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET } });
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
    // Two connections held open through the VIP: HTTP (nginx waits for the request) and FTP.
    for (const port of [80, 21]) {
      const c = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'socat', '-T', '60', '-', `SOCKS4:${lab.LAB_VIP}:${lab.LAB_WEB_ADDR}:${port},socksport=1080`], { stdio: ['pipe', 'ignore', 'ignore'] });
      held.push(c);
    }
    await new Promise((r) => setTimeout(r, 500));
  });

  after(async function () {
    tmux('kill-server');
    for (const c of held) c.kill();
    try {
      await app?.finish();
    } finally {
      if (conf) ApplianceProcess.cleanup(conf);
    }
  });

  it('prints one plain-text snapshot with --once', function () {
    const r = spawnSync(process.execPath, [CLI, 'dash', '--socket', SOCKET, '--once', '--width', '120'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^socksalp \d+\.\d+\.\d+ {2}up /);
    // At 120 columns the TAP gives way to the last minute's connections per second and reply p99.
    expect(r.stdout, r.stdout).to.match(/^sa +198\.19\.1\.2:1080 +15 +http,ssl +up +- +1 .* \d+\.\d +[\d.]+m?s$/m);
    const rows = connectionRows(r.stdout);
    expect(rows.some((l) => /\shttp\s+203\.0\.113\.80:80\s+sa\s+\d+\s+spliced/.test(l)), rows.join('\n')).to.equal(true);
    expect(rows.some((l) => /\sftp\s+203\.0\.113\.80:21\s+sb\s/.test(l))).to.equal(true);
    expect(r.stdout).to.match(/^== Diverted addresses ==\nno diversions: connections go where they ask$/m);
    expect(r.stdout).to.match(/^== Throughput ==$/m);
  });

  it('shows the client, ALP http and the server that carried it', async function () {
    const started = tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', `${process.execPath} ${CLI} dash --socket ${SOCKET}`);
    expect(started.status, started.stderr).to.equal(0);
    await until('the connection rows and the live ALP table', () => connectionRows(screen()).length === 2 && /xhttp +80,8080 +7 +no +1 /.test(screen()));
    const text = screen();
    expect(connectionRows(text).some((l) => /198\.18\.0\.2:\d+\s+http\s+203\.0\.113\.80:80\s+sa\s/.test(l)), text).to.equal(true);
    expect(text).to.match(/Servers/);
    expect(text).to.match(/xhttp +80,8080 +7 +no +1 /); // the ALP table, live (x is the border)
    expect(text).to.match(/Tab\/S-Tab panel .* q quit/);
  });

  it('keeps only matching rows after a filter keystroke', async function () {
    tmux('send-keys', '-t', SESSION, '/');
    tmux('send-keys', '-t', SESSION, 'ftp', 'Enter');
    await until('the filter to apply', () => connectionRows(screen()).length === 1);
    const rows = connectionRows(screen());
    expect(rows[0]).to.match(/\sftp\s+203\.0\.113\.80:21\s+sb\s/);
    expect(screen()).to.match(/matching "ftp"/);
    tmux('send-keys', '-t', SESSION, 'Escape');
    await until('the filter to clear', () => connectionRows(screen()).length === 2);
  });

  it('adds a diversion with a, shows it under Diverted addresses, removes it with d', async function () {
    const prompt = /^divert: ORIGINAL DIVERTED \[drain\|move\]/m;
    await until('the empty table', () => /^xno diversions: connections go where they ask; a adds one /m.test(screen()));

    // Escape cancels: nothing is sent.
    tmux('send-keys', '-t', SESSION, 'a');
    await until('the add prompt', () => prompt.test(screen()));
    tmux('send-keys', '-t', SESSION, '-l', '203.0.113.80:8080 203.0.113.81:8080');
    tmux('send-keys', '-t', SESSION, 'Escape');
    await until('the prompt to go', () => !prompt.test(screen()));
    expect(await diversions()).to.deep.equal([]);

    tmux('send-keys', '-t', SESSION, 'a');
    await until('the add prompt', () => prompt.test(screen()));
    typeLine('203.0.113.80:8080 203.0.113.81:8080');
    // x is the panel's border, > the cursor.
    await until('the entry in the panel', () => /^x> 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080 /m.test(screen()));
    expect(screen()).to.match(/^x1 entry; a adds, d removes the selected /m);
    expect(screen()).to.match(/^divert: added 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080; established connections stay where they are/m);
    expect(await diversions()).to.deep.equal([{ original: '203.0.113.80:8080', diverted: '203.0.113.81:8080' }]);

    // The appliance validates: its refusal is shown as is, and the table stays.
    tmux('send-keys', '-t', SESSION, 'a');
    await until('the add prompt', () => prompt.test(screen()));
    typeLine('203.0.113.80:8080 203.0.113.80:8080');
    await until('the refusal', () => /^divert add: .*may not divert to itself/m.test(screen()));
    expect(screen()).to.match(/^x> 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080 /m);

    tmux('send-keys', '-t', SESSION, 'd');
    await until('the confirmation naming the entry', () => /^remove 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080\? Enter: drain/m.test(screen()));
    tmux('send-keys', '-t', SESSION, 'Enter');
    await until('the empty table again', () => /^xno diversions: /m.test(screen()));
    expect(screen()).to.match(/^divert: removed 203\.0\.113\.80:8080 -> 203\.0\.113\.81:8080; established connections stay where they are/m);
    expect(await diversions()).to.deep.equal([]);
  });

  it('says so when the appliance stops, and stays alive', async function () {
    await app.finish();
    await until('the notice', () => /not reachable/.test(screen()));
    expect(screen()).to.match(/no appliance is running there/);
    const panes = tmux('list-panes', '-t', SESSION, '-F', '#{pane_dead} #{pane_pid}');
    const [dead, pid] = panes.stdout.trim().split(' ');
    expect(dead).to.equal('0');
    expect(() => process.kill(Number(pid), 0)).not.to.throw();
    const once = spawnSync(process.execPath, [CLI, 'dash', '--socket', SOCKET, '--once'], { encoding: 'utf8' });
    expect(once.status).to.equal(1);
    expect(once.stderr).to.match(/not reachable at \/run\/socksalp-test-dash\/control\.sock/);
    expect(screen()).not.to.match(/\n\s+at /);
  });

  it('reconnects by itself when the appliance is back', async function () {
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
    await until('the data to come back', () => /socksalp \d+\.\d+\.\d+ {2}up /.test(screen()) && !/not reachable/.test(screen()));
    tmux('send-keys', '-t', SESSION, 'q');
    await until('the dashboard to quit on q', () => tmux('has-session', '-t', SESSION).status !== 0);
  });
});
