import type { PacketDevice } from '../device/device';
import type { ServerHealth } from './health';

/** Seconds between two attempts to reopen a failed device. */
const RETRY = 1;

/**
 * Devices that vanish and come back. A read or write error on a TUN or TAP (the device deleted,
 * or set down: EBADFD, EIO, ENODEV) or the poll's POLLERR marks it failed (device.ts); at the
 * next tick it is logged once, and the servers behind a TAP are marked down, so that new
 * connections go elsewhere at once and handshakes under way there fail over. The device is
 * reopened every second (re-created when this process created it, else when its maker has made
 * it again; one set down, once it is set up again); then it is watched again and its servers
 * come back. The TUN is handled the same
 * way: the intranet is unreachable until it returns. Established connections keep their
 * entries meanwhile: TCP's retransmissions carry them on if the device returns in time.
 */
export class DeviceWatch {
  private readonly down: boolean[];
  private readonly nextTry: number[];
  /** Set by the appliance: device `index` has a new descriptor to watch. */
  onReopened: (index: number) => void = () => undefined;

  constructor(
    private readonly devices: readonly PacketDevice[],
    /** Per device index, the servers behind it (none for the TUN). */
    private readonly serversOn: readonly number[][],
    private readonly names: readonly string[],
    private readonly health: ServerHealth,
    private readonly serverGone: (server: number, why: string) => void,
    private readonly log: (message: string) => void,
  ) {
    this.down = devices.map(() => false);
    this.nextTry = devices.map(() => 0);
  }

  /** Each tick: new failures noticed, failed devices tried again when due. */
  check(now: number): void {
    for (let i = 0; i < this.devices.length; i++) {
      const d = this.devices[i];
      if (!this.down[i]) {
        if (d.failure === undefined) continue;
        this.down[i] = true;
        this.nextTry[i] = now + RETRY;
        const servers = this.serversOn[i];
        const what = servers.length === 0 ? 'the intranet is unreachable' : `server(s) ${servers.map((s) => this.names[s]).join(', ')} are down`;
        this.log(`device ${d.name} failed (${d.failure}); ${what} until it returns; reopening it every ${RETRY} s`);
        for (const s of servers) {
          this.health.setDeviceDown(s, true);
          this.serverGone(s, `lost its device ${d.name}`);
        }
        continue;
      }
      if (now < this.nextTry[i]) continue;
      this.nextTry[i] = now + RETRY;
      if (!d.reopen()) continue;
      this.down[i] = false;
      for (const s of this.serversOn[i]) this.health.setDeviceDown(s, false);
      this.log(`device ${d.name} is back`);
      this.onReopened(i);
    }
  }
}
