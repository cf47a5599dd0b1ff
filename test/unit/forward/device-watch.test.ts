import { expect } from 'chai';
import type { PacketDevice } from '../../../appliance/device/device';
import { DeviceWatch } from '../../../appliance/forward/device-watch';
import { ServerHealth } from '../../../appliance/forward/health';

/** A device that fails when told and comes back when `present` says so. */
function device(name: string) {
  const d = {
    name, kind: 'tap', fd: 3, failure: undefined as string | undefined, present: true, reopened: 0,
    stats: { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, errors: 0 },
    read: () => 0, write: () => true, close: () => { d.fd = -1; },
    fail: (why: string) => { d.failure ??= why; },
    reopen: () => {
      if (!d.present) return false;
      d.reopened++;
      d.fd = 4;
      d.failure = undefined;
      return true;
    },
  };
  return d;
}

describe('forward/device-watch: devices that vanish and come back', function () {
  it('logs a failure once, takes the servers behind it down at once, reopens it every second until it is there, then brings them back', function () {
    const tun = device('alp0');
    const tap = device('alp-sa');
    const logs: string[] = [];
    const gone: string[] = [];
    const health = new ServerHealth(2, (l) => logs.push(l), ['sa', 'sb']);
    health.resolved.fill(true);
    const w = new DeviceWatch([tun, tap] as unknown as PacketDevice[], [[], [0, 1]], ['sa', 'sb'], health, (s, why) => gone.push(`${s} ${why}`), (l) => logs.push(l));
    const revived: number[] = [];
    w.onReopened = (i) => revived.push(i);
    w.check(1);
    expect(logs).to.deep.equal([]);
    tap.fail('read: File descriptor in bad state');
    tap.present = false;
    w.check(1.1);
    expect(logs).to.deep.equal(['device alp-sa failed (read: File descriptor in bad state); server(s) sa, sb are down until it returns; reopening it every 1 s']);
    expect([health.usable(0), health.usable(1)]).to.deep.equal([false, false]);
    expect(gone).to.deep.equal(['0 lost its device alp-sa', '1 lost its device alp-sa']);
    tap.close();
    for (const now of [1.5, 2.2, 3.3]) w.check(now);
    expect(tap.reopened).to.equal(0);
    tap.present = true;
    w.check(3.9);
    expect(tap.reopened, 'not before a second since the last try').to.equal(0);
    w.check(4.4);
    expect([tap.reopened, revived, logs.pop()]).to.deep.equal([1, [1], 'device alp-sa is back']);
    expect([health.usable(0), health.usable(1)]).to.deep.equal([true, true]);
    w.check(10);
    expect(logs.filter((l) => /failed/.test(l))).to.have.length(1);
  });

  it('the TUN: the intranet is said to be unreachable; no server is taken down', function () {
    const tun = device('alp0');
    const logs: string[] = [];
    const health = new ServerHealth(1, () => undefined, ['sa']);
    health.resolved.fill(true);
    const w = new DeviceWatch([tun] as unknown as PacketDevice[], [[]], ['sa'], health, () => undefined, (l) => logs.push(l));
    tun.fail('write: Input/output error');
    w.check(1);
    expect(logs[0]).to.match(/^device alp0 failed \(write: Input\/output error\); the intranet is unreachable until it returns/);
    expect(health.usable(0)).to.equal(true);
  });
});
