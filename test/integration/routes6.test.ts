import { expect } from 'chai';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplianceProcess, dualStackCopy } from '../lab/appliance-process';
import { curlSha256, inNs, useLab, webLog, type LabFacts } from '../lab/lab';
import { execFileSync, spawnSync } from 'node:child_process';

const SOCKET = '/run/socksalp-test/control.sock';
/** [intranet] mtu below the TUN's 1500: the way back to the client is the small link, as a client's path MTU can be. */
const SMALL_MTU = 1400;

/**
 * Non-SOCKS IPv6 through [routes] in the lab, judged from the client and the web host: the lab's
 * IPv6 internet (2001:db8:113::/64) routed to sf, the IPv6 router on the IPv6-only segment, and
 * the intranet's MTU made smaller than the web host's link, so the web host's segments toward
 * the client meet the appliance's Packet Too Big and path MTU discovery has to work. sf sends
 * the way back to the client through the appliance for this suite (a /128 via the appliance's
 * address on the segment, beside the lab's route through the host's kernel), and takes it out
 * again at the end.
 */
describe('routes6: IPv6 routed through [routes], with a small path MTU toward the client', function () {
  this.timeout(180_000);
  let lab: LabFacts;
  let conf: string | undefined;
  let app: ApplianceProcess | undefined;

  const wayBack = () => [lab.LAB_CLIENT6 + '/128', 'via', lab.LAB_SERVER_SF_LOCAL6.split('/')[0]];

  before(async function () {
    lab = useLab();
    execFileSync('ip', ['-n', lab.LAB_SERVER_SF_NS, '-6', 'route', 'add', ...wayBack()]);
    conf = dualStackCopy(lab, ['sf'], { 'appliance.ini': { control_socket: SOCKET, 'intranet mtu': String(SMALL_MTU) } });
    // [routes] is the last section of conf/'s appliance.ini.
    appendFileSync(join(conf, 'appliance.ini'), `\n${lab.LAB_INET6} = ${lab.LAB_ROUTER6_TAP} via ${lab.LAB_ROUTER6}\n`);
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  });

  after(async function () {
    try {
      await app?.finish();
    } finally {
      spawnSync('ip', ['-n', lab.LAB_SERVER_SF_NS, '-6', 'route', 'del', ...wayBack()]);
      if (conf) ApplianceProcess.cleanup(conf);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && app) process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  const status = async () => (await app!.ask({ cmd: 'status' })).status as { icmp6: { errors: number }; drops: Record<string, number> };

  it('curl -6 straight to the web host (no SOCKS): the large file intact, nginx seeing the client itself, the web host\'s path MTU learned from Packet Too Big', async function () {
    const before = await status();
    const uri = `/big.bin?routed6=${process.pid}`;
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['-6', '--max-time', '60', `http://[${lab.LAB_WEB6}]${uri}`]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
    const line = webLog(lab).find((l) => l.split(' ')[1] === uri);
    expect(line?.split(' ')[0], 'the remote address nginx logged').to.equal(lab.LAB_CLIENT6);
    const after = await status();
    expect(after.drops['packet-too-big'] - before.drops['packet-too-big'], 'segments too big for the way back').to.be.at.least(1);
    expect(after.icmp6.errors - before.icmp6.errors).to.be.at.least(1);
    // The web host keeps what it learned: the appliance's MTU toward the client.
    const route = inNs(lab.LAB_NS_INET, 'ip', ['-6', 'route', 'get', lab.LAB_CLIENT6, 'from', lab.LAB_WEB6]).stdout;
    expect(route).to.match(new RegExp(` mtu ${SMALL_MTU} `));
  });

  it('ping -6 of the web host with replies over the small MTU: they come back in fragments, forwarded as they are', async function () {
    const before = await status();
    const r = inNs(lab.LAB_NS_CLIENT, 'ping', ['-6', '-n', '-c', '3', '-i', '0.3', '-W', '2', '-s', String(SMALL_MTU), lab.LAB_WEB6]);
    expect(r.stdout).to.match(/3 packets transmitted, 3 received/);
    expect(r.stdout).to.match(new RegExp(`${SMALL_MTU + 8} bytes from ${lab.LAB_WEB6}`));
    // The web host knows the MTU (the download above): each fragment fits, none is put together and refused.
    expect((await status()).drops['packet-too-big']).to.equal(before.drops['packet-too-big']);
  });

  it('traceroute6 names the appliance by its IPv6 VIP, then sf, then the web host', function () {
    const trace = inNs(lab.LAB_NS_CLIENT, 'traceroute6', ['-n', '-q', '1', '-w', '2', '-m', '6', lab.LAB_WEB6]).stdout;
    const hops = trace.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]).filter(Boolean);
    expect(hops, trace).to.deep.equal([lab.LAB_APP6, lab.LAB_VIP6, lab.LAB_ROUTER6, lab.LAB_WEB6]);
  });

  it('a routed IPv6 UDP flow the diverted-address table diverts: answered by the mirror from the address the client asked (figure 3)', function () {
    const cli = join(__dirname, '..', '..', 'appliance', 'cli', 'index.js');
    const ctl = (...args: string[]) => inNs(lab.LAB_NS_APP, process.execPath, [cli, 'ctl', '--socket', SOCKET, ...args]);
    const original = `[${lab.LAB_WEB6}]:${lab.LAB_UDP_PORT}`;
    const ask = () => inNs(lab.LAB_NS_CLIENT, 'timeout', ['5', 'socat', '-T', '2', '-', `UDP6:${original}`], 'ping\n').stdout.split('\n')[0];
    expect(ask(), 'before the entry: the web host itself').to.equal(`mirror ${lab.LAB_WEB6}`);
    const add = ctl('divert', 'add', original, lab.LAB_MIRROR6, '--mode', 'move');
    expect(add.status, add.stdout + add.stderr).to.equal(0);
    try {
      // socat takes answers from the address it sent to only: the mirror's reply came back rewritten.
      expect(ask()).to.equal(`mirror ${lab.LAB_MIRROR6}`);
      const flows = ctl('flows').stdout;
      expect(flows).to.contain(`[${lab.LAB_MIRROR6}]:${lab.LAB_UDP_PORT}`);
    } finally {
      ctl('divert', 'remove', original, '--mode', 'move');
    }
  });
});
