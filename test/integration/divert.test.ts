import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curlSha256, REPO, webLog, type LabFacts } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-divert/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const ctl = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, ...args], { encoding: 'utf8' });

/** One download through the VIP: its sha256, and the mirror that served it (nginx's last log field). */
async function download(lab: LabFacts, flag: string, url: string, extra: string[] = []): Promise<{ sha256: string; mirror: string }> {
  const before = webLog(lab).length;
  const d = await curlSha256(lab.LAB_NS_CLIENT, [...extra, flag, `${lab.LAB_VIP}:1080`, url]);
  expect(d.status, `curl ${flag} ${url}: ${d.stderr}`).to.equal(0);
  const lines = webLog(lab).slice(before);
  expect(lines, `nginx saw one request for ${url}`).to.have.length(1);
  return { sha256: d.sha256, mirror: lines[0].split(' ').pop()! };
}

/**
 * The diverted-address table for SOCKS connections (the network-management patent's figure 3
 * applied to the late binding), seen from outside: curl asks for the web host, the mirror
 * serves it (nginx names the address each request reached), every byte is right, and the
 * client never learns of it.
 */
describe('divert: SOCKS connections follow the diverted-address table', function () {
  this.timeout(120_000);
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    writeFileSync(join(dir, 'diverted.ini'), [
      '; the web host\'s port 8080 is served by its mirror',
      '[diverted]',
      '203.0.113.80:8080 = 203.0.113.81',
      'web.socksalp.test:8080 = mirror.socksalp.test',
      '',
    ].join('\n'));
  });

  it('curl in all four dialects to port 8080 gets the right bytes, served by the mirror', async function () {
    const lab = s.lab;
    const byAddress = `http://${lab.LAB_WEB_ADDR}:8080/big.bin`;
    const byName = `http://${lab.LAB_WEB_HOST}:8080/big.bin`;
    for (const [flag, url] of [['--socks4', byAddress], ['--socks4a', byName], ['--socks5', byAddress], ['--socks5-hostname', byName]]) {
      expect(await download(lab, flag, url), flag).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, mirror: lab.LAB_MIRROR_ADDR });
    }
    // Port 80 is not diverted.
    expect(await download(lab, '--socks5', `http://${lab.LAB_WEB_ADDR}/big.bin`)).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, mirror: lab.LAB_WEB_ADDR });
    expect(JSON.parse(ctl('status').stdout).dispatcher.diverted).to.equal(4);
  });

  it('ctl divert add: a download under way stays on the original (drain), the next goes to the mirror; list, remove, save', async function () {
    const lab = s.lab;
    const url = `http://${lab.LAB_WEB_ADDR}/big.bin`;
    const before = webLog(lab).length;
    const running = curlSha256(lab.LAB_NS_CLIENT, ['--limit-rate', '16M', '--socks5', `${lab.LAB_VIP}:1080`, url]);
    await new Promise((r) => setTimeout(r, 1000));
    const add = ctl('divert', 'add', `${lab.LAB_WEB_ADDR}:80`, lab.LAB_MIRROR_ADDR);
    expect(add.status, add.stderr).to.equal(0);
    expect(add.stdout).to.match(/^added 203\.0\.113\.80:80 -> 203\.0\.113\.81; established connections stay where they are$/m);
    const next = await download(lab, '--socks4', url);
    expect(next).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, mirror: lab.LAB_MIRROR_ADDR });
    const first = await running;
    expect(first.sha256, 'the download under way').to.equal(lab.LAB_BIG_SHA256);
    const served = webLog(lab).slice(before).map((l) => l.split(' ').pop());
    expect(served, 'the first request reached the original, the second the mirror').to.include.members([lab.LAB_WEB_ADDR, lab.LAB_MIRROR_ADDR]);

    // A held connection shows what it asked for and where it went.
    const held = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'socat', '-T', '30', '-', `SOCKS4:${lab.LAB_VIP}:${lab.LAB_WEB_ADDR}:80,socksport=1080`], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      let conns = '';
      for (let i = 0; i < 50 && !/ spliced /.test(conns); i++) {
        await new Promise((r) => setTimeout(r, 100));
        conns = ctl('conns').stdout;
      }
      expect(conns).to.match(/\s203\.0\.113\.80:80->203\.0\.113\.81:80\s+\w+\s+\d+\s+spliced\s/);
    } finally {
      held.kill();
    }

    const list = ctl('divert', 'list');
    expect(list.stdout).to.match(/^203\.0\.113\.80:80\s+203\.0\.113\.81\s*$/m);
    expect(list.stdout).to.match(/^203\.0\.113\.80:8080\s+203\.0\.113\.81\s*$/m);
    const save = ctl('divert', 'save');
    expect(save.status, save.stderr).to.equal(0);
    const saved = readFileSync(join(s.conf, 'diverted.ini'), 'utf8');
    expect(saved).to.include('; the web host\'s port 8080 is served by its mirror');
    expect(saved).to.match(/^203\.0\.113\.80:80 = 203\.0\.113\.81$/m);
    const check = spawnSync(process.execPath, [CLI, 'check', '--config', s.conf], { encoding: 'utf8' });
    expect(check.status, check.stderr).to.equal(0);

    expect(ctl('divert', 'remove', `${lab.LAB_WEB_ADDR}:80`).status).to.equal(0);
    expect(await download(lab, '--socks4', url)).to.deep.equal({ sha256: lab.LAB_BIG_SHA256, mirror: lab.LAB_WEB_ADDR });
    const self = ctl('divert', 'add', lab.LAB_MIRROR_ADDR, lab.LAB_MIRROR_ADDR);
    expect(self.status).to.not.equal(0);
    expect(self.stderr).to.match(/itself/);
    const cycle = ctl('divert', 'add', `${lab.LAB_MIRROR_ADDR}:8080`, `${lab.LAB_WEB_ADDR}:8080`);
    expect(cycle.status).to.not.equal(0);
    expect(cycle.stderr).to.match(/cycle/);
  });
});
