import { expect } from 'chai';
import { keepalivedConf } from '../../../appliance/host/keepalived';
import type { VrrpSettings } from '../../../appliance/config/vrrp-ini';
import { parseAddress } from '../../../appliance/addr/address';
import { parsePrefixAny } from '../../../appliance/addr/prefix';

/** host/keepalived.ts: ha.ini [vrrp] in, keepalived.conf out, to the byte. */

const CMD = { node: '/usr/bin/node', cli: '/opt/socksalp/dist/appliance/cli/index.js', health: '/opt/socksalp/appliance/host/keepalived-health.sh', socket: '/run/socksalp/control.sock' };
const both: VrrpSettings = {
  interface: 'intra0', routerId: 18, priority: 150, advertInt: 0.5,
  addresses: ['198.18.0.1/24', '2001:db8:18::1/64'].map((t) => parsePrefixAny(t)!), unicastPeers: [], preempt: true,
};
const SCRIPT = '"/usr/bin/node /opt/socksalp/dist/appliance/cli/index.js ctl';
const SOCK = '--socket /run/socksalp/control.sock"';

function instance(name: string, address: string, extra: string[] = []): string[] {
  return [
    `vrrp_instance ${name} {`,
    '    state BACKUP',
    '    interface intra0',
    '    version 3',
    '    virtual_router_id 18',
    '    priority 150',
    '    advert_int 0.5',
    ...extra,
    '    virtual_ipaddress {',
    `        ${address}`,
    '    }',
    '    track_script {',
    '        socksalp_health',
    '    }',
    `    notify_master ${SCRIPT} role master ${SOCK}`,
    `    notify_backup ${SCRIPT} role backup ${SOCK}`,
    `    notify_fault ${SCRIPT} role backup ${SOCK}`,
    `    notify_stop ${SCRIPT} role backup ${SOCK}`,
    '}',
  ];
}

const HEAD = [
  '! keepalived.conf of a socksalp appliance of an HA pair, written by `socksalp keepalived`',
  '! from ha.ini [vrrp]: write it again after an edit of ha.ini rather than editing it.',
  'global_defs {',
  '    script_user root',
  '    enable_script_security',
  '}',
  '',
  'vrrp_script socksalp_health {',
  '    script "/opt/socksalp/appliance/host/keepalived-health.sh /run/socksalp/control.sock"',
  '    interval 1',
  '    timeout 2',
  '    fall 2',
  '    rise 1',
  '}',
];

describe('host/keepalived: keepalived.conf from ha.ini [vrrp]', function () {
  it('writes one VRRPv3 instance per family in one sync group, with the health script and the notify scripts', function () {
    expect(keepalivedConf(both, CMD)).to.equal([
      ...HEAD,
      '',
      'vrrp_sync_group socksalp {',
      '    group {',
      '        socksalp_v4',
      '        socksalp_v6',
      '    }',
      '}',
      '',
      ...instance('socksalp_v4', '198.18.0.1/24'),
      '',
      ...instance('socksalp_v6', '2001:db8:18::1/64'),
      '',
    ].join('\n'));
  });

  it('writes one family without a sync group, with its unicast peers and nopreempt', function () {
    const v6: VrrpSettings = { ...both, addresses: [both.addresses[1]], unicastPeers: ['198.18.0.4', '2001:db8:18::4'].map((t) => parseAddress(t)!), preempt: false };
    expect(keepalivedConf(v6, CMD)).to.equal([
      ...HEAD,
      '',
      ...instance('socksalp_v6', '2001:db8:18::1/64', ['    nopreempt', '    unicast_peer {', '        2001:db8:18::4', '    }']),
      '',
    ].join('\n'));
  });

  it('refuses a path keepalived would split or take for a comment', function () {
    expect(() => keepalivedConf(both, { ...CMD, socket: '/run/my socket' })).to.throw(/control socket's path "\/run\/my socket" is not one keepalived can run/);
    expect(() => keepalivedConf(both, { ...CMD, cli: 'dist/index.js' })).to.throw(/socksalp CLI's path/);
    expect(() => keepalivedConf(both, { ...CMD, node: '/opt/node#20/bin/node' })).to.throw(/node's path/);
  });
});
