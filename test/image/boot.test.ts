import { expect } from 'chai';
import { join } from 'node:path';
import { curlSha256, inNs, REPO, useLab, webLog, type LabFacts } from '../lab/lab';
import { LabVm, type NicModel } from './vm';

/**
 * npm run image:test: the built image booted under qemu (TCG) with its NICs on TAPs in the lab
 * (eth0 on the client's segment, eth1..eth4 on the servers' segments), checked from outside:
 * what curl received through the VM's VIP, which SOCKS server the far side saw, and, over the
 * serial console, an INI edit and `systemctl reload` that new connections follow.
 *
 * SOCKSALP_IMAGE_NICS chooses the NIC models booted (default: virtio-net-pci, then e1000);
 * the console edit runs on the first.
 */
const IMAGE = process.env.SOCKSALP_IMAGE ?? join(REPO, 'image', 'out', 'socksalp.qcow2');
const MODELS = (process.env.SOCKSALP_IMAGE_NICS ?? 'virtio-net-pci,e1000').split(',') as NicModel[];
const BOOT_TIMEOUT_MS = 420_000;
const DASHBOARD = /conf \/etc\/socksalp/;

// The image test downloads through an emulated CPU: a smaller large file keeps it short.
process.env.SOCKSALP_LAB_BIG_MB ??= '8';

