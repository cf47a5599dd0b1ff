import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlSha256, labFacts, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const egress = (lab: LabFacts, server: string) => lab[`LAB_SERVER_${server.toUpperCase()}_EGRESS`];

/** Removes a section from an INI file. */
function dropSection(path: string, name: string): void {
  writeFileSync(path, readFileSync(path, 'utf8').replace(new RegExp(`^\\[${name}\\][^[]*`, 'm'), ''));
}

let downloads = 0;

/**
 * One download through the VIP; the sha256 of what curl got and the address nginx saw. The URL
 * gets a query of its own, so that another download ending meanwhile is not taken for it.
 */
async function download(lab: LabFacts, flag: string, url: string): Promise<{ sha256: string; carrier: string }> {
  const before = webLog(lab).length;
  const mine = `${url}?download=${++downloads}`;
  const d = await curlSha256(lab.LAB_NS_CLIENT, [flag, `${lab.LAB_VIP}:1080`, mine]);
  expect(d.status, `curl ${flag} ${url}: ${d.stderr}`).to.equal(0);
  const path = new URL(mine).pathname + new URL(mine).search;
  const lines = webLog(lab).slice(before).filter((l) => l.split(' ')[1] === path);
  expect(lines, `nginx saw one request for curl ${flag}`).to.have.length(1);
  return { sha256: d.sha256, carrier: lines[0].split(' ')[0] };
}

/**
 * Dialect translation on the server leg, with no SOCKS4a server at all: the lab's OpenSSH
 * server (sd) left out, and sa (Dante) told to speak only SOCKS4. SOCKS4a and SOCKS5 clients
 * are carried by the server the ALP tables choose, in a dialect it speaks.
 */
describe('server leg: any client dialect reaches any server that can carry it', function () {
  this.timeout(120_000);
  const SOCKET = '/run/socksalp-test-dialects/control.sock';
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    dropSection(join(dir, 'servers.ini'), 'sd');
    editIni(join(dir, 'servers.ini'), { 'sa alps': 'http, ssl\nversions = 4' });
  });

  it('SOCKS4a to a SOCKS4-only Dante is not possible, so microsocks (SOCKS5) carries it, translated', async function () {
    const lab = s.lab;
    const d = await download(lab, '--socks4a', lab.LAB_BIG_URL);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
    expect(d.carrier).to.equal(egress(lab, 'sc'));
  });

  it('SOCKS5 with an IPv4 destination goes to sa in SOCKS4; with a name, to sc in SOCKS5', async function () {
    const lab = s.lab;
    const v4 = await download(lab, '--socks5', `http://${lab.LAB_WEB_ADDR}/big.bin`);
    expect(v4).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, carrier: egress(lab, 'sa') });
    const name = await download(lab, '--socks5-hostname', lab.LAB_BIG_URL);
    expect(name).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, carrier: egress(lab, 'sc') });
  });

  it('SOCKS4 with an address to sa as it came, and ctl conns shows each leg\'s dialect', async function () {
    const lab = s.lab;
    const d = await download(lab, '--socks4', `http://${lab.LAB_WEB_ADDR}/big.bin`);
    expect(d).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, carrier: egress(lab, 'sa') });
    // A connection held open, translated: SOCKS4a to microsocks.
    const held = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'socat', '-T', '30', '-', `SOCKS4A:${lab.LAB_VIP}:${lab.LAB_WEB_HOST}:80,socksport=1080`], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      let conns = '';
      for (let i = 0; i < 50 && !/ spliced /.test(conns); i++) {
        await new Promise((r) => setTimeout(r, 100));
        conns = cli('ctl', '--socket', SOCKET, 'conns').stdout;
      }
      expect(conns).to.match(/\shttp\s+web\.socksalp\.test:80\s+sc\s+\d+\s+spliced\s+4a>5\s/);
      const dash = cli('dash', '--socket', SOCKET, '--once', '--width', '140').stdout;
      expect(dash).to.match(/\shttp\s+web\.socksalp\.test:80\s+sc\s+\d+\s+spliced\s+4a>5\s/);
      const st = JSON.parse(cli('ctl', '--socket', SOCKET, 'status').stdout);
      expect(st.dispatcher.translated).to.be.greaterThan(0);
    } finally {
      held.kill();
    }
  });
});

