import { expect } from 'chai';
import { parseAddress } from '../../../appliance/addr/address';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { RouteTable6 } from '../../../appliance/forward/route-table6';
import type { Segment } from '../../../appliance/forward/segments';
import { a6, datagram6, ext, udp6 } from '../wire/packets6';
import { CLIENT, GATEWAY, hops, HOST, icmp6, LOCAL_SA, LOCAL_SF, NEAR, rig6, routes, VIP, WEB } from './rig6';

const hex = (b: Buffer) => b.toString('hex');
const DATA = Buffer.from('routed');

describe('forward/route-table6: longest match on the datagram\'s bytes', function () {
  it('takes the longest prefix holding the address, the first listed among equals, at any length from /0 to /128', function () {
    const t = new RouteTable6([]);
    t.set(routes([
      ['2001:db8:113::/48', 'a'],
      ['2001:db8:113::/48', 'b'],
      ['2001:db8:113:80::/64', 'c'],
      ['2001:db8:113:80::/45', 'd'], // bits past the length are not compared
      ['2001:db8:113:80::5/128', 'e'],
      ['2001:db8:113:80::4/127', 'f'],
      ['::/0', 'g'],
      ['198.19.0.0/16', 'ipv4'], // not this table's
    ]));
    const at = (text: string) => t.lookup(a6(text), 0);
    expect(t.hops.map((h) => h.segment)).to.have.length(7);
    expect(at('2001:db8:113:80::5')).to.equal(4);
    expect(at('2001:db8:113:80::4')).to.equal(5);
    expect(at('2001:db8:113:80::6')).to.equal(2);
    expect(at('2001:db8:113:1::1')).to.equal(0);
    expect(at('2001:db8:117::1'), '/45: 2001:db8:110:: to 2001:db8:117:ffff:…').to.equal(3);
    expect(at('2001:db8:118::1')).to.equal(6);
    t.set(routes([['2001:db8:113::/48', 'a']]));
    expect(at('2001:db8:114::1')).to.equal(-1);
    expect(at('2001:db8:113:ffff:ffff:ffff:ffff:ffff')).to.equal(0);
  });

  it('tells a segment\'s own link from beyond it', function () {
    const p = { address: parseAddress('2001:db8:19:1::1')!, length: 61 };
    const t = new RouteTable6([{ prefix6: p } as Segment, { prefix6: undefined } as Segment]);
    expect(t.onLink(0, a6('2001:db8:19:7:1::1'), 0)).to.equal(true);
    expect(t.onLink(0, a6('2001:db8:19:8::1'), 0)).to.equal(false);
    expect(t.onLink(1, a6('2001:db8:19:1::1'), 0)).to.equal(false);
  });
});

