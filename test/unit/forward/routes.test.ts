import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Drops } from '../../../appliance/forward/drops';
import type { Icmp } from '../../../appliance/forward/icmp';
import type { Neighbours } from '../../../appliance/forward/neighbours';
import type { Output } from '../../../appliance/forward/output';
import { Router } from '../../../appliance/forward/routes';
import type { Segment } from '../../../appliance/forward/segments';
import { Ipv4View } from '../../../appliance/wire/ipv4';
import { icmpError, ip, udpDatagram } from '../wire/packets';

const CLIENT = ip('198.18.0.2');
const VIP = ip('198.18.0.100');
const WEB = ip('203.0.113.80');
const DATA = Buffer.from('x');

/** Two segments (sa, sb), [routes] 203.0.113.0/24 through sa's gateway; what leaves, and where. */
function router(loose = false) {
  const pool = new PacketPool(32, 1500, 2);
  const out: string[] = [];
  const drops = new Drops(pool, () => undefined);
  const neighbours = { sendTo: (seg: number, slot: number) => { out.push(`segment ${seg}`); pool.give(slot); } } as unknown as Neighbours;
  const output = { toIntranet: (slot: number) => { out.push('intranet'); pool.give(slot); } } as unknown as Output;
  const icmp = { error: () => undefined } as unknown as Icmp;
  const seg = (n: number) => ({ tap: `alp-s${n}`, local: ip(`198.19.${n}.1`), prefix: { address: ip(`198.19.${n}.1`), length: 24 }, servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [] }) as unknown as Segment;
  const r = new Router([seg(1), seg(2)], neighbours, icmp, output, drops);
  r.set([{ prefix: { address: ip('203.0.113.0'), length: 24 }, tap: 'alp-s1', gateway: ip('198.19.1.2') }]);
  r.vips = [VIP];
  r.loose = loose;
  const view = new Ipv4View();
  const from = (segIndex: number, b: Buffer) => {
    const slot = pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    r.fromSegment(segIndex, slot, view.wrap(pool.buf, pool.ipOffset(slot), b.length));
    return out.splice(0);
  };
  return { from, drops };
}

describe('forward/routes: reverse-path filtering of what comes from a server segment', function () {
  it('strict: a source routed back through that segment passes; through another, or not routed at all, does not', function () {
    const t = router();
    expect(t.from(0, udpDatagram(WEB, CLIENT, 7, 9999, DATA))).to.deep.equal(['intranet']);
    expect(t.from(1, udpDatagram(WEB, CLIENT, 7, 9999, DATA))).to.deep.equal([]);
    expect(t.from(0, udpDatagram(ip('198.19.1.2'), CLIENT, 7, 9999, DATA)), 'the segment\'s own host').to.deep.equal([]);
    expect(t.from(0, udpDatagram(ip('198.18.0.5'), CLIENT, 7, 9999, DATA)), 'an intranet source').to.deep.equal([]);
    expect(t.drops.byReason['rp-filter']).to.equal(3);
  });

  it('never a VIP or the appliance\'s own address as the source, loose or strict', function () {
    for (const loose of [false, true]) {
      const t = router(loose);
      expect(t.from(0, udpDatagram(VIP, CLIENT, 7, 9999, DATA))).to.deep.equal([]);
      expect(t.from(0, udpDatagram(ip('198.19.2.1'), CLIENT, 7, 9999, DATA))).to.deep.equal([]);
      expect(t.drops.byReason['spoofed-source']).to.equal(2);
    }
  });

  it('loose: a source routed through any segment passes', function () {
    const t = router(true);
    expect(t.from(1, udpDatagram(WEB, CLIENT, 7, 9999, DATA))).to.deep.equal(['intranet']);
    expect(t.from(1, udpDatagram(ip('198.18.0.5'), CLIENT, 7, 9999, DATA))).to.deep.equal([]);
  });

  it('an ICMP error from the gateway on the link, about a datagram routed to its segment, passes; one about anything else does not', function () {
    const t = router();
    const routed = udpDatagram(CLIENT, WEB, 40000, 53, DATA, { ttl: 1 });
    expect(t.from(0, icmpError(ip('198.19.1.2'), CLIENT, 11, 0, routed))).to.deep.equal(['intranet']);
    expect(t.from(1, icmpError(ip('198.19.2.2'), CLIENT, 11, 0, routed)), 'from the other segment').to.deep.equal([]);
    const notRouted = udpDatagram(CLIENT, ip('198.19.1.7'), 40000, 53, DATA);
    expect(t.from(0, icmpError(ip('198.19.1.2'), CLIENT, 3, 3, notRouted))).to.deep.equal([]);
  });
});
