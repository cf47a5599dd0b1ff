import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curlSha256, inNs, REPO, useLab, webLog, type LabFacts } from '../lab/lab';

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

  it('se takes only its user\'s username and password: with them the large file arrives intact, without them curl is refused', async function () {
    const password = readFileSync(lab.LAB_SE_PASSWORD_FILE, 'utf8').split('\n')[0];
    expect(password).to.match(/^[A-Za-z0-9_-]{20}$/);
    const before = webLog(lab).length;
    const d = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `${lab.LAB_SE_USER}:${password}`, lab.LAB_BIG_URL]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
    const lines = webLog(lab).slice(before);
    expect(lines).to.have.length(1);
    expect(lines[0].split(' ')[0]).to.equal(lab.LAB_SERVER_SE_EGRESS);
    const refused: [string, string[], RegExp][] = [
      ['no credentials', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS], /No authentication method was acceptable/],
      ['a wrong password', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `${lab.LAB_SE_USER}:${password}x`], /User was rejected/],
      ['another user', ['--socks5-hostname', lab.LAB_SERVER_SE_SOCKS, '-U', `nobody:${password}`], /User was rejected/],
      ['SOCKS4', ['--socks4', lab.LAB_SERVER_SE_SOCKS], /SOCKS4/],
    ];
    for (const [what, args, why] of refused) {
      const r = await curlSha256(lab.LAB_NS_CLIENT, [...args, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
      expect(r.status, `${what}: ${r.stderr}`).to.equal(97);
      expect(r.stderr, what).to.match(why);
    }
    expect(webLog(lab).slice(before), 'nothing refused reached the web server').to.have.length(1);
  });

  it('keeps se\'s password in a root-only file that socksalp check takes as a password_file', function () {
    const st = statSync(lab.LAB_SE_PASSWORD_FILE);
    expect(st.mode & 0o777).to.equal(0o600);
    expect(st.uid).to.equal(0);
    const dir = mkdtempSync(join(tmpdir(), 'socksalp-lab-se-'));
    try {
      for (const f of ['appliance.ini', 'alp.ini', 'servers.ini']) copyFileSync(join(REPO, 'conf', f), join(dir, f));
      const servers = readFileSync(join(dir, 'servers.ini'), 'utf8');
      writeFileSync(join(dir, 'servers.ini'), `${servers}\n[se]\naddress = 198.19.5.2\ntap = alp-se\nlocal = 198.19.5.1/24\nalps = http\nusername = ${lab.LAB_SE_USER}\npassword_file = ${lab.LAB_SE_PASSWORD_FILE}\n`);
      const r = spawnSync(process.execPath, [join(REPO, 'dist', 'appliance', 'cli', 'index.js'), 'check', '--config', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include(`username "${lab.LAB_SE_USER}", password_file "${lab.LAB_SE_PASSWORD_FILE}" (password: 20 bytes)`);
      expect(r.stdout + r.stderr).not.to.include(readFileSync(lab.LAB_SE_PASSWORD_FILE, 'utf8').trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the ALP ports with a banner naming the peer', function () {
    const r = inNs(lab.LAB_NS_CLIENT, 'socat', ['-T', '5', '-', `SOCKS4:${lab.LAB_SERVER_SB_SOCKS.split(':')[0]}:${lab.LAB_WEB_ADDR}:21,socksport=1080`], 'ping\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`socksalp-lab ftp ${lab.LAB_SERVER_SB_EGRESS}\nping\n`);
  });
});
