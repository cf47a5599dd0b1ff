import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ApplianceProcess, configCopy, ownServers } from '../lab/appliance-process';
import { controlRequest } from '../../appliance/control/client';

const NS = 'salab-devtest';
const SOCKET = '/run/socksalp-test-dev/control.sock';

function ip(...args: string[]) {
  return spawnSync('ip', args, { encoding: 'utf8' });
}

function links(): string {
  return ip('-n', NS, '-o', 'link', 'show').stdout;
}

/**
 * The device layer from outside: devices the configuration names but that do not exist are
 * created (and go when the appliance stops); a persistent device made beforehand is used and
 * left in place. In a namespace of its own, removed afterwards.
 */
describe('devices: created when absent, persistent ones kept', function () {
  this.timeout(30_000);
  let conf: string;

  before(function () {
    ip('netns', 'add', NS);
    // A persistent TAP made beforehand, as the lab or a boot script would.
    expect(ip('-n', NS, 'tuntap', 'add', 'mode', 'tap', 'name', 'keep0').status).to.equal(0);
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET, tun: 'new0' } });
    ownServers(conf, [
      '[a]\naddress = 198.19.7.2\ntap = keep0\nlocal = 198.19.7.1/24\ndefault = yes\n',
      '[b]\naddress = 198.19.8.2\ntap = new1\nlocal = 198.19.8.1/24\n',
    ]);
  });

  after(function () {
    ip('netns', 'del', NS);
    if (conf) ApplianceProcess.cleanup(conf);
  });

  it('creates the missing TUN and TAP, brings them up, and leaves the persistent TAP behind', async function () {
    const app = new ApplianceProcess(conf, SOCKET, {}, NS);
    try {
      const until = Date.now() + 10_000;
      for (;;) {
        try {
          await controlRequest(SOCKET, { cmd: 'status' }, 500);
          break;
        } catch (e) {
          if (Date.now() > until || app.exited !== null) throw new Error(`${(e as Error).message}\n${app.output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const running = links();
      expect(running).to.match(/: new0: <[^>]*\bUP\b/);
      expect(running).to.match(/: new1: <[^>]*\bUP\b/);
      expect(running).to.match(/: keep0: /);
    } finally {
      await app.finish();
    }
    const after = links();
    expect(after).not.to.match(/: new0: /);
    expect(after).not.to.match(/: new1: /);
    expect(after).to.match(/: keep0: /);
  });
});
