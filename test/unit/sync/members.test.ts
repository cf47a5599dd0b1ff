import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import type { PacketDevice } from '../../../appliance/device/device';
import type { Drops } from '../../../appliance/forward/drops';
import { ServerHealth } from '../../../appliance/forward/health';
import { Neighbours } from '../../../appliance/forward/neighbours';
import type { Segment } from '../../../appliance/forward/segments';
import { Members, REFRESH_MS, SILENT_MS } from '../../../appliance/sync/members';
import type { SyncStandby } from '../../../appliance/sync/standby';
import type { SyncEndpoint } from '../../../appliance/wire/sync-entry';
import { ARP_LENGTH, ARP_REPLY, ARP_REQUEST, ArpView, emitArp } from '../../../appliance/wire/arp';
import { emitEthernet, ETHERTYPE_ARP, ETH_HEADER } from '../../../appliance/wire/ethernet';
import { ip } from '../wire/packets';

const mapped = (a: string): SyncEndpoint => ({ address: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)]), port: 0, v6: false });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Member "self" (sender id 20) on two segments, 198.19.1.0/24 and 198.19.2.0/24, its own
 * addresses .3; its peers 10 and 30, whose connections' server legs are at .1 and .4. What
 * the TAPs are given is kept, frame by frame.
 */
function group(self = 20) {
  const pool = new PacketPool(16, 1500, 1);
  const frames: { segment: number; frame: string }[] = [];
  const tap = (segment: number) => ({ write: (slot: number, len: number) => frames.push({ segment, frame: hex(pool.buf.subarray(pool.frameOffset(slot), pool.frameOffset(slot) + len)) }) > 0 }) as unknown as PacketDevice;
  const seg = (n: number): Segment => ({
    tap: `alp-s${n}`, device: tap(n - 1), local: ip(`198.19.${n}.3`), prefix: { address: ip(`198.19.${n}.3`), length: 24 },
    local6: -1, prefix6: undefined, mac: Uint8Array.of(2, 0x53, 0x41, 19, n, 3), servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [],
  });
  const segments = [seg(1), seg(2)];
  const n = new Neighbours(pool, segments, [], [], new ServerHealth(0, () => undefined, []), {} as Drops, () => undefined, []);
  const now = 1_000_000;
  const peers = new Map([[10, { epoch: 1, lastMs: now }], [30, { epoch: 1, lastMs: now }]]);
  const locals = new Map([
    [10, new Map([['a', mapped('198.19.1.1')], ['b', mapped('198.19.2.1')]])],
    [30, new Map([['c', mapped('198.19.1.4')]])],
  ]);
  const log: string[] = [];
  const m = new Members({ peers, locals } as unknown as SyncStandby, self, segments, n, (s) => log.push(s));
  return { pool, n, m, segments, peers, frames, now, log };
}

describe('sync/members: a silent ECMP peer\'s segment addresses', function () {
  it('are answered, with its MACs, by the lowest live member once it is silent, and announced', function () {
    const g = group(20);
    g.m.check(g.now);
    expect(g.segments.map((s) => s.also)).to.deep.equal([[], []]);
    // 10 falls silent: 20 is now the lowest live member (30 is higher).
    const later = g.now + SILENT_MS;
    g.peers.get(30)!.lastMs = later;
    g.m.check(later);
    expect(g.segments.map((s) => s.also)).to.deep.equal([[ip('198.19.1.1')], [ip('198.19.2.1')]]);
    expect(g.segments.map((s) => s.alsoMacs.map(hex))).to.deep.equal([['025341130101'], ['025341130201']]);
    // RFC 5227 3's announcement: broadcast, from the taken MAC, sender and target the address.
    expect(g.frames.map((f) => [f.segment, f.frame.slice(0, 24), f.frame.slice(28)])).to.deep.equal([
      [0, 'ffffffffffff' + '025341130101', '0001080006040001' + '025341130101' + 'c6130101' + '000000000000' + 'c6130101'],
      [1, 'ffffffffffff' + '025341130201', '0001080006040001' + '025341130201' + 'c6130201' + '000000000000' + 'c6130201'],
    ]);
    expect(g.m.status(later)).to.deep.include({ live: 1, silent: 1, answeringFor: ['198.19.1.1', '198.19.2.1'], takeovers: 2 });
    // Heard again: it answers for its own; this one lets go.
    g.peers.get(10)!.lastMs = later;
    g.m.check(later);
    expect(g.segments.map((s) => s.also)).to.deep.equal([[], []]);
    expect(g.m.status(later)).to.deep.include({ answeringFor: [], releases: 2 });
  });

  it('are announced again, with the member\'s own, every REFRESH_MS once started', function () {
    const g = group(20);
    g.m.start(g.now);
    g.m.stop();
    const silent = g.now + SILENT_MS; // 10 falls silent
    g.peers.get(30)!.lastMs = silent;
    g.m.check(silent);
    expect(g.frames).to.have.lengthOf(2); // the takeover's announcements
    g.frames.length = 0;
    g.peers.get(30)!.lastMs = g.now + REFRESH_MS;
    g.m.check(g.now + REFRESH_MS);
    // Sender and target of each: its own .3 on both segments, then 10's .1 on both, each from its MAC.
    const announced = g.frames.map((f) => [f.segment, f.frame.slice(12, 24), f.frame.slice(56, 64)]);
    expect(announced).to.deep.equal([
      [0, '025341130103', 'c6130103'], [1, '025341130203', 'c6130203'],
      [0, '025341130101', 'c6130101'], [1, '025341130201', 'c6130201'],
    ]);
    g.frames.length = 0;
    g.m.check(g.now + REFRESH_MS + 1000);
    expect(g.frames).to.deep.equal([]);
  });

  it('are left to a lower live member', function () {
    const g = group(20);
    const later = g.now + SILENT_MS;
    g.peers.get(10)!.lastMs = later; // 10 lives, 30 is silent: 10 answers for 30
    g.m.check(later);
    expect(g.segments.map((s) => s.also)).to.deep.equal([[], []]);
    expect(g.frames).to.deep.equal([]);
  });

  it('an ARP request for an address answered for gets a reply with that address\'s MAC', function () {
    const g = group(20);
    g.peers.get(30)!.lastMs = g.now + SILENT_MS;
    g.m.check(g.now + SILENT_MS);
    g.frames.length = 0;
    const slot = g.pool.take();
    const base = g.pool.frameOffset(slot);
    const asker = Uint8Array.of(2, 0, 0, 0, 1, 2);
    emitEthernet(g.pool.buf, base, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), asker, ETHERTYPE_ARP);
    emitArp({ operation: ARP_REQUEST, senderMac: asker, senderIp: ip('198.19.1.2'), targetMac: new Uint8Array(6), targetIp: ip('198.19.1.1') }, g.pool.buf, base + ETH_HEADER);
    g.n.receive(0, slot, ETH_HEADER + ARP_LENGTH);
    expect(g.frames).to.have.lengthOf(1);
    const reply = Buffer.from(g.frames[0].frame, 'hex');
    const a = new ArpView().wrap(reply, ETH_HEADER, ARP_LENGTH);
    expect([hex(reply.subarray(0, 12)), a.operation, hex(a.senderMac), a.senderIp, a.targetIp]).to.deep.equal([
      '020000000102' + '025341130101', ARP_REPLY, '025341130101', ip('198.19.1.1'), ip('198.19.1.2'),
    ]);
  });
});
