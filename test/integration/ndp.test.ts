import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ApplianceProcess, configCopy, ownServers } from '../lab/appliance-process';

const NS = 'salab-nd6';
const TAP = 'nd6s0';
const SOCKET = '/run/socksalp-test-nd6/control.sock';
const LOCAL6 = '2001:db8:19:7::1';
const SERVER6 = '2001:db8:19:7::2';
/** The appliance's MAC on the segment: 02:53:41 and the low 24 bits of its local6. */
const APP_MAC = '02:53:41:00:00:01';

function run(cmd: string, ...args: string[]) {
  return spawnSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8', timeout: 10_000 });
}

function neighbour(): string {
  return run('ip', '-6', 'neigh', 'show', LOCAL6, 'dev', TAP).stdout.trim();
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Neighbor Discovery against a real Linux neighbour: the kernel of a namespace of its own is
 * the IPv6 server, on the far side of the appliance's TAP (no bridge: the TAP's kernel side is
 * the server's NIC). The appliance must resolve it by solicitation, and answer the kernel's
 * solicitations, unicast and multicast, and its duplicate address detection for local6.
 */
describe('ndp: Neighbor Discovery with a Linux neighbour', function () {
  this.timeout(60_000);
  let conf: string;
  let app: ApplianceProcess;

  before(async function () {
    spawnSync('ip', ['netns', 'del', NS]);
    expect(spawnSync('ip', ['netns', 'add', NS]).status).to.equal(0);
    expect(run('ip', 'tuntap', 'add', 'mode', 'tap', 'name', TAP).status).to.equal(0);
    // The server's address, without duplicate address detection (nothing else claims it).
    expect(run('ip', 'addr', 'add', `${SERVER6}/64`, 'dev', TAP, 'nodad').status).to.equal(0);
    expect(run('ip', 'link', 'set', TAP, 'up').status).to.equal(0);
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET, tun: 'nd6t0' } });
    ownServers(conf, [`[sf]\naddress = ${SERVER6}\nport = 1080\ntap = ${TAP}\nlocal = ${LOCAL6}/64\ndefault = yes\n`]);
    app = new ApplianceProcess(conf, SOCKET, {}, NS);
    // Up means resolved: the kernel answered the appliance's solicitation.
    await app.ready();
  });

  after(async function () {
    try {
      await app?.finish();
    } finally {
      spawnSync('ip', ['netns', 'del', NS]);
      if (conf) ApplianceProcess.cleanup(conf);
    }
  });

  it('resolves the server by solicitation; the kernel learned the appliance from its source link-layer option', async function () {
    const servers = (await app.ask({ cmd: 'servers' })).servers as { name: string; state: string }[];
    expect(servers.map((s) => `${s.name} ${s.state}`)).to.deep.equal(['sf up']);
    expect(neighbour()).to.match(new RegExp(`^${LOCAL6} lladdr ${APP_MAC} `));
  });

  it('answers ndisc6\'s solicitation with its MAC', function () {
    run('ip', '-6', 'neigh', 'flush', 'dev', TAP);
    const r = run('ndisc6', '-1', '-r', '3', '-w', '1000', LOCAL6, TAP);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`Target link-layer address: ${APP_MAC.toUpperCase()}`, 'i'));
  });

  it('answers the kernel\'s own resolution: the neighbour entry becomes REACHABLE at the segment MAC', async function () {
    run('ip', '-6', 'neigh', 'flush', 'dev', TAP);
    expect(neighbour()).to.equal('');
    // Anything to local6 makes the kernel resolve it; the echo's answer is not what is tested.
    run('ping', '-6', '-c', '1', '-W', '1', LOCAL6);
    await until('a REACHABLE entry', () => new RegExp(`^${LOCAL6} lladdr ${APP_MAC} (router )?REACHABLE$`).test(neighbour()));
  });

  it('defends local6: the kernel\'s duplicate address detection for it fails', async function () {
    expect(run('ip', 'addr', 'add', `${LOCAL6}/64`, 'dev', TAP).status).to.equal(0);
    try {
      await until('dadfailed', () => /dadfailed/.test(run('ip', '-6', 'addr', 'show', 'dev', TAP).stdout));
    } finally {
      run('ip', 'addr', 'del', `${LOCAL6}/64`, 'dev', TAP);
    }
  });
});
