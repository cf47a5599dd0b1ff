import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAddress } from '../../../appliance/addr/address';
import { IpfixExporter } from '../../../appliance/export/exporter';
import { Connection } from '../../../appliance/flow/connection';
import { ConnectionTable } from '../../../appliance/flow/table';
import { EndReason } from '../../../appliance/stats/end-reason';
import { LOOPBACK } from './collector';

const addr = (t: string) => parseAddress(t)!;
const SERVERS = [
  { name: 'sa', address: addr('198.19.1.2'), port: 1080, local: { address: addr('198.19.1.1'), length: 24 } },
  { name: 'sa6', address: addr('2001:db8:19:1::2'), port: 1081, local: { address: addr('2001:db8:19:1::1'), length: 64 } },
];
const CASES: [string, string, number][] = [
  ['198.18.0.2', '198.18.0.100', 0],
  ['2001:db8:18::2', '2001:db8:18::100', 0],
  ['198.18.0.3', '198.18.0.100', 1],
  ['2001:db8:18::7', '2001:db8:18::100', 1],
];

/** A UDP port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, LOOPBACK, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * The four Templates through a real collector: nfcapd (Debian's nfdump, which
 * test/lab/setup-host.sh installs) on the loopback writes the records, nfdump reads them back.
 * nfdump 1.7 takes IPv6 client legs (27, 28) and the NAT ports, but not the IPv6 NAT addresses
 * (281, 282: not in its IPFIX element table), so those are checked by the project's decoder
 * (families.test.ts) only.
 */
describe('export: the IPv4 and IPv6 Templates read by nfcapd and nfdump', function () {
  this.timeout(30_000);
  let nfcapd: ChildProcess | undefined;
  let dir = '';
  after(async function () {
    if (nfcapd && nfcapd.exitCode === null && nfcapd.signalCode === null) nfcapd.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows each connection with its client leg in its family and its server leg\'s ports', async function () {
    if (spawnSync('nfcapd', ['-V']).error) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'socksalp-nfcapd-'));
    const port = await freePort();
    const child = spawn('nfcapd', ['-b', LOOPBACK, '-p', String(port), '-w', dir, '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nfcapd = child;
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b));
    child.stderr!.on('data', (b: Buffer) => (output += b));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    for (let i = 0; i < 50 && !/Startup/.test(output); i++) await sleep(100);
    expect(output, 'nfcapd started').to.match(/Startup/);
    const source = {
      started: 1_700_000_000_000, config: { appliance: { socksPort: 1080 }, servers: SERVERS }, alps: { names: ['http'] },
      dispatcher: { table: new ConnectionTable(SERVERS.length, 10, 10) }, now: () => 100,
    };
    const e = new IpfixExporter({ address: addr(LOOPBACK), port, interim: 60, templateRefresh: 60, observationDomain: 5 }, source, () => undefined);
    await e.start();
    CASES.forEach(([client, vip, server], k) => {
      const c = new Connection(addr(client), 41000 + k, addr(vip), 90);
      Object.assign(c, { server, allocPort: 50000 + k, alp: 0, destination: 'web.socksalp.test:80', bytesIn: 100 + k, packetsIn: 3, bytesOut: 7000 + k, packetsOut: 6, lastSeen: 91, endReason: EndReason.Fin });
      e.ended(c);
    });
    e.flush();
    await new Promise<void>((r) => e.stop(r));
    await sleep(300);
    child.kill('SIGTERM'); // nfcapd writes its file out as it ends
    await exited;
    expect(child.exitCode, output).to.equal(0);
    const r = spawnSync('nfdump', ['-R', dir, '-o', 'json', '-N'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const flows = (JSON.parse(r.stdout) as Record<string, string | number>[]).sort((x, y) => Number(x.src_port) - Number(y.src_port));
    const seen = flows.map((f) => [f.src_port, f.src4_addr ?? f.src6_addr, f.dst4_addr ?? f.dst6_addr, f.src4_xlt_ip ?? '-', f.dst4_xlt_ip ?? '-', f.src_xlt_port, f.dst_xlt_port, f.in_bytes, f.out_bytes]);
    expect(seen).to.deep.equal([
      [41000, '198.18.0.2', '198.18.0.100', '198.19.1.1', '198.19.1.2', '50000', '1080', 100, 7000],
      [41001, '2001:db8:18::2', '2001:db8:18::100', '198.19.1.1', '198.19.1.2', '50001', '1080', 101, 7001],
      [41002, '198.18.0.3', '198.18.0.100', '-', '-', '50002', '1081', 102, 7002],
      [41003, '2001:db8:18::7', '2001:db8:18::100', '-', '-', '50003', '1081', 103, 7003],
    ]);
    expect(flows.every((f) => f.proto === 6 && f.dst_port === 1080)).to.equal(true);
  });
});
