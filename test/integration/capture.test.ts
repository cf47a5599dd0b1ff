import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../../appliance/control/client';
import { inNs, REPO } from '../lab/lab';
import { applianceForSuite } from '../lab/appliance-process';

const SOCKET = '/run/socksalp-test-capture/control.sock';
const INJECT = join(REPO, 'test', 'lab', 'inject.py');
const MIB = 1 << 20;
/** Inside 203.0.113.0/24, which the lab's kernel routes into the TUN, but past the /25 this suite's [routes] keeps. */
const UNROUTED = '203.0.113.200';

function inject(ns: string, ...args: (string | number)[]): void {
  const r = inNs(ns, 'python3', [INJECT, ...args.map(String)]);
  expect(r.status, `inject.py ${args.join(' ')}: ${r.stderr}`).to.equal(0);
}

interface CaptureStatus { file: string; maxBytes: number; captured: number; lost: number; bytes: number; rotations: number; errors: number }
interface Status { capture: CaptureStatus | null; drops: Record<string, number> }

async function status(): Promise<Status> {
  return (await controlRequest(SOCKET, { cmd: 'status' })).status as Status;
}

/** Once every drop counted so far is in the capture (captured or lost): the status's counters agree. */
async function settled(atLeast: number): Promise<Status> {
  for (let i = 0; i < 100; i++) {
    const s = await status();
    const dropped = Object.values(s.drops).reduce((a, b) => a + b, 0);
    const c = s.capture!;
    if (c.captured + c.lost >= atLeast && c.captured + c.lost >= dropped - s.drops['pool-exhausted']) return s;
    await sleep(100);
  }
  throw new Error(`the capture did not catch up: ${JSON.stringify(await status())}`);
}

/** What a real tool makes of a capture file: tshark's fields, one line per packet, tab-separated. */
function tshark(file: string, ...fields: string[]): string[][] {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, `tshark -r ${file}: ${r.stderr}`).to.equal(0);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

