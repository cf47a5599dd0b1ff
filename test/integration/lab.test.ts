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

  /** The mirrors: the web host's own address and the mirror's. */
  const mirrors = (l: LabFacts) => [l.LAB_WEB_ADDR, l.LAB_MIRROR_ADDR];
  const serverNamespaces = (l: LabFacts) => l.LAB_SERVERS.split(',').map((s) => l[`LAB_SERVER_${s.toUpperCase()}_NS`]);
  const mirrorHeader = (headers: string) => /^X-Mirror: (\S+)\r?$/im.exec(headers)?.[1];

  it('resolves the mirror\'s name in the client\'s and every server\'s namespace', function () {
    expect(lab.LAB_MIRROR_ADDR).to.equal('203.0.113.81');
    for (const ns of [lab.LAB_NS_CLIENT, ...serverNamespaces(lab)]) {
      const r = inNs(ns, 'getent', ['hosts', lab.LAB_MIRROR_HOST]);
      expect(r.status, `${ns}: ${r.stderr}`).to.equal(0);
      expect(r.stdout.split(/\s+/)[0], ns).to.equal(lab.LAB_MIRROR_ADDR);
    }
  });

  it('the mirror serves the large file intact, directly from sa and through sa, and says it answered', async function () {
    const direct = { how: 'directly from sa', ns: lab.LAB_SERVER_SA_NS, args: [] as string[] };
    const socks = { how: 'through sa', ns: lab.LAB_NS_CLIENT, args: ['--socks5-hostname', lab.LAB_SERVER_SA_SOCKS] };
    for (const c of [direct, socks]) {
      const before = webLog(lab).length;
      // The header by -w: curl 7.88 crashes with -D on a pipe (-D /dev/stderr).
      const d = await curlSha256(c.ns, [...c.args, '-w', '%{stderr}X-Mirror: %header{x-mirror}\\n', `http://${lab.LAB_MIRROR_HOST}/big.bin`]);
      expect(d.status, `${c.how}: ${d.stderr}`).to.equal(0);
      expect(d.sha256, c.how).to.equal(lab.LAB_BIG_SHA256);
      expect(mirrorHeader(d.stderr), `${c.how}: X-Mirror`).to.equal(lab.LAB_MIRROR_ADDR);
      const lines = webLog(lab).slice(before);
      expect(lines, c.how).to.have.length(1);
      const fields = lines[0].split(' ');
      expect(fields.slice(0, 4), c.how).to.deep.equal([lab.LAB_SERVER_SA_EGRESS, '/big.bin', '200', String(d.bytes)]);
      expect(fields[fields.length - 1], `${c.how}: the log's last field`).to.equal(lab.LAB_MIRROR_ADDR);
    }
  });

  it('each mirror answers on 80 and 8080, naming itself in X-Mirror and as the access log\'s last field', function () {
    for (const addr of mirrors(lab)) {
      for (const port of [80, 8080]) {
        const what = `${addr}:${port}`;
        const before = webLog(lab).length;
        const r = inNs(lab.LAB_SERVER_SA_NS, 'curl', ['-sS', '--max-time', '10', '-D', '-', `http://${what}/hello.txt`]);
        expect(r.status, `${what}: ${r.stderr}`).to.equal(0);
        expect(r.stdout, what).to.match(/^HTTP\/1\.1 200 /);
        expect(r.stdout, what).to.match(/\r\n\r\nhello from the socksalp lab\n$/);
        expect(mirrorHeader(r.stdout), `${what}: X-Mirror`).to.equal(addr);
        const lines = webLog(lab).slice(before);
        expect(lines, what).to.have.length(1);
        expect(lines[0].split(' '), `${what}: the log line`).to.deep.equal([lab.LAB_SERVER_SA_EGRESS, '/hello.txt', '200', '28', addr]);
      }
    }
  });

  it(`each mirror's UDP service answers every datagram, from its own address, with a line naming it`, function () {
    // One datagram out, the first one back and where it came from: a node one-liner in the namespace.
    const ask = `const s = require('dgram').createSocket('udp4');
      const t = setTimeout(() => { console.log('{}'); process.exit(0); }, 5000);
      s.on('message', (b, r) => { console.log(JSON.stringify({ from: r.address, port: r.port, text: b.toString() })); clearTimeout(t); s.close(); });
      s.send('which mirror?\\n', Number(process.argv[2]), process.argv[1]);`;
    for (const ns of serverNamespaces(lab)) {
      for (const addr of mirrors(lab)) {
        for (let i = 0; i < 2; i++) {
          const r = inNs(ns, process.execPath, ['-e', ask, addr, lab.LAB_UDP_PORT]);
          expect(r.status, `${ns} -> ${addr}: ${r.stderr}`).to.equal(0);
          expect(JSON.parse(r.stdout), `${ns} -> ${addr}`).to.deep.equal({ from: addr, port: Number(lab.LAB_UDP_PORT), text: `mirror ${addr}\n` });
        }
      }
    }
  });
});
