import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { curlSha256, REPO, useLab, webLog, type LabFacts } from '../lab/lab';
import { LabVm } from './vm';

/**
 * npm run image:test:ha: appliance a of the HA pair's images (`npm run image -- --ha a`) booted
 * under qemu (TCG) in the --vm lab, alone. It comes up without the pair's key, says so, and
 * starts neither socksalp nor keepalived; the key typed in over the serial console, as
 * image/README.md tells the operator (the test writes nothing onto the disk: the documented
 * way is the tested one), both start, keepalived makes it master (no peer answers) and puts
 * the shared next hop 198.18.0.1 on eth0 beside its own 198.18.0.3, and the client's download
 * through the VIP, routed to 198.18.0.1 as for the single image, is whole. An edit of ha.ini
 * applies at keepalived's restart; a broken one is refused with check's message.
 *
 * SOCKSALP_IMAGE chooses another image of the pair (b: its own address 198.18.0.4).
 */
const IMAGE = process.env.SOCKSALP_IMAGE ?? join(REPO, 'image', 'out', 'socksalp-ha-a.qcow2');
const ROLE = /socksalp-ha-b/.test(IMAGE) ? 'b' : 'a';
const OWN = ROLE === 'a' ? '198.18.0.3' : '198.18.0.4';
const PRIORITY = ROLE === 'a' ? 150 : 100;
const BOOT_TIMEOUT_MS = 420_000;
const PROMPT = new RegExp(`root@socksalp-ha-${ROLE}:~# `);

process.env.SOCKSALP_LAB_BIG_MB ??= '8';

