import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchVia, REPO, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, dualStackCopy } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-divert6/control.sock';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const ctl = (...args: string[]) => spawnSync(process.execPath, [CLI, 'ctl', '--socket', SOCKET, ...args], { encoding: 'utf8' });

/**
 * The diverted-address table with IPv6 entries for SOCKS connections, seen from outside: curl
 * asks for one web address, nginx says which of its addresses served the request
 * ($server_addr), the bytes are right (sha256). Entries within IPv6 and across the families,
 * through the IPv6 VIP and the IPv4 one, carried by sa (an IPv4 segment; its Dante reaches both
 * families) and by sf (the IPv6-only segment).
 */
describe('divert6: SOCKS connections follow IPv6 entries of the diverted-address table', function () {
  this.timeout(180_000);
  let lab: LabFacts;
  let conf: string | undefined;
  let app: ApplianceProcess | undefined;

  async function start(http: string[]): Promise<void> {
    conf = dualStackCopy(lab, http, { 'appliance.ini': { control_socket: SOCKET } });
    writeFileSync(join(conf, 'diverted.ini'), [
      '; IPv6 diversions',
      '[diverted]',
      `[${lab.LAB_WEB6}]:8080 = [${lab.LAB_MIRROR6}]:8080`,
      `${lab.LAB_WEB_ADDR}:8080 = ${lab.LAB_MIRROR6}`,
      `[${lab.LAB_MIRROR6}]:80 = ${lab.LAB_WEB_ADDR}`,
      '',
    ].join('\n'));
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  }

  async function stop(): Promise<void> {
    try {
      await app?.finish();
    } finally {
      if (conf) ApplianceProcess.cleanup(conf);
      app = conf = undefined;
    }
  }

  before(function () {
    lab = useLab();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && app) process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  /** A download of the large file: its bytes must be right; who served it. */
  async function served(flag: string, vip: string, host: string): Promise<string> {
    const d = await fetchVia(lab, flag, vip, { host });
    expect(d.status, `curl ${flag} ${host}: ${d.stderr}`).to.equal(0);
    expect(d.sha256, `curl ${flag} ${host}`).to.equal(lab.LAB_BIG_SHA256);
    return d.mirror;
  }

  for (const carrier of ['sa', 'sf']) {
    describe(`carried by ${carrier}`, function () {
      before(async function () {
        await start([carrier]);
      });
      after(stop);

      it('IPv6 to IPv6 ([web6]:8080 -> [mirror6]:8080), IPv4 to IPv6 (SOCKS4 by address: the leg asks in SOCKS5), IPv6 to IPv4', async function () {
        const vip6 = `[${lab.LAB_VIP6}]:1080`;
        const vip4 = `${lab.LAB_VIP}:1080`;
        expect(await served('--socks5', vip6, `[${lab.LAB_WEB6}]:8080`)).to.equal(lab.LAB_MIRROR6);
        expect(await served('--socks4', vip4, `${lab.LAB_WEB_ADDR}:8080`)).to.equal(lab.LAB_MIRROR6);
        expect(await served('--socks5', vip4, `[${lab.LAB_MIRROR6}]`)).to.equal(lab.LAB_WEB_ADDR);
        // Not diverted: port 80 of web6.
        expect(await served('--socks5', vip6, `[${lab.LAB_WEB6}]`)).to.equal(lab.LAB_WEB6);
        expect(JSON.parse(ctl('status').stdout).dispatcher.diverted).to.equal(3);
      });

      it('ctl divert: list shows brackets; add and remove an IPv6 entry live; save writes RFC 5952 text', async function () {
        const list = ctl('divert', 'list');
        expect(list.stdout).to.match(new RegExp(`^\\[${lab.LAB_WEB6}\\]:8080\\s+\\[${lab.LAB_MIRROR6}\\]:8080\\s*$`, 'm'));
        // Written long-hand: stored and shown in canonical text.
        const add = ctl('divert', 'add', `[${lab.LAB_WEB6.replace('::', ':0:0:0:0:')}]:80`, lab.LAB_MIRROR6);
        expect(add.status, add.stderr).to.equal(0);
        expect(add.stdout).to.match(new RegExp(`^added \\[${lab.LAB_WEB6}\\]:80 -> ${lab.LAB_MIRROR6}; `, 'm'));
        expect(await served('--socks5-hostname', `[${lab.LAB_VIP6}]:1080`, lab.LAB_WEB6_HOST)).to.equal(lab.LAB_WEB6);
        expect(await served('--socks5', `[${lab.LAB_VIP6}]:1080`, `[${lab.LAB_WEB6}]`)).to.equal(lab.LAB_MIRROR6);
        const save = ctl('divert', 'save');
        expect(save.status, save.stderr).to.equal(0);
        const saved = readFileSync(join(conf!, 'diverted.ini'), 'utf8');
        expect(saved).to.include('; IPv6 diversions\n');
        expect(saved).to.match(new RegExp(`^\\[${lab.LAB_WEB6}\\]:80 = ${lab.LAB_MIRROR6}$`, 'm'));
        const check = spawnSync(process.execPath, [CLI, 'check', '--config', conf!], { encoding: 'utf8' });
        expect(check.status, check.stderr).to.equal(0);
        expect(check.stdout).to.include(`[${lab.LAB_WEB6}]:80`);
        expect(ctl('divert', 'remove', `[${lab.LAB_WEB6}]:80`).status).to.equal(0);
        expect(await served('--socks5', `[${lab.LAB_VIP6}]:1080`, `[${lab.LAB_WEB6}]`)).to.equal(lab.LAB_WEB6);
      });
    });
  }
});