function tcpdump(file: string): string[] {
  const r = spawnSync('tcpdump', ['-nr', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, `tcpdump -r ${file}: ${r.stderr}`).to.equal(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * [capture] drops in the lab: bad datagrams sent at the appliance from both sides are found by
 * tshark in the ring with the reasons the appliance counted, on the device they came from,
 * and a flood of drops leaves two files that together stay within max_bytes, each read whole
 * by tshark and tcpdump.
 */
describe('capture: the ring of dropped datagrams, read by tshark and tcpdump', function () {
  this.timeout(120_000);
  let file = '';
  const s = applianceForSuite(SOCKET, {}, {}, (dir) => {
    file = join(dir, 'drops.pcapng');
    const ini = join(dir, 'appliance.ini');
    writeFileSync(ini, readFileSync(ini, 'utf8').replace('203.0.113.0/24 = alp-sa', '203.0.113.0/25 = alp-sa'));
    appendFileSync(ini, `\n[capture]\ndrops = ${file}\nmax_bytes = 1M\nsnaplen = 1514\n`);
  });

  it('a TCP segment with a bad checksum and a datagram with no route from the intranet, one to the appliance from a server segment: each in the capture with its reason', async function () {
    const lab = s.lab;
    const before = await status();
    expect(before.capture).to.include({ file, maxBytes: MIB, errors: 0 });
    inject(lab.LAB_NS_CLIENT, 'send', '198.18.0.2', 40001, lab.LAB_VIP, 1080, 'S', 1000, 2000, 3000, '--bad-checksum');
    inject(lab.LAB_NS_CLIENT, 'udp', '198.18.0.2', 40002, UNROUTED, 9, 'no route for this one', '--count', 2);
    inject(lab.LAB_SERVER_SA_NS, 'udp', '198.19.1.2', 40003, '198.19.1.1', 9, 'to the appliance itself');
    const after = await settled(before.capture!.captured + 6);
    expect(after.drops['bad-tcp-checksum'] - before.drops['bad-tcp-checksum']).to.equal(3);
    expect(after.drops['no-route'] - before.drops['no-route']).to.equal(2);
    expect(after.drops.unsupported - before.drops.unsupported).to.equal(1);

    const rows = tshark(file, 'frame.interface_name', 'eth.src', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.seq_raw', 'udp.srcport', 'frame.comment');
    const ours = rows.filter((r) => ['40001', '40002', '40003'].includes(r[4] || r[6]));
    const tunMac = '00:00:00:00:00:00';
    const saMac = inNs(lab.LAB_SERVER_SA_NS, 'cat', ['/sys/class/net/eth0/address']).stdout.trim();
    expect(ours.map((r) => [r[0], r[1], r[2], r[3], r[5], r[7]])).to.deep.equal([
      ['alp0', tunMac, '198.18.0.2', lab.LAB_VIP, '1000', 'drop: bad-tcp-checksum'],
      ['alp0', tunMac, '198.18.0.2', lab.LAB_VIP, '2000', 'drop: bad-tcp-checksum'],
      ['alp0', tunMac, '198.18.0.2', lab.LAB_VIP, '3000', 'drop: bad-tcp-checksum'],
      ['alp0', tunMac, '198.18.0.2', UNROUTED, '', 'drop: no-route'],
      ['alp0', tunMac, '198.18.0.2', UNROUTED, '', 'drop: no-route'],
      ['alp-sa', saMac, '198.19.1.2', '198.19.1.1', '', 'drop: unsupported'],
    ]);
    // tcpdump reads the same file: the same six datagrams, as it prints them.
    const printed = tcpdump(file).filter((l) => / 198\.18\.0\.2\.4000[12] | 198\.19\.1\.2\.40003 /.test(l));
    expect(printed).to.have.length(6);
    expect(printed[0]).to.match(/IP 198\.18\.0\.2\.40001 > 198\.18\.0\.100\.1080: Flags \[S\], seq 1000,/);
    expect(printed[5]).to.match(/IP 198\.19\.1\.2\.40003 > 198\.19\.1\.1\.9: UDP, length 23$/);
  });

  it('a flood of drops (3.3 MB) leaves FILE and FILE.1 within max_bytes together, rotated, each a whole capture', async function () {
    const lab = s.lab;
    const before = await status();
    const count = 3000;
    inject(lab.LAB_NS_CLIENT, 'udp', '198.18.0.2', 40004, UNROUTED, 9, 'x'.repeat(1000), '--count', count, '--rate', 5000);
    const after = await settled(before.capture!.captured + before.capture!.lost + count);
    const c = after.capture!;
    expect(after.drops['no-route'] - before.drops['no-route']).to.equal(count);
    // Past the bound, whatever a slow disk made the capture lose (counted).
    expect(c.bytes - before.capture!.bytes, `written: ${JSON.stringify(c)}`).to.be.above(1.5 * MIB);
    expect(c.rotations - before.capture!.rotations, JSON.stringify(c)).to.be.at.least(2);
    expect(c.errors).to.equal(0);
    const newer = statSync(file).size;
    const older = statSync(`${file}.1`).size;
    expect(newer).to.be.at.most(MIB / 2);
    expect(older).to.be.at.most(MIB / 2);
    expect(newer + older).to.be.at.most(MIB);
    let flood = 0;
    for (const f of [`${file}.1`, file]) {
      const rows = tshark(f, 'frame.interface_name', 'udp.srcport', 'frame.len', 'frame.comment');
      expect(rows.length, f).to.be.above(0);
      const mine = rows.filter((r) => r[1] === '40004');
      for (const r of mine) expect(r, f).to.deep.equal(['alp0', '40004', String(14 + 20 + 8 + 1000), 'drop: no-route']);
      flood += mine.length;
      expect(tcpdump(f).length, f).to.equal(rows.length);
    }
    // The two files hold the newest drops, FILE.1 full to within a block (each 1100 bytes:
    // 40 of EPB, 1044 of frame, the comment padded); lost ones are counted, not missing.
    expect(flood).to.be.at.least(Math.floor(MIB / 2 / 1100) - 2);
    expect(c.lost - before.capture!.lost).to.be.at.most(count - flood);
  });

  it('follows a reload: a new bound gives a new ring (the old one written and closed first), and without drops it is off', async function () {
    const ini = join(s.conf, 'appliance.ini');
    const until = async (ok: (c: CaptureStatus | null) => boolean) => {
      for (let i = 0; i < 50; i++) {
        const c = (await status()).capture;
        if (ok(c)) return c;
        await sleep(100);
      }
      throw new Error(`the reload did not apply: ${JSON.stringify((await status()).capture)}`);
    };
    writeFileSync(ini, readFileSync(ini, 'utf8').replace('max_bytes = 1M', 'max_bytes = 2M'));
    s.app.signal('SIGHUP');
    await until((c) => c?.maxBytes === 2 * MIB && c.captured === 0);
    inject(s.lab.LAB_NS_CLIENT, 'udp', '198.18.0.2', 40005, UNROUTED, 9, 'after the reload');
    await until((c) => c!.captured >= 1);
    expect(tshark(file, 'udp.srcport', 'frame.comment').filter((r) => r[0] === '40005')).to.deep.equal([['40005', 'drop: no-route']]);
    // Its other keys go with drops: without it they are an error that would refuse the reload.
    writeFileSync(ini, readFileSync(ini, 'utf8').replace(/^(drops|max_bytes|snaplen) = .*$/gm, ''));
    s.app.signal('SIGHUP');
    await until((c) => c === null);
  });
});
