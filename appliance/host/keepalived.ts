import { formatAddress, isV6 } from '../addr/address';
import { formatPrefixAny } from '../addr/prefix';
import type { VrrpSettings } from '../config/vrrp-ini';

/** What the scripts keepalived runs are made of: the node binary, socksalp's CLI, the health script, the control socket. */
export interface KeepalivedCommand {
  node: string;
  cli: string;
  /** keepalived-health.sh beside this file in the source tree (a shell and socat: it runs every second). */
  health: string;
  socket: string;
}

const HEALTH_SCRIPT = 'socksalp_health';
const GROUP = 'socksalp';

/**
 * keepalived.conf for one appliance of the HA pair (issue 16), from ha.ini [vrrp]: one VRRP
 * instance per address family of `address`, both VRRPv3 (RFC 5798: IPv6 has no other, and
 * for IPv4 it is what takes advert_int in hundredths; keepalived rounds a VRRPv2 interval to
 * whole seconds), in one sync group so that the families move together. Each starts as
 * BACKUP (the election, RFC 5798 6.4.1, picks the master), follows the appliance's health
 * (keepalived-health.sh asks what `ctl health` asks: a socksalp that stops serving goes to
 * FAULT and gives mastership up) and tells the appliance its role with `ctl role` on every
 * transition, and backup when keepalived itself stops. keepalived 2.2.7 takes a script's
 * interval and timeout in whole seconds only: every second, the fastest; one failed or slow
 * run alone does not make a fault, so a stopped appliance (its socket refuses at once) is seen
 * in 1 to 2 s, a hung one (no answer within the script's second) in 2 to 3.
 */
export function keepalivedConf(v: VrrpSettings, cmd: KeepalivedCommand): string {
  for (const [what, path] of [['node', cmd.node], ['socksalp CLI', cmd.cli], ['health script', cmd.health], ['control socket', cmd.socket]] as const) {
    // keepalived splits a script on white space and takes "#" and "!" for comments.
    if (!/^\/[A-Za-z0-9_./+@=:,-]*$/.test(path)) throw new Error(`the ${what}'s path ${JSON.stringify(path)} is not one keepalived can run: an absolute path of letters, digits and _ . / + @ = : , - only`);
  }
  const ctl = (args: string) => `"${cmd.node} ${cmd.cli} ctl ${args} --socket ${cmd.socket}"`;
  const families = [false, true].filter((v6) => v.addresses.some((p) => isV6(p.address) === v6));
  const name = (v6: boolean) => `${GROUP}_v${v6 ? 6 : 4}`;
  const lines = [
    '! keepalived.conf of a socksalp appliance of an HA pair, written by `socksalp keepalived`',
    '! from ha.ini [vrrp]: write it again after an edit of ha.ini rather than editing it.',
    'global_defs {',
    '    script_user root',
    '    enable_script_security',
    '}',
    '',
    `vrrp_script ${HEALTH_SCRIPT} {`,
    `    script "${cmd.health} ${cmd.socket}"`,
    '    interval 1',
    '    timeout 2',
    '    fall 2',
    '    rise 1',
    '}',
  ];
  if (families.length > 1) {
    lines.push('', `vrrp_sync_group ${GROUP} {`, '    group {', ...families.map((f) => `        ${name(f)}`), '    }', '}');
  }
  for (const v6 of families) {
    const peers = v.unicastPeers.filter((a) => isV6(a) === v6);
    lines.push(
      '',
      `vrrp_instance ${name(v6)} {`,
      '    state BACKUP',
      `    interface ${v.interface}`,
      '    version 3',
      `    virtual_router_id ${v.routerId}`,
      `    priority ${v.priority}`,
      `    advert_int ${v.advertInt}`,
      ...(v.preempt ? [] : ['    nopreempt']),
      ...(peers.length ? ['    unicast_peer {', ...peers.map((a) => `        ${formatAddress(a)}`), '    }'] : []),
      '    virtual_ipaddress {',
      ...v.addresses.filter((p) => isV6(p.address) === v6).map((p) => `        ${formatPrefixAny(p)}`),
      '    }',
      '    track_script {',
      `        ${HEALTH_SCRIPT}`,
      '    }',
      `    notify_master ${ctl('role master')}`,
      `    notify_backup ${ctl('role backup')}`,
      `    notify_fault ${ctl('role backup')}`,
      // keepalived stopping lets the peer take the addresses: this one must not stay master.
      `    notify_stop ${ctl('role backup')}`,
      '}',
    );
  }
  return lines.join('\n') + '\n';
}
