import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../lab/lab';

const NS = 'salab-nettest';
const CLI = join(REPO, 'dist', 'appliance', 'cli', 'index.js');

function inNs(...argv: string[]) {
  return spawnSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8' });
}

function json(...args: string[]): Record<string, unknown>[] {
  return JSON.parse(spawnSync('ip', ['-n', NS, '-j', ...args], { encoding: 'utf8' }).stdout || '[]');
}

/**
 * `socksalp net` on a host of its own (a namespace with stand-in NICs): the kernel ends up as the
 * INI files say, and a second run changes nothing.
 */
describe('socksalp net: the host set up from the INI files', function () {
  this.timeout(30_000);
  let conf: string;

  before(function () {
    spawnSync('ip', ['netns', 'add', NS]);
    // NICs stand in as veth pairs (this kernel has no dummy driver); the peers stay unused.
    for (const nic of ['ens3', 'ens4', 'ens5']) {
      const r = spawnSync('ip', ['-n', NS, 'link', 'add', nic, 'type', 'veth', 'peer', 'name', `p-${nic}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
    }
    conf = mkdtempSync(join(tmpdir(), 'socksalp-net-'));
    for (const f of ['appliance.ini', 'alp.ini']) copyFileSync(join(REPO, 'conf', f), join(conf, f));
    const appliance = join(conf, 'appliance.ini');
    writeFileSync(appliance, readFileSync(appliance, 'utf8').replace(/^tun = alp0$/m, 'tun = alp0\nnic = ens3\naddress = 198.18.0.1/24'));
    writeFileSync(join(conf, 'servers.ini'), [
      '[sa]\naddress = 198.19.1.2\ntap = alp-sa\nlocal = 198.19.1.1/24\nnic = ens4\ndefault = yes\n',
      '[sb]\naddress = 198.19.2.2\ntap = alp-sb\nlocal = 198.19.2.1/24\nnic = ens5\nalps = ftp\n',
    ].join('\n'));
  });

  after(function () {
    spawnSync('ip', ['netns', 'del', NS]);
    if (conf) rmSync(conf, { recursive: true, force: true });
  });

  it('brings up the intranet NIC, routes the VIP into the TUN, bridges each NIC with its TAP; idempotent', function () {
    const first = inNs(process.execPath, CLI, 'net', '--config', conf);
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/\d+ step\(s\) applied/);

    const links = new Map(json('link', 'show').map((l) => [l.ifname as string, l]));
    expect(links.get('ens4')?.master).to.equal('sabr0');
    expect(links.get('alp-sa')?.master).to.equal('sabr0');
    expect(links.get('ens5')?.master).to.equal('sabr1');
    expect(links.get('alp-sb')?.master).to.equal('sabr1');
    expect(links.has('alp0')).to.equal(true);
    const addrs = json('addr', 'show', 'dev', 'ens3') as { addr_info: { local: string; prefixlen: number }[] }[];
    expect(addrs[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`)).to.include('198.18.0.1/24');
    const route = json('route', 'show', '198.18.0.100/32');
    expect(route[0]?.dev).to.equal('alp0');
    expect(spawnSync('ip', ['-n', NS, 'neigh', 'show', 'proxy'], { encoding: 'utf8' }).stdout).to.match(/198\.18\.0\.100 dev ens3 proxy/);
    expect(inNs('sysctl', '-n', 'net.ipv4.ip_forward').stdout.trim()).to.equal('1');

    const second = inNs(process.execPath, CLI, 'net', '--config', conf);
    expect(second.status, second.stderr).to.equal(0);
    // The creations are skipped the second time; the "set" steps are harmless repeats.
    expect(second.stdout).to.match(/, 5 already in place/);
  });

  it('reports a NIC the files name but the host lacks, and sets up the rest', function () {
    const servers = join(conf, 'servers.ini');
    const before = readFileSync(servers, 'utf8');
    writeFileSync(servers, `${before}\n[sc]\naddress = 198.19.3.2\ntap = alp-sc\nlocal = 198.19.3.1/24\nnic = ens6\nalps = telnet\n`);
    try {
      const r = inNs(process.execPath, CLI, 'net', '--config', conf);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('socksalp net: servers.ini [sc] nic ens6: no such device; left out until it exists and the configuration is reloaded\n');
      const links = new Map(json('link', 'show').map((l) => [l.ifname as string, l]));
      expect(links.get('alp-sc')?.master).to.equal('sabr2');
      expect(links.get('ens4')?.master).to.equal('sabr0');
    } finally {
      writeFileSync(servers, before);
    }
  });
});