describe(`the HA pair's VM image, appliance ${ROLE}, alone`, function () {
  this.timeout(BOOT_TIMEOUT_MS + 60_000);
  let lab: LabFacts;
  let vm: LabVm;

  before(async function () {
    lab = useLab('vm');
    vm = await LabVm.boot({ image: IMAGE, ns: lab.LAB_NS_APP, taps: lab.LAB_VM_TAPS.split(' '), nic: 'virtio-net-pci' });
  });

  after(async function () {
    await vm?.stop();
  });

  it('boots without the key: says where it goes, and starts neither socksalp nor keepalived', async function () {
    await vm.waitFor(new RegExp(`socksalp: socksalp-ha-${ROLE} is one of an HA pair and has no sync key: .* into /etc/socksalp/ha\\.key, chmod 600`), 0, BOOT_TIMEOUT_MS);
    console.log(`      boot to the key's message (TCG): ${((Date.now() - vm.started) / 1000).toFixed(0)} s`);
    await login();
    const state = await vm.shell('test "$(systemctl is-active socksalp keepalived | tr "\\n" " ")" = "inactive inactive "');
    expect(state.status, vm.tail()).to.equal(0);
  });

  it('with the key typed in: socksalp and keepalived start, keepalived makes it master with the shared next hop on eth0', async function () {
    const from = vm.serial().length;
    const key = randomBytes(24).toString('base64');
    const put = await vm.shell(`(umask 077 && echo ${key} >/etc/socksalp/ha.key) && systemctl start socksalp keepalived`);
    expect(put.status, vm.tail()).to.equal(0);
    // Under TCG socksalp takes one to two minutes to start (node loading the appliance).
    await vm.waitFor(/socksalp: running:/, from, 300_000);
    expect((await vm.shell('systemctl is-active --quiet socksalp keepalived')).status, vm.tail()).to.equal(0);
    await untilMaster();
    const addrs = await vm.shell(`a=$(ip -o addr show dev eth0 scope global | awk '{print $4}' | sort | tr "\\n" " "); echo "eth0: $a"; test "$a" = "198.18.0.1/24 ${OWN}/24 2001:db8:18::1/64 2001:db8:18::${ROLE === 'a' ? 3 : 4}/64 "`);
    expect(addrs.status, addrs.output).to.equal(0);
    // keepalived.conf was written at keepalived's start, from ha.ini [vrrp].
    expect((await vm.shell(`test "$(grep -c -e "^    priority ${PRIORITY}$" -e "^    interface eth0$" /etc/keepalived/keepalived.conf)" -eq 4`)).status, vm.tail()).to.equal(0);
  });

  it('carries the client\'s download through the VIP, routed to the shared next hop, bytes intact, over sa', async function () {
    const before = webLog(lab).length;
    const got = await curlSha256(lab.LAB_NS_CLIENT, ['--socks5-hostname', `${lab.LAB_VIP}:1080`, lab.LAB_BIG_URL]);
    expect(got.status, got.stderr).to.equal(0);
    expect(got.sha256).to.equal(lab.LAB_BIG_SHA256);
    expect(webLog(lab).slice(before).map((l) => l.split(' ')[0])).to.deep.equal([lab.LAB_SERVER_SA_EGRESS]);
  });

  it('applies an edit of ha.ini at keepalived\'s restart, and refuses a broken one with check\'s message', async function () {
    expect((await vm.shell('sed -i "s/^priority = .*/priority = 120/" /etc/socksalp/ha.ini && systemctl restart keepalived')).status, vm.tail()).to.equal(0);
    expect((await vm.shell('test "$(grep -c "^    priority 120$" /etc/keepalived/keepalived.conf)" -eq 2')).status, vm.tail()).to.equal(0);
    // Mastership again is not waited for: under TCG the restarted keepalived's notify scripts
    // (node) make the appliance miss the health script's second for a while.
    expect((await vm.shell('systemctl is-active --quiet keepalived')).status, vm.tail()).to.equal(0);

    const from = vm.serial().length;
    const broken = await vm.shell('sed -i "s/^router_id = 18$/router_id = 300/" /etc/socksalp/ha.ini && systemctl restart keepalived');
    expect(broken.status).to.not.equal(0);
    await vm.waitFor(/ha\.ini:\d+: \[vrrp\] router_id: /, from, 20_000);
    // The last good keepalived.conf stays.
    expect((await vm.shell('test "$(grep -c "^    virtual_router_id 18$" /etc/keepalived/keepalived.conf)" -eq 2')).status, vm.tail()).to.equal(0);
    expect((await vm.shell('sed -i "s/^router_id = 300$/router_id = 18/" /etc/socksalp/ha.ini && systemctl restart keepalived')).status, vm.tail()).to.equal(0);
    expect((await vm.shell('systemctl is-active --quiet keepalived')).status, vm.tail()).to.equal(0);
  });

  /**
   * Until keepalived has made it master: the shared address on eth0 and the health script's
   * question answered (socat: a node process a second would starve the appliance on the one
   * emulated CPU, and its control socket would miss the script's second), then `socksalp ctl
   * health` once, which must say master.
   */
  async function untilMaster(): Promise<void> {
    const until = Date.now() + 120_000;
    for (;;) {
      const held = await vm.shell('ip -o -4 addr show dev eth0 | grep -q " 198.18.0.1/24 " && /opt/socksalp/appliance/host/keepalived-health.sh /run/socksalp/control.sock');
      if (held.status === 0) {
        const h = await vm.shell('socksalp ctl health --socket /run/socksalp/control.sock', 120_000);
        if (h.status === 0 && /ok: master, /.test(h.output)) return;
      }
      if (Date.now() > until) throw new Error(`not master within 120 s:\n${vm.tail()}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  /**
   * Logs in on the serial console. Without the key there is no dashboard: it finds its control
   * socket in the INI files, which do not load, so the console shows check's message and the
   * login prompt.
   */
  async function login(): Promise<void> {
    const from = (await vm.waitFor(/ha\.ini:\d+: \[sync\] key_file: key file "\/etc\/socksalp\/ha\.key" does not exist/, 0, 60_000)).end;
    let at = (await vm.waitFor(new RegExp(`socksalp-ha-${ROLE} login: $`, 'm'), from, 60_000)).end;
    vm.type('root\r');
    at = (await vm.waitFor(/Password: /, at, 30_000)).end;
    vm.type('socksalp\r');
    await vm.waitFor(PROMPT, at, 60_000);
  }
});