MODELS.forEach((nic, index) => {
  describe(`the VM image, ${nic} NICs`, function () {
    this.timeout(BOOT_TIMEOUT_MS + 60_000);
    let lab: LabFacts;
    let vm: LabVm;
    let vip: string;
    const egress = (server: string) => lab[`LAB_SERVER_${server.toUpperCase()}_EGRESS`];

    before(async function () {
      lab = useLab('vm');
      vip = `${lab.LAB_VIP}:1080`;
      vm = await LabVm.boot({ image: IMAGE, ns: lab.LAB_NS_APP, taps: lab.LAB_VM_TAPS.split(' '), nic });
    });

    after(async function () {
      await vm?.stop();
    });

    it('boots to the appliance running and the dashboard on the serial console', async function () {
      await vm.waitFor(/socksalp: running:/, 0, BOOT_TIMEOUT_MS);
      const { end } = await vm.waitFor(DASHBOARD, 0, 60_000);
      console.log(`      boot to dashboard (TCG, ${nic}): ${((Date.now() - vm.started) / 1000).toFixed(0)} s`);
      // The dashboard lists the servers of the image's servers.ini.
      await vm.waitFor(/198\.19\.4\.2/, Math.max(0, end - 2000), 10_000);
    });

    it('is dual-stack: an IPv6 client through the IPv6 VIP (its host address by the VM\'s own NDP, the VIP by socksalp net\'s route), ping -6 answered, over sa', async function () {
      const ping = inNs(lab.LAB_NS_CLIENT, 'ping', ['-6', '-c', '2', '-W', '3', lab.LAB_VIP6]);
      expect(ping.status, ping.stdout + ping.stderr).to.equal(0);
      const before = webLog(lab).length;
      const got = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', `[${lab.LAB_VIP6}]:1080`, lab.LAB_BIG_URL]);
      expect(got.status, got.stderr).to.equal(0);
      expect(got.sha256).to.equal(lab.LAB_BIG_SHA256);
      expect(webLog(lab).slice(before)[0]?.split(' ')[0], 'the web server\'s peer').to.equal(egress('sa'));
    });

    it('carries curl --socks4 and --socks5-hostname through the VIP to nginx, bytes intact, over sa', async function () {
      for (const mode of ['--socks4', '--socks5-hostname']) {
        const before = webLog(lab).length;
        const got = await curlSha256(lab.LAB_NS_CLIENT, [mode, vip, lab.LAB_BIG_URL]);
        expect(got.status, `${mode}: ${got.stderr}`).to.equal(0);
        expect(got.sha256, mode).to.equal(lab.LAB_BIG_SHA256);
        const seen = webLog(lab).slice(before);
        expect(seen, mode).to.have.length(1);
        expect(seen[0].split(' ')[0], `${mode}: the web server's peer`).to.equal(egress('sa'));
      }
    });

    it('sends each ALP to its server of servers.ini, as the servers\' side saw it', function () {
      const carriers = load('http5,ssl5,ftp5h,telnet5,gopher4', 10);
      expect(carriers).to.deep.equal({
        http5: { [egress('sa')]: 2 },
        ssl5: { [egress('sa')]: 2 },
        ftp5h: { [egress('sb')]: 2 },
        telnet5: { [egress('sb')]: 2 },
        gopher4: { [egress('sb')]: 2 },
      });
    });

    if (index !== 0) return;

    it('takes an INI edit made over the serial console: after systemctl reload, http goes to sb', async function () {
      await login();
      // http leaves every server's ALP list but sb's.
      const edit = await vm.shell(`sed -i -e 's/^alps = http, ssl$/alps = ssl/' -e 's/^alps = ftp, gopher, telnet$/alps = ftp, gopher, telnet, http/' /etc/socksalp/servers.ini`);
      expect(edit.status).to.equal(0);
      await reload();
      expect(load('http5,http4,ssl5', 6)).to.deep.equal({
        http5: { [egress('sb')]: 2 },
        http4: { [egress('sb')]: 2 },
        ssl5: { [egress('sa')]: 2 },
      });
      const before = webLog(lab).length;
      const got = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', vip, lab.LAB_BIG_URL]);
      expect(got.sha256).to.equal(lab.LAB_BIG_SHA256);
      expect(webLog(lab).slice(before).map((l) => l.split(' ')[0])).to.deep.equal([egress('sb')]);
    });

    it('shows the dashboard on tty1, the VGA console, too', async function () {
      // /dev/vcs1 is tty1's screen as text, 80 columns a row.
      const screen = await vm.shell('test "$(fold -w 80 /dev/vcs1 | grep -c -e "conf /etc/socksalp" -e "198.19.1.2:1080")" -eq 2 || fold -w 80 /dev/vcs1');
      expect(screen.status, `the header and sa's row on tty1:\n${screen.output}`).to.equal(0);
    });

    it('refuses a broken edit on reload, says why on the console, and keeps running as before', async function () {
      const from = vm.serial().length;
      expect((await vm.shell("echo 'colour = blue' >>/etc/socksalp/alp.ini")).status).to.equal(0);
      const refused = await vm.shell('systemctl reload socksalp');
      expect(refused.status).to.not.equal(0);
      await vm.waitFor(/alp\.ini:\d+: \[default\] colour: unknown key/, from, 20_000);
      expect(load('http5,telnet5', 4)).to.deep.equal({
        http5: { [egress('sb')]: 2 },
        telnet5: { [egress('sb')]: 2 },
      });
      expect((await vm.shell("sed -i '$d' /etc/socksalp/alp.ini")).status).to.equal(0);
      await reload();
      expect((await vm.shell('systemctl is-active --quiet socksalp')).status).to.equal(0);
    });

    it('restarts the appliance when it dies, with the edited configuration, and keeps its log in the journal', async function () {
      const from = vm.serial().length;
      expect((await vm.shell('systemctl kill -s KILL socksalp')).status).to.equal(0);
      await vm.waitFor(/socksalp: running:/, from, 60_000);
      expect(load('http5,ftp5h', 4)).to.deep.equal({
        http5: { [egress('sb')]: 2 },
        ftp5h: { [egress('sb')]: 2 },
      });
      const journal = await vm.shell('journalctl -b -u socksalp -o cat | grep -c "reload: configuration applied"');
      expect(journal.status, journal.output).to.equal(0);
    });

    it('shows the dashboard again after logout', async function () {
      const from = vm.serial().length;
      vm.type('exit\r');
      await vm.waitFor(DASHBOARD, from, 60_000);
    });

    /**
     * systemctl reload returns once the appliance has its SIGHUP; the appliance says on the
     * console when the new tables are in place.
     */
    async function reload(): Promise<void> {
      const from = vm.serial().length;
      const r = await vm.shell('systemctl reload socksalp');
      expect(r.status, vm.tail()).to.equal(0);
      await vm.waitFor(/reload: configuration applied/, from, 20_000);
    }

    /** Logs in on the serial console: the dashboard's q gives the login prompt. */
    async function login(): Promise<void> {
      const from = vm.serial().length;
      vm.type('q');
      let at = (await vm.waitFor(/login: $/m, from, 60_000)).end;
      vm.type('root\r');
      at = (await vm.waitFor(/Password: /, at, 30_000)).end;
      vm.type('socksalp\r');
      await vm.waitFor(/root@socksalp:~# /, at, 60_000);
    }

    /** `count` SOCKS connections from the client, round robin over the mix; who carried each kind. */
    function load(mix: string, count: number): Record<string, Record<string, number>> {
      const r = inNs(lab.LAB_NS_CLIENT, process.execPath, [
        join(REPO, 'dist', 'test', 'lab', 'socks-load.js'), '--proxy', vip, '--count', String(count), '--concurrency', '2', '--mix', mix,
      ]);
      expect(r.status, r.stderr).to.equal(0);
      const result = JSON.parse(r.stdout) as { failed: number; errors: unknown; carriers: Record<string, Record<string, number>> };
      expect(result.failed, JSON.stringify(result.errors)).to.equal(0);
      return result.carriers;
    }
  });
});
