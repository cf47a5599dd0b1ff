import { expect } from 'chai';
import { curlSha256, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-fallback/control.sock';

/** Without the fdwatch addon the appliance waits with poll(2) on a koffi thread: it must still work. */
describe('dispatcher: without the fdwatch addon', function () {
  this.timeout(60_000);
  let lab: LabFacts;
  let conf: string;
  let app: ApplianceProcess;

  before(async function () {
    lab = useLab();
    conf = configCopy({ 'appliance.ini': { control_socket: SOCKET } });
    app = new ApplianceProcess(conf, SOCKET, { SOCKSALP_NO_FDWATCH: '1' });
    await app.ready();
  });

  after(async function () {
    await app?.stop();
    if (conf) ApplianceProcess.cleanup(conf);
  });

  it('says which readiness it uses and carries a download intact', async function () {
    expect(app.output).to.match(/readiness by poll\(2\) on a worker thread \(koffi\)/);
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', `${lab.LAB_VIP}:1080`, lab.LAB_BIG_URL]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
  });
});
