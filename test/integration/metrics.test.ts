import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchVia, REPO, type LabFacts } from '../lab/lab';
import { applianceForSuite, editIni } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-metrics/control.sock';
const METRICS = '198.18.0.1:9130';
const CHECK = 'http, ssl\ncheck = 203.0.113.80:80\ncheck_http = /hello.txt\ncheck_interval = 1\ncheck_timeout = 1\nrise = 2\nfall = 2';

interface Scrape { code: number; type: string; text: string }

/** curl from the client namespace, as a Prometheus server elsewhere on the intranet would scrape. */
function curl(lab: LabFacts, args: string[]): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'curl', '-sS', '--max-time', '5', '-w', '\n%{http_code} %{content_type}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', reject);
    c.on('close', (status) => {
      if (status !== 0) return reject(new Error(`curl ${args.join(' ')}: status ${status}: ${err}`));
      const cut = out.lastIndexOf('\n');
      const [code, ...type] = out.slice(cut + 1).split(' ');
      resolve({ code: Number(code), type: type.join(' '), text: out.slice(0, cut) });
    });
  });
}

const scrape = (lab: LabFacts) => curl(lab, [`http://${METRICS}/metrics`]);

/** The sum of the samples of `name` whose labels include every one of `labels` (`server="sa"`). */
function total(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && labels.every((l) => (m[2] ?? '').includes(l))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * The Prometheus endpoint in the lab: scraped over HTTP from the client namespace while
 * downloads run through the appliance, its counters move with the traffic (connections by
 * the number of downloads, bytes by at least what curl received), the text passes Debian's
 * `promtool check metrics`, and a Dante server stopped shows as down in the per-server state.
 */
describe('metrics: the Prometheus endpoint scraped in the lab', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    appendFileSync(join(dir, 'appliance.ini'), `\n[metrics]\nlisten = ${METRICS}\n`);
    editIni(join(dir, 'servers.ini'), { 'sa alps': CHECK });
  });

  it('counts the downloads scraped while they run: connections by their number, bytes by at least what curl got', async function () {
    const lab = s.lab;
    const before = await scrape(lab);
    expect([before.code, before.type]).to.deep.equal([200, 'text/plain; version=0.0.4; charset=utf-8']);
    const downloads = 4;
    let running = true;
    const during: Scrape[] = [];
    const scraper = (async () => {
      while (running) {
        during.push(await scrape(lab));
        await sleep(200);
      }
    })();
    const got = await Promise.all(Array.from({ length: downloads }, () => fetchVia(lab, '--socks5', `${lab.LAB_VIP}:1080`)));
    running = false;
    await scraper;
    for (const d of got) expect(d.sha256, d.stderr).to.equal(lab.LAB_BIG_SHA256);
    expect(during.length, 'scrapes while the downloads ran').to.be.at.least(1);
    expect(during.every((r) => r.code === 200)).to.equal(true);
    expect(Math.max(...during.map((r) => total(r.text, 'socksalp_connection_table_entries'))), 'connections seen in the table while they ran').to.be.at.least(1);
    // A connection is counted when it leaves the table, after its FINs' linger.
    const http = (t: string) => total(t, 'socksalp_connections_total', 'alp="http"');
    let after = await scrape(lab);
    for (let i = 0; i < 50 && http(after.text) < http(before.text) + downloads; i++) {
      await sleep(200);
      after = await scrape(lab);
    }
    await sleep(1000);
    after = await scrape(lab);
    expect(http(after.text) - http(before.text), 'connections_total{alp="http"} grew by the downloads').to.equal(downloads);
    expect(total(after.text, 'socksalp_connections_total', 'alp="http"', 'outcome="fin"') - total(before.text, 'socksalp_connections_total', 'alp="http"', 'outcome="fin"')).to.equal(downloads);
    const received = got.reduce((n, d) => n + d.bytes, 0);
    const fromServers = (t: string) => total(t, 'socksalp_server_bytes_total', 'direction="from-server"');
    expect(fromServers(after.text) - fromServers(before.text), 'IP bytes from the servers').to.be.at.least(received);
    const handshakes = (t: string) => total(t, 'socksalp_handshake_duration_seconds_count');
    expect(handshakes(after.text) - handshakes(before.text), 'server-leg handshakes timed').to.be.at.least(downloads);
    expect(total(after.text, 'socksalp_build_info', `version="${require(join(REPO, 'package.json')).version}"`)).to.equal(1);
  });

  it('passes promtool check metrics (Debian\'s prometheus package)', async function () {
    const r = await scrape(s.lab);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
    expect(check.status, `promtool: ${check.stdout}${check.stderr}`).to.equal(0);
    expect(check.stdout + check.stderr).to.equal('');
  });

  it('answers 404 for other paths and 405 for other methods', async function () {
    expect((await curl(s.lab, [`http://${METRICS}/`])).code).to.equal(404);
    const post = await curl(s.lab, ['-X', 'POST', `http://${METRICS}/metrics`]);
    expect(post.code).to.equal(405);
    expect(post.text).to.not.match(/^\s+at /m);
  });

  it('a Dante server stopped shows as down in socksalp_server_state, and up again once it is back', async function () {
    const labSh = join(REPO, 'test', 'lab', 'lab.sh');
    const sh = (...a: string[]) => expect(spawnSync('bash', [labSh, ...a]).status, `lab.sh ${a.join(' ')}`).to.equal(0);
    const state = async (st: string) => total((await scrape(s.lab)).text, 'socksalp_server_state', 'server="sa"', `state="${st}"`);
    const until = async (what: string, test: () => Promise<boolean>) => {
      for (const t0 = Date.now(); !(await test());) {
        if (Date.now() - t0 > 10_000) throw new Error(`not within 10 s: ${what}`);
        await sleep(200);
      }
    };
    expect(await state('up')).to.equal(1);
    try {
      sh('stop-server', 'sa');
      await until('sa check-down in the metrics', async () => (await state('check-down')) === 1);
      const text = (await scrape(s.lab)).text;
      expect(total(text, 'socksalp_server_state', 'server="sa"'), 'one state at a time').to.equal(1);
      expect(total(text, 'socksalp_server_check_state', 'server="sa"', 'state="down"')).to.equal(1);
      expect(total(text, 'socksalp_server_checks_total', 'server="sa"', 'result="fail"')).to.be.at.least(2);
    } finally {
      sh('start-server', 'sa');
    }
    await until('sa up in the metrics', async () => (await state('up')) === 1);
  });
});