describe('forward/routes6: IPv6 as a router forwards it (RFC 8200, RFC 4443 3)', function () {
  it('sends a datagram along the longest matching route, hop limit less one, the rest untouched', function () {
    const t = rig6();
    const far = udp6(CLIENT, WEB, 40000, 53, DATA);
    expect(t.fromTun(far)).to.deep.equal([{ to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(hops(far, 63)) }]);
    const near = udp6(CLIENT, NEAR, 40000, 53, DATA);
    expect(t.fromTun(near), 'the /64 on alp-sa\'s link, inside the /48').to.deep.equal([{ to: 'segment 0', hop: '2001:db8:113:80::7b', bytes: hex(hops(near, 63)) }]);
  });

  it('sends the replies of a routed flow back into the TUN, and a datagram for another route onto its segment', function () {
    const t = rig6();
    const reply = hops(udp6(WEB, CLIENT, 53, 40000, DATA), 60);
    expect(t.fromTap(1, reply)).to.deep.equal([{ to: 'intranet', bytes: hex(hops(reply, 59)) }]);
    const across = udp6(WEB, NEAR, 53, 40000, DATA);
    expect(t.fromTap(1, across)).to.deep.equal([{ to: 'segment 0', hop: '2001:db8:113:80::7b', bytes: hex(hops(across, 63)) }]);
  });

  it('takes ::/0 for what nothing longer holds, but never a link-local or multicast destination', function () {
    const t = rig6({ routes: [['::/0', 'alp-sf', '2001:db8:19:6::2']] });
    const any = udp6(CLIENT, a6('2001:db8:999::1'), 1, 2, DATA);
    expect(t.fromTun(any)[0]).to.include({ to: 'segment 1', hop: '2001:db8:19:6::2' });
    const linkLocal = udp6(CLIENT, a6('fe80::1'), 1, 2, DATA);
    expect(t.fromTun(linkLocal)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0100 0000 00000000', linkLocal)) }]);
    expect(t.fromTun(udp6(CLIENT, a6('ff0e::1'), 1, 2, DATA)), 'a group: freed, no error').to.deep.equal([]);
    expect(t.drops.byReason['no-route']).to.equal(1);
  });

  it('never forwards a link-local source: unreachable, beyond the scope of the source (code 2)', function () {
    const t = rig6({ routes: [['::/0', 'alp-sf', '2001:db8:19:6::2']] });
    const scoped = udp6(a6('fe80::2'), WEB, 1, 2, DATA);
    expect(t.fromTun(scoped)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, a6('fe80::2'), '0102 0000 00000000', scoped)) }]);
    // From a segment, the error goes back on that link.
    const fromLink = udp6(a6('fe80::7'), CLIENT, 1, 2, DATA);
    expect(t.fromTap(1, fromLink)).to.deep.equal([{ to: 'segment 1', hop: 'fe80::7', bytes: hex(icmp6(LOCAL_SF, a6('fe80::7'), '0102 0000 00000000', fromLink)) }]);
  });

  it('Packet Too Big with the egress link\'s MTU: a TAP\'s toward a segment, the TUN\'s on the way back; never fragmented', function () {
    const t = rig6({ tunMtu: 1400 });
    const fits = udp6(CLIENT, WEB, 1, 2, Buffer.alloc(1400 - 48));
    expect(t.fromTun(fits)[0]).to.include({ to: 'segment 1' });
    const back = udp6(WEB, CLIENT, 2, 1, Buffer.alloc(1401 - 48));
    expect(t.fromTap(1, back)).to.deep.equal([
      { to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(icmp6(LOCAL_SF, WEB, '0200 0000 00000578', back.subarray(0, 1232))) },
    ]);
    expect(t.fromTap(1, udp6(WEB, CLIENT, 2, 1, Buffer.alloc(1400 - 48)))[0]).to.include({ to: 'intranet' });
    const big = rig6({ tunMtu: 9000 });
    const jumbo = udp6(CLIENT, WEB, 1, 2, Buffer.alloc(1501 - 48));
    expect(big.fromTun(jumbo)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0200 0000 000005dc', jumbo.subarray(0, 1232))) }]);
    expect(big.fromTun(udp6(CLIENT, WEB, 1, 2, Buffer.alloc(1500 - 48)))[0]).to.include({ to: 'segment 1' });
    expect(t.drops.byReason['packet-too-big'] + big.drops.byReason['packet-too-big']).to.equal(2);
  });

  it('an error in the hop-by-hop header stops a routed datagram; one past it is the destination\'s, and the datagram goes on', function () {
    const t = rig6();
    // Hop-by-hop with an option of type 10xxxxxx: code 2 at the option (40 + 2).
    const hbh = datagram6(CLIENT, WEB, 0, Buffer.concat([Buffer.from(ext(17, [0x9e, 4, 0, 0, 0, 0])), udp6(CLIENT, WEB, 1, 2, DATA).subarray(40)]));
    expect(t.fromTun(hbh)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0402 0000 0000002a', hbh)) }]);
    // The same option in destination options, and a Mobility header (135): forwarded as they are.
    const dst = datagram6(CLIENT, WEB, 60, Buffer.from(ext(17, [0x9e, 4, 0, 0, 0, 0])));
    expect(t.fromTun(dst)).to.deep.equal([{ to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(hops(dst, 63)) }]);
    const mobility = datagram6(CLIENT, WEB, 135, Buffer.from(ext(59, [0, 0, 0, 0, 0, 0])));
    expect(t.fromTun(mobility)[0]).to.include({ to: 'segment 1' });
    // A chain that runs past the payload: dropped, no error.
    expect(t.fromTun(datagram6(CLIENT, WEB, 60, Buffer.from([17, 3, 1, 0, 0, 0, 0, 0])))).to.deep.equal([]);
    expect(t.drops.byReason['malformed-ipv6']).to.equal(2);
  });

  it('a GSO super-packet is measured by the segments it will be cut into', function () {
    const t = rig6();
    const gso = (size: number) => (slot: number) => {
      t.pool.gsoType[slot] = 4; // VIRTIO_NET_HDR_GSO_TCPV6
      t.pool.hdrLen[slot] = 48;
      t.pool.gsoSize[slot] = size;
    };
    const super_ = udp6(CLIENT, WEB, 1, 2, Buffer.alloc(3000));
    expect(t.fromTun(super_, gso(1452)), '48 + 1452 bytes on the wire').to.deep.equal([{ to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(hops(super_, 63)) }]);
    const out = t.fromTun(super_, gso(1453));
    expect(out.map((s) => [s.to, s.bytes.slice(80, 84), s.bytes.slice(88, 96)]), 'Packet Too Big, MTU 1500').to.deep.equal([['intranet', '0200', '000005dc']]);
    expect(t.drops.byReason['packet-too-big']).to.equal(1);
  });
});

