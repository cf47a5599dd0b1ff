import { expect } from 'chai';
import { curlSha256, inNs, useLab, webLog, type LabFacts } from '../lab/lab';

/**
 * The lab itself, before any appliance: real clients reach real SOCKS servers directly, the
 * bytes arrive intact, and the web server says which SOCKS server carried each download.
 */
describe('lab: clients reach the SOCKS servers directly', function () {
  this.timeout(120_000);
  let lab: LabFacts;

  before(function () {
    lab = useLab();
  });

  it('has no route out of the lab in any namespace', function () {
    for (const key of Object.keys(lab).filter((k) => k.endsWith('_NS'))) {
      const r = inNs(lab[key], 'ip', ['-4', 'route', 'show', 'default']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim(), `${lab[key]} has a default route`).to.equal('');
    }
  });

  const cases: { server: string; flag: string; target: (l: LabFacts) => string }[] = [
    { server: 'SA', flag: '--socks4', target: (l) => `http://${l.LAB_WEB_ADDR}/big.bin` },
    { server: 'SA', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
    { server: 'SB', flag: '--socks4', target: (l) => `http://${l.LAB_WEB_ADDR}/big.bin` },
    { server: 'SB', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
    { server: 'SC', flag: '--socks5-hostname', target: (l) => l.LAB_BIG_URL },
  ];
  for (const c of cases) {
    it(`curl ${c.flag} through ${c.server.toLowerCase()} downloads the large file intact`, async function () {
      const before = webLog(lab).length;
      const d = await curlSha256(lab.LAB_NS_CLIENT, [c.flag, lab[`LAB_SERVER_${c.server}_SOCKS`], c.target(lab)]);
      expect(d.status, d.stderr).to.equal(0);
      expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
      const lines = webLog(lab).slice(before);
      expect(lines, 'one request reached the web server').to.have.length(1);
      expect(lines[0].split(' ')[0], 'the web server saw the SOCKS server\'s egress address').to.equal(lab[`LAB_SERVER_${c.server}_EGRESS`]);
    });
  }

  it('serves the ALP ports with a banner naming the peer', function () {
    const r = inNs(lab.LAB_NS_CLIENT, 'socat', ['-T', '5', '-', `SOCKS4:${lab.LAB_SERVER_SB_SOCKS.split(':')[0]}:${lab.LAB_WEB_ADDR}:21,socksport=1080`], 'ping\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`socksalp-lab ftp ${lab.LAB_SERVER_SB_EGRESS}\nping\n`);
  });
});
