import { expect } from 'chai';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fetchVia, inNs, socksInClient, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, dualStackCopy } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test/control.sock';

/**
 * Dual stack in the lab, judged from outside: curl in the client namespace through the IPv6
 * VIP (and the IPv4 one), the bytes it got (sha256), and which server carried each download
 * as nginx saw it (the server's egress address of the destination's family).
 */
describe('ipv6: dual stack through the appliance', function () {
  this.timeout(180_000);
  let lab: LabFacts;
  let conf: string | undefined;
  let app: ApplianceProcess | undefined;

  /** The lab's configuration made dual-stack (appliance-process.ts); HTTP to the servers in `http`. */
  async function start(http: string[]): Promise<void> {
    conf = dualStackCopy(lab, http, { 'appliance.ini': { control_socket: SOCKET } });
    app = new ApplianceProcess(conf, SOCKET);
    await app.ready();
  }

  async function stop(): Promise<void> {
    try {
      await app?.finish();
    } finally {
      if (conf) ApplianceProcess.cleanup(conf);
      app = conf = undefined;
    }
  }

  before(function () {
    lab = useLab();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && app) process.stderr.write(`appliance output:\n${app.output}\n`);
  });

  const vip6 = () => `[${lab.LAB_VIP6}]:1080`;
  // Destinations of both families: by address (SOCKS5 ATYP 1 and 4) and by name (ATYP 3, SOCKS4a).
  const v4 = () => ({ address: lab.LAB_WEB_ADDR, name: lab.LAB_WEB_HOST });
  const v6 = () => ({ address: `[${lab.LAB_WEB6}]:8080`, name: lab.LAB_WEB6_HOST });

  describe('over an IPv6 server segment (sf)', function () {
    before(async function () {
      await start(['sf']);
    });
    after(stop);

    it('curl --socks4 through the IPv6 VIP (an IPv4 destination, all SOCKS4 can say): the large file intact, carried by sf', async function () {
      const d = await fetchVia(lab, '--socks4', vip6(), { host: v4().address });
      expect(d.status, d.stderr).to.equal(0);
      expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
      expect(d.carrier).to.equal(lab.LAB_SERVER_SF_EGRESS);
    });

    for (const family of ['IPv4', 'IPv6'] as const) {
      for (const flag of ['--socks4a', '--socks5', '--socks5-hostname']) {
        it(`curl ${flag} through the IPv6 VIP to an ${family} destination: the large file intact, carried by sf`, async function () {
          const dest = family === 'IPv4' ? v4() : v6();
          const host = flag === '--socks5' ? dest.address : dest.name;
          const d = await fetchVia(lab, flag, vip6(), { host });
          expect(d.status, d.stderr).to.equal(0);
          expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
          expect(d.carrier).to.equal(family === 'IPv4' ? lab.LAB_SERVER_SF_EGRESS : lab.LAB_SERVER_SF_EGRESS6);
        });
      }
    }

    it('an IPv4 client through the IPv4 VIP is carried by the IPv6 server too (the legs are independent)', async function () {
      for (const flag of ['--socks4', '--socks5-hostname']) {
        const d = await fetchVia(lab, flag, `${lab.LAB_VIP}:1080`, { host: flag === '--socks4' ? v4().address : v4().name });
        expect(d.status, d.stderr).to.equal(0);
        expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
        expect(d.carrier, flag).to.equal(lab.LAB_SERVER_SF_EGRESS);
      }
    });

    it('works when an IPv6 client sends its SOCKS handshake one byte per segment (SOCKS5, SOCKS4a and SOCKS4)', function () {
      const hello = createHash('sha256').update('hello from the socksalp lab\n').digest('hex');
      for (const [dialect, host] of [['5h', lab.LAB_WEB6_HOST], ['4a', lab.LAB_WEB_HOST], ['4', lab.LAB_WEB_ADDR]] as const) {
        const r = socksInClient(lab, vip6(), { dialect, host, port: 80, path: '/hello.txt', byteBySegment: true });
        expect(r.body, dialect).to.equal(hello);
        expect(r.carrier, dialect).to.equal(dialect === '5h' ? lab.LAB_SERVER_SF_EGRESS6 : lab.LAB_SERVER_SF_EGRESS);
      }
    });

    it('answers ping -6 on the IPv6 VIP', function () {
      const r = inNs(lab.LAB_NS_CLIENT, 'ping', ['-6', '-c', '2', '-W', '2', lab.LAB_VIP6]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/2 received/);
    });

    it('shows the IPv6 server and client in RFC 5952 text, with brackets before the port, in ctl', async function () {
      const held = await fetchVia(lab, '--socks5', vip6(), { host: v6().address, path: '/hello.txt' });
      expect(held.status, held.stderr).to.equal(0);
      const list = inNs(lab.LAB_NS_APP, process.execPath, [join(__dirname, '..', '..', 'appliance', 'cli', 'index.js'), 'ctl', '--socket', SOCKET, 'list']);
      expect(list.stdout).to.contain(`[${lab.LAB_SERVER_SF_ADDRESS6}]:1080`);
    });
  });

  describe('over an IPv4 server segment (sa)', function () {
    before(async function () {
      await start(['sa']);
    });
    after(stop);

    it('an IPv6 client through the IPv6 VIP is carried by sa over IPv4, to either family', async function () {
      for (const [flag, host, egress] of [
        ['--socks5', v4().address, lab.LAB_SERVER_SA_EGRESS],
        ['--socks5', v6().address, lab.LAB_SERVER_SA_EGRESS6],
        ['--socks4a', v4().name, lab.LAB_SERVER_SA_EGRESS],
      ]) {
        const d = await fetchVia(lab, flag, vip6(), { host });
        expect(d.status, d.stderr).to.equal(0);
        expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
        expect(d.carrier, `${flag} ${host}`).to.equal(egress);
      }
    });
  });

  describe('over the IPv6 side of a dual-stack segment (sc6, beside sc on alp-sc)', function () {
    before(async function () {
      await start(['sc6']);
    });
    after(stop);

    it('carries IPv6 and IPv4 clients over IPv6 from the same TAP that carries sc over IPv4', async function () {
      for (const [proxy, host, egress] of [
        [vip6(), v6().address, lab.LAB_SERVER_SC_EGRESS6],
        [`${lab.LAB_VIP}:1080`, v4().address, lab.LAB_SERVER_SC_EGRESS],
      ]) {
        const d = await fetchVia(lab, '--socks5', proxy, { host });
        expect(d.status, d.stderr).to.equal(0);
        expect(d.sha256).to.equal(lab.LAB_BIG_SHA256);
        expect(d.carrier, `${proxy} ${host}`).to.equal(egress);
      }
    });
  });
});