/**
 * The appliance logs in to the lab's authenticating Dante (se: `socksmethod: username`) with
 * its own username and password, whatever its clients offered. A reload to a wrong password
 * leaves established connections alone; new ones make se a failed server and go to the next.
 * The password is in no log, `ctl` answer, dashboard or `check` summary.
 */
describe('server leg: the appliance authenticates to its servers', function () {
  this.timeout(120_000);
  const SOCKET = '/run/socksalp-test-auth/control.sock';
  let password = '';
  const wrong = 'Wr0ng-but-distinctive-Pa55';
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    const lab = labFacts();
    password = readFileSync(lab.LAB_SE_PASSWORD_FILE, 'utf8').trim();
    editIni(join(dir, 'alp.ini'), { 'http ports': '80' });
    writeFileSync(join(dir, 'alp.ini'), readFileSync(join(dir, 'alp.ini'), 'utf8') + '\n[http-auth]\nports = 8080\npriority = 7\ndiscard_eligible = no\n');
    editIni(join(dir, 'servers.ini'), { 'sc alps': 'http, ssl, http-auth' });
    writeFileSync(join(dir, 'servers.ini'), readFileSync(join(dir, 'servers.ini'), 'utf8') +
      `\n[se]\naddress = 198.19.5.2\ntap = alp-se\nlocal = 198.19.5.1/24\ncapacity = 15\nalps = http-auth\nusername = ${lab.LAB_SE_USER}\npassword_file = ${lab.LAB_SE_PASSWORD_FILE}\n`);
    writeFileSync(join(dir, 'wrong.password'), `${wrong}\n`, { mode: 0o600 });
  }, [/server se refused the appliance's username and password/]);

  const url = (lab: LabFacts) => `http://${lab.LAB_WEB_HOST}:8080/big.bin`;
  const addr = (lab: LabFacts) => `http://${lab.LAB_WEB_ADDR}:8080/big.bin`;

  it('carries no-auth clients of all four dialects through se', async function () {
    const lab = s.lab;
    for (const [flag, target] of [['--socks4', addr], ['--socks4a', url], ['--socks5', addr], ['--socks5-hostname', url]] as const) {
      const d = await download(lab, flag, target(lab));
      expect(d, flag).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, carrier: egress(lab, 'se') });
    }
  });

  it('a reload to a wrong password keeps the running download; new connections fail over from se, which says why', async function () {
    const lab = s.lab;
    // A download slow enough to still run across the reload.
    const running = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '16M', '--socks5-hostname', `${lab.LAB_VIP}:1080`, url(lab)]);
    await new Promise((r) => setTimeout(r, 1000));
    editIni(join(s.conf, 'servers.ini'), { 'se password_file': join(s.conf, 'wrong.password') });
    const reload = cli('ctl', '--socket', SOCKET, 'reload');
    expect(reload.status, reload.stdout + reload.stderr).to.equal(0);
    const nextDownload = download(lab, '--socks4a', url(lab));
    // Held down for 2 s from the refusal: seen while the download that failed over runs.
    let list = '';
    for (let i = 0; i < 40 && !/^se\s.*\sfailing\s/m.test(list); i++) {
      await sleep(50);
      list = cli('ctl', '--socket', SOCKET, 'list').stdout;
    }
    expect(list).to.match(/^se\s.*\sfailing\s/m);
    const next = await nextDownload;
    expect(next).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, carrier: egress(lab, 'sc') });
    const first = await running;
    expect(first.status, first.stderr).to.equal(0);
    expect(first.sha256, 'the download that ran across the reload').to.equal(lab.LAB_BIG_SHA256);
    expect(s.app.output).to.match(/server se refused the appliance's username and password; held down/);
  });

  it('shows the password nowhere: log, ctl, dashboard, check', function () {
    const outputs = [
      s.app.output,
      ...['list', 'status', 'alps', 'conns'].map((v) => cli('ctl', '--socket', SOCKET, v).stdout),
      cli('dash', '--socket', SOCKET, '--once', '--width', '200').stdout,
      cli('check', '--config', s.conf).stdout,
      JSON.stringify(spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, 'status'], { encoding: 'utf8' })),
    ];
    expect(password.length).to.be.greaterThan(8);
    for (const o of outputs) {
      expect(o.includes(password), 'the lab password').to.equal(false);
      expect(o.includes(wrong), 'the wrong password').to.equal(false);
    }
    expect(outputs[outputs.length - 2]).to.include('password_file');
  });
});