describe('forward/routes6: reverse-path filtering of what a segment sends on', function () {
  it('strict: a source routed back through that segment passes; through another, on the link, or not routed, does not', function () {
    const t = rig6();
    expect(t.fromTap(1, udp6(WEB, CLIENT, 53, 1, DATA))[0]).to.include({ to: 'intranet' });
    expect(t.fromTap(0, udp6(WEB, CLIENT, 53, 1, DATA)), 'from the other segment').to.deep.equal([]);
    expect(t.fromTap(0, udp6(HOST, CLIENT, 53, 1, DATA)), 'the segment\'s own host').to.deep.equal([]);
    expect(t.fromTap(1, udp6(a6('2001:db8:18::5'), CLIENT, 53, 1, DATA)), 'an intranet source').to.deep.equal([]);
    expect(t.drops.byReason['rp-filter']).to.equal(3);
  });

  it('loose: routed through any segment passes; never a VIP or the appliance\'s own address', function () {
    const t = rig6({ loose: true });
    expect(t.fromTap(0, udp6(WEB, CLIENT, 53, 1, DATA))[0]).to.include({ to: 'intranet' });
    expect(t.fromTap(1, udp6(VIP, CLIENT, 53, 1, DATA))).to.deep.equal([]);
    expect(t.fromTap(1, udp6(LOCAL_SA, CLIENT, 53, 1, DATA))).to.deep.equal([]);
    expect(t.drops.byReason['spoofed-source']).to.equal(2);
  });

  it('an ICMPv6 error from a host on the link about a datagram routed to that segment passes; about anything else it does not', function () {
    const t = rig6();
    const routed = udp6(CLIENT, WEB, 40000, 53, DATA);
    const ptb = icmp6(GATEWAY, CLIENT, '0200 0000 00000500', routed);
    expect(t.fromTap(1, ptb)).to.deep.equal([{ to: 'intranet', bytes: hex(hops(ptb, 63)) }]);
    expect(t.fromTap(0, icmp6(HOST, CLIENT, '0200 0000 00000500', routed)), 'from the other segment').to.deep.equal([]);
    expect(t.fromTap(1, icmp6(GATEWAY, CLIENT, '0100 0000 00000000', udp6(CLIENT, LOCAL_SA, 1, 2, DATA))), 'about what was not routed there').to.deep.equal([]);
    expect(t.fromTap(1, icmp6(GATEWAY, CLIENT, '8000 0000 00000000', routed)), 'not an error').to.deep.equal([]);
  });
});

