import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../lab/lab';
import { confCopies } from '../conf-dir';

const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');
const socksalp = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const HA = '[sync]\nlisten = 198.18.0.3:7500\npeers = 198.18.0.4:7500\nkey_file = ha.key\n';
const VRRP = '[vrrp]\ninterface = intra0\nrouter_id = 18\npriority = 150\nadvert_int = 0.5\naddress = 198.18.0.1/24, 2001:db8:18::1/64\n';

/** `socksalp keepalived` and `check`'s [vrrp] line, on a copy of conf/ with ha.ini. */
describe('socksalp keepalived', function () {
  this.timeout(20_000);
  const copy = confCopies();
  const conf = (ha: string) => {
    const d = copy({ 'ha.ini': ha, 'ha.key': 'the-sync-key-0123456789abcdef\n' });
    chmodSync(join(d, 'ha.key'), 0o600);
    return d;
  };

  it('prints keepalived.conf with this node, this CLI and the socket of --socket or appliance.ini', function () {
    const d = conf(HA + VRRP);
    const r = socksalp('keepalived', '--config', d, '--socket', '/run/socksalp-lab/ha/a.sock');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`    script "${join(REPO, 'appliance', 'host', 'keepalived-health.sh')} /run/socksalp-lab/ha/a.sock"\n`);
    expect(r.stdout).to.include(`    notify_master "${process.execPath} ${CLI} ctl role master --socket /run/socksalp-lab/ha/a.sock"\n`);
    expect(r.stdout.match(/^vrrp_instance /gm)).to.have.lengthOf(2);
    const own = socksalp('keepalived', '--config', d);
    expect(own.stdout).to.include('keepalived-health.sh /run/socksalp/control.sock"');
  });

  it('says what is missing without ha.ini or [vrrp], and answers --help', function () {
    const none = socksalp('keepalived', '--config', copy());
    expect([none.status, none.stdout]).to.deep.equal([1, '']);
    expect(none.stderr).to.match(/^socksalp keepalived: no ha\.ini in .*; \[vrrp\] names the interface, router_id and address keepalived needs\n$/);
    const noVrrp = socksalp('keepalived', '--config', conf(HA));
    expect(noVrrp.status).to.equal(1);
    expect(noVrrp.stderr).to.match(/^socksalp keepalived: ha\.ini has no \[vrrp\] section in /);
    const bad = socksalp('keepalived', '--config', conf(HA + VRRP.replace('router_id = 18', 'router_id = 256')));
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/^ha\.ini:\d+: \[vrrp\] router_id: expected a whole number from 1 to 255, got "256"\n1 problem in .*; nothing was written\n$/);
    const help = socksalp('keepalived', '--help');
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^Usage: socksalp keepalived \[--config DIR\] \[--socket PATH\]/);
  });

  it('has one line in check\'s summary', function () {
    const r = socksalp('check', '--config', conf(HA + VRRP + 'unicast_peers = 198.18.0.4, 2001:db8:18::4\npreempt = no\n'));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('  vrrp '))).to.deep.equal([
      '  vrrp       198.18.0.1/24, 2001:db8:18::1/64 on intra0, router_id 18, priority 150, advert_int 0.5s, unicast to 198.18.0.4, 2001:db8:18::4, nopreempt',
    ]);
  });
});
