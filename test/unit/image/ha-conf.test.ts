import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPrefixAny } from '../../../appliance/addr/prefix';
import { formatSyncEndpoint } from '../../../appliance/config/ha-ini';
import { loadConfig } from '../../../appliance/config/load';
import { keepalivedConf } from '../../../appliance/host/keepalived';
import { REPO } from '../../lab/lab';

/**
 * image/conf.sh, the image's /etc/socksalp: for the HA pair's two images (`--ha a|b`) the same
 * files but for each one's own eth0 address, its peer's and its VRRP priority; the shared next
 * hop is the single image's eth0 address; no key is written. Needs no root and no lab.
 */
describe('the VM image\'s configuration (image/conf.sh), single and the HA pair', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function conf(...role: string[]): { dir: string; status: number | null; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), 'socksalp-image-conf-'));
    dirs.push(dir);
    const r = spawnSync('bash', [join(REPO, 'image', 'conf.sh'), dir, ...role], { encoding: 'utf8' });
    return { dir, status: r.status, stderr: r.stderr };
  }
  /** The operator's step: the pair's key, the same on both. */
  function withKey(dir: string): string {
    writeFileSync(join(dir, 'ha.key'), 'the-pair-key-0123456789abcdef\n');
    chmodSync(join(dir, 'ha.key'), 0o600);
    return dir;
  }
  const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n');

  it('gives a and b their own eth0 address and each the other as its sync peer, priority 150 and 100, the rest shared', function () {
    const single = conf();
    const a = conf('a');
    const b = conf('b');
    for (const c of [single, a, b]) expect(c.status, c.stderr).to.equal(0);
    for (const c of [a, b]) expect(existsSync(join(c.dir, 'ha.key')), 'no key in the image').to.equal(false);
    expect(existsSync(join(single.dir, 'ha.ini'))).to.equal(false);

    const s = loadConfig(single.dir);
    const ca = loadConfig(withKey(a.dir));
    const cb = loadConfig(withKey(b.dir));
    const eth0 = (c: typeof s) => [c.intranet.nic, formatPrefixAny(c.intranet.address!), formatPrefixAny(c.intranet.address6!)];
    expect(eth0(s)).to.deep.equal(['eth0', '198.18.0.1/24', '2001:db8:18::1/64']);
    expect(eth0(ca)).to.deep.equal(['eth0', '198.18.0.3/24', '2001:db8:18::3/64']);
    expect(eth0(cb)).to.deep.equal(['eth0', '198.18.0.4/24', '2001:db8:18::4/64']);
    const sync = (c: typeof s) => [formatSyncEndpoint(c.ha!.listen), c.ha!.peers.map(formatSyncEndpoint), c.ha!.role];
    expect(sync(ca)).to.deep.equal(['198.18.0.3:7500', ['198.18.0.4:7500'], 'backup']);
    expect(sync(cb)).to.deep.equal(['198.18.0.4:7500', ['198.18.0.3:7500'], 'backup']);
    // The shared next hop is what the single image's eth0 has: the clients' routes stay.
    const vrrp = (c: typeof s) => ({ ...c.ha!.vrrp!, addresses: c.ha!.vrrp!.addresses.map(formatPrefixAny) });
    expect(vrrp(ca)).to.deep.equal({
      interface: 'eth0', routerId: 18, priority: 150, advertInt: 1, addresses: ['198.18.0.1/24', '2001:db8:18::1/64'], unicastPeers: [], preempt: false,
    });
    expect(vrrp(cb)).to.deep.equal({ ...vrrp(ca), priority: 100 });

    // What differs between the two images' files, line by line: the role's lines only.
    const changed = (file: string) => lines(a.dir, file).flatMap((l, i) => (l === lines(b.dir, file)[i] ? [] : [[l, lines(b.dir, file)[i]]]));
    for (const f of ['alp.ini', 'servers.ini', 'diverted.ini', 'monitor.ini']) expect(changed(f), f).to.deep.equal([]);
    expect(changed('appliance.ini')).to.deep.equal([['address = 198.18.0.3/24, 2001:db8:18::3/64', 'address = 198.18.0.4/24, 2001:db8:18::4/64']]);
    expect(changed('ha.ini')).to.deep.equal([
      ['listen = 198.18.0.3:7500', 'listen = 198.18.0.4:7500'],
      ['peers = 198.18.0.4:7500', 'peers = 198.18.0.3:7500'],
      ['priority = 150', 'priority = 100'],
    ]);
    // And so in keepalived.conf: the priority alone.
    const cmd = { node: '/usr/bin/node', cli: '/opt/socksalp/dist/appliance/cli/index.js', health: '/opt/socksalp/appliance/host/keepalived-health.sh', socket: '/run/socksalp/control.sock' };
    const ka = keepalivedConf(ca.ha!.vrrp!, cmd).split('\n');
    const kb = keepalivedConf(cb.ha!.vrrp!, cmd).split('\n');
    expect(ka.flatMap((l, i) => (l === kb[i] ? [] : [[l.trim(), kb[i].trim()]]))).to.deep.equal([['priority 150', 'priority 100'], ['priority 150', 'priority 100']]);
  });

  it('refuses a role other than a or b, naming it', function () {
    const c = conf('c');
    expect(c.status).to.equal(2);
    expect(c.stderr).to.equal("image: the HA role is a or b, not 'c'\n");
  });
});