/** A fragment (RFC 8200 4.5) of a datagram from `src` to `dst`: `data` at `offset`, M as `more`. */
function fragment(src: Uint8Array, dst: Uint8Array, next: number, offset: number, more: boolean, data: Buffer, id = 0x1234): Buffer {
  const header = Buffer.from([next, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, id >> 8, id & 255]);
  return datagram6(src, dst, 44, Buffer.concat([header, data]));
}

describe('forward/routes6: fragments, put together only when they are for the appliance (RFC 8200 4.5)', function () {
  const request = icmp6(CLIENT, VIP, '8000 0000 4242 0001', Buffer.alloc(40, 0x61)).subarray(40); // the ICMPv6 message, 48 bytes

  it('a fragmented echo request to the VIP is reassembled and answered whole', function () {
    const t = rig6();
    expect(t.fromTun(fragment(CLIENT, VIP, 58, 0, true, request.subarray(0, 24)))).to.deep.equal([]);
    expect(t.fromTun(fragment(CLIENT, VIP, 58, 24, false, request.subarray(24)))).to.deep.equal([
      { to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '8100 0000 4242 0001', Buffer.alloc(40, 0x61))) },
    ]);
  });

  it('routed fragments are forwarded as they came, each with its hop limit less one', function () {
    const t = rig6();
    const parts = [fragment(CLIENT, WEB, 17, 0, true, Buffer.alloc(16, 1)), fragment(CLIENT, WEB, 17, 16, false, Buffer.alloc(5, 2))];
    for (const p of parts) expect(t.fromTun(p)).to.deep.equal([{ to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(hops(p, 63)) }]);
  });

  it('reassembly\'s errors go where the datagram\'s destination is: Time Exceeded (code 1) at the timeout, a Parameter Problem for a fragment it refuses', function () {
    const t = rig6();
    const first = fragment(CLIENT, VIP, 58, 0, true, request.subarray(0, 24));
    t.fromTun(first);
    expect(t.expire(1000)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0301 0000 00000000', first)) }]);
    // Not the last, and not a multiple of 8 long: code 0 at the payload length (RFC 8200 4.5).
    const ragged = fragment(HOST, LOCAL_SA, 17, 0, true, Buffer.alloc(13));
    expect(t.fromTap(0, ragged)).to.deep.equal([{ to: 'segment 0', hop: '2001:db8:19:1::7a', bytes: hex(icmp6(LOCAL_SA, HOST, '0400 0000 00000004', ragged)) }]);
  });
});

describe('forward/on-link6: numbers for on-link destinations, a bounded number of them', function () {
  it('holds the last 1024 it numbered, lets the oldest go (forgotten by Neighbor Discovery too), never one held elsewhere', function () {
    const t = rig6();
    const host = (i: number) => a6(`2001:db8:113:80::${(0x1000 + i).toString(16)}`);
    for (let i = 0; i < 1024; i++) expect(t.fromTun(udp6(CLIENT, host(i), 1, 2, DATA))[0].hop).to.equal(`2001:db8:113:80::${(0x1000 + i).toString(16)}`);
    expect(t.forgotten).to.deep.equal([]);
    expect(ADDRESSES6.lookup(host(0), 0), 'held').to.be.at.least(0);
    t.fromTun(udp6(CLIENT, host(1024), 1, 2, DATA));
    expect(t.forgotten).to.deep.equal(['2001:db8:113:80::1000']);
    expect(ADDRESSES6.lookup(host(0), 0), 'given back').to.equal(-1);
    parseAddress('2001:db8:113:80::77'); // configured: held for good elsewhere
    t.fromTun(udp6(CLIENT, a6('2001:db8:113:80::77'), 1, 2, DATA));
    expect(t.forgotten, 'nothing let go for it').to.have.length(1);
  });
});
