import { expect } from 'chai';
import { curlSha256 } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-fallback/control.sock';

/** Without the fdwatch addon the appliance waits with poll(2) on a koffi thread: it must still work. */
describe('dispatcher: without the fdwatch addon', function () {
  this.timeout(60_000);
  const s = applianceForSuite(SOCKET, {}, { SOCKSALP_NO_FDWATCH: '1' });

  it('says which readiness it uses and carries a download intact', async function () {
    expect(s.app.output).to.match(/readiness by poll\(2\) on a worker thread \(koffi\)/);
    const d = await curlSha256(s.lab.LAB_NS_CLIENT, ['--socks5-hostname', `${s.lab.LAB_VIP}:1080`, s.lab.LAB_BIG_URL]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.sha256).to.equal(s.lab.LAB_BIG_SHA256);
  });
});
