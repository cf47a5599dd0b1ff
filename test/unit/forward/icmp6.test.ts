import { expect } from 'chai';
import { tcpRepr } from '../wire/packets';
import { a6, datagram6, ext, tcp6, udp6, withChecksum } from '../wire/packets6';
import { CLIENT, GATEWAY, hops, HOST, icmp6, LOCAL_SA, LOCAL_SF, rig6, VIP, WEB } from './rig6';

const hex = (b: Buffer) => b.toString('hex');
const PING = Buffer.from('abcdefgh01234567');

describe('forward/icmp6: echo (RFC 4443 4)', function () {
  it('answers an echo request to the IPv6 VIP in place: addresses swapped, type 129, hop limit 64, checksum over the pseudo-header', function () {
    const t = rig6();
    const out = t.fromTun(icmp6(CLIENT, VIP, '8000 0000 1234 0001', PING, 61));
    expect(out).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '8100 0000 1234 0001', PING, 64)) }]);
    expect(t.icmp6.stats.echoReplies).to.equal(1);
  });

  it('answers one to a segment\'s local6 on that segment: to the host on the link, or through the route to one beyond it', function () {
    const t = rig6();
    expect(t.fromTap(0, icmp6(HOST, LOCAL_SA, '8000 0000 0007 0003', PING))).to.deep.equal([
      { to: 'segment 0', hop: '2001:db8:19:1::7a', bytes: hex(icmp6(LOCAL_SA, HOST, '8100 0000 0007 0003', PING)) },
    ]);
    expect(t.fromTap(1, icmp6(WEB, LOCAL_SF, '8000 0000 0008 0001', PING))).to.deep.equal([
      { to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(icmp6(LOCAL_SF, WEB, '8100 0000 0008 0001', PING)) },
    ]);
  });

  it('leaves the request\'s extension headers out of the reply', function () {
    const t = rig6();
    const message = withChecksum(CLIENT, VIP, 58, Buffer.from('800000001234000a' + PING.toString('hex'), 'hex'), 2);
    const request = datagram6(CLIENT, VIP, 60, Buffer.concat([Buffer.from(ext(58, [1, 4, 0, 0, 0, 0])), message]));
    expect(t.fromTun(request)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '8100 0000 1234 000a', PING)) }]);
  });

  it('drops a bad checksum (counted), frees other informational messages and errors to it, uncounted, and never answers ::', function () {
    const t = rig6();
    const bad = icmp6(CLIENT, VIP, '8000 0000 1234 0001', PING);
    bad[50] ^= 1;
    expect(t.fromTun(bad)).to.deep.equal([]);
    expect(t.drops.byReason['malformed-icmp']).to.equal(1);
    expect(t.fromTun(icmp6(CLIENT, VIP, '8100 0000 1234 0001', PING)), 'an echo reply').to.deep.equal([]);
    expect(t.fromTun(icmp6(CLIENT, VIP, '0300 0000 00000000', udp6(VIP, WEB, 1, 2, PING))), 'an error').to.deep.equal([]);
    expect(t.fromTap(0, icmp6(a6('::'), LOCAL_SA, '8000 0000 0001 0001', PING)), 'from ::').to.deep.equal([]);
    expect(t.drops.byReason['malformed-icmp']).to.equal(1);
  });
});

describe('forward/icmp6: errors (RFC 4443 2.4, 3)', function () {
  it('Time Exceeded, Unreachable and Parameter Problem byte for byte: from the first IPv6 VIP, the datagram quoted whole', function () {
    const t = rig6();
    const expired = udp6(CLIENT, WEB, 40000, 53, PING);
    expect(t.fromTun(hops(expired, 1))).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0300 0000 00000000', hops(expired, 1))) }]);
    const nowhere = udp6(CLIENT, a6('2001:db8:200::1'), 40000, 53, PING);
    expect(t.fromTun(nowhere)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0100 0000 00000000', nowhere)) }]);
    // A destination option of type 10xxxxxx to the VIP: code 2, pointing at the option's type (40 + 2).
    const option = datagram6(CLIENT, VIP, 60, Buffer.from(ext(59, [0x9e, 4, 0, 0, 0, 0])));
    expect(t.fromTun(option)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0402 0000 0000002a', option)) }]);
    expect(t.drops.byReason).to.include({ 'ttl-exceeded': 1, 'no-route': 1, 'malformed-ipv6': 1 });
    expect(t.icmp6.stats.errors).to.equal(3);
  });

  it('to the VIP, what nothing serves: UDP and TCP to another port a port unreachable, an unknown protocol a Parameter Problem at its field', function () {
    const t = rig6();
    const dns = udp6(CLIENT, VIP, 40000, 53, PING);
    expect(t.fromTun(dns)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0104 0000 00000000', dns)) }]);
    const http = tcp6(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 80, seq: 1, flags: 0x02, window: 65535 }));
    expect(t.fromTun(http)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0104 0000 00000000', http)) }]);
    expect(t.fromTun(tcp6(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 1, flags: 0x02, window: 65535 }))), 'the SOCKS port').to.deep.equal([{ to: 'dispatcher', bytes: '' }]);
    const sctp = datagram6(CLIENT, VIP, 132, PING);
    expect(t.fromTun(sctp)).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0401 0000 00000006', sctp)) }]);
    expect(t.fromTun(datagram6(CLIENT, VIP, 59, Buffer.alloc(0))), 'no next header: nothing').to.deep.equal([]);
  });

  it('about a datagram from a segment: from the appliance\'s address there, back onto that segment', function () {
    const t = rig6();
    const expired = hops(udp6(WEB, CLIENT, 53, 40000, PING), 1);
    expect(t.fromTap(1, expired)).to.deep.equal([
      { to: 'segment 1', hop: '2001:db8:19:6::2', bytes: hex(icmp6(LOCAL_SF, WEB, '0300 0000 00000000', expired)) },
    ]);
  });

  it('quotes no more than fits in 1280 bytes', function () {
    const t = rig6({ tunMtu: 9000 });
    const big = udp6(CLIENT, WEB, 40000, 9, Buffer.alloc(3000, 7));
    const out = t.fromTun(big);
    expect(out).to.deep.equal([{ to: 'intranet', bytes: hex(icmp6(VIP, CLIENT, '0200 0000 000005dc', big.subarray(0, 1280 - 48))) }]);
    expect(out[0].bytes.length / 2).to.equal(1280);
  });

  it('never about an ICMPv6 error or redirect, even behind extension headers; about an echo request, yes', function () {
    const t = rig6();
    const error = hops(icmp6(CLIENT, WEB, '0100 0000 00000000', udp6(WEB, CLIENT, 1, 2, PING)), 1);
    expect(t.fromTun(error)).to.deep.equal([]);
    const redirect = hops(icmp6(CLIENT, WEB, '8900 0000 00000000', Buffer.alloc(32)), 1);
    expect(t.fromTun(redirect)).to.deep.equal([]);
    const inner = withChecksum(CLIENT, WEB, 58, Buffer.from('0300000000000000', 'hex'), 2);
    const wrapped = datagram6(CLIENT, WEB, 60, Buffer.concat([Buffer.from(ext(58, [1, 4, 0, 0, 0, 0])), inner]), 1);
    expect(t.fromTun(wrapped), 'behind destination options').to.deep.equal([]);
    expect(t.drops.byReason['ttl-exceeded']).to.equal(3);
    expect(t.fromTun(hops(icmp6(CLIENT, WEB, '8000 0000 0001 0001', PING), 1))).to.have.length(1);
  });

  it('never to a source that is no single node\'s, nor about a datagram to a group, but for Packet Too Big (error6)', function () {
    const t = rig6();
    expect(t.fromTun(hops(udp6(a6('::'), WEB, 1, 2, PING), 1)), 'from ::').to.deep.equal([]);
    expect(t.drops.byReason['malformed-ipv6']).to.equal(1);
    const toGroup = udp6(CLIENT, a6('ff0e::1'), 1, 2, PING);
    expect(t.error6(toGroup, 3, 1, 0, -1), 'Time Exceeded (reassembly) about a datagram to a group').to.deep.equal([]);
    expect(t.error6(toGroup, 2, 0, 1280, -1)).to.have.length(1);
    expect(t.error6(udp6(a6('ff02::1'), WEB, 1, 2, PING), 2, 0, 1280, -1), 'from a group').to.deep.equal([]);
  });

  it('error6 is what reassembly calls: Time Exceeded code 1 about the first fragment, from where it came', function () {
    const t = rig6();
    const first = datagram6(HOST, CLIENT, 44, Buffer.concat([Buffer.from('1100000100000007', 'hex'), Buffer.alloc(16)]));
    expect(t.error6(first, 3, 1, 0, 0)).to.deep.equal([{ to: 'segment 0', hop: '2001:db8:19:1::7a', bytes: hex(icmp6(LOCAL_SA, HOST, '0301 0000 00000000', first)) }]);
  });

  it('rate-limits them with a token bucket, counting and logging once what it keeps back; Packet Too Big has a bucket of its own', function () {
    const t = rig6({ tunMtu: 9000 });
    t.icmp6.now = 100;
    const nowhere = udp6(CLIENT, a6('2001:db8:200::1'), 40000, 53, PING);
    let sent = 0;
    for (let i = 0; i < 60; i++) sent += t.fromTun(nowhere).length;
    expect(sent).to.equal(50);
    expect(t.icmp6.stats.errorsLimited).to.equal(10);
    expect(t.drops.byReason['no-route'], 'each datagram dropped all the same').to.equal(60);
    expect(t.logs.filter((l) => l.includes('rate limit'))).to.have.length(1);
    expect(t.fromTun(udp6(CLIENT, WEB, 1, 2, Buffer.alloc(1600))), 'a Packet Too Big still goes').to.have.length(1);
    t.icmp6.now = 100 + 1 / 128; // 1000 a second: 7.8 more
    sent = 0;
    for (let i = 0; i < 10; i++) sent += t.fromTun(nowhere).length;
    expect(sent).to.equal(7);
    t.icmp6.now = 200;
    sent = 0;
    for (let i = 0; i < 60; i++) sent += t.fromTun(nowhere).length;
    expect(sent, 'the bucket holds 50 at most').to.equal(50);
  });
});

describe('forward/icmp6: what a segment brings first (Neighbor Discovery)', function () {
  const NS = (dst: Uint8Array) => icmp6(HOST, dst, '8700 0000 00000000' + '20010db8000000010000000000000001', Buffer.alloc(0), 255);

  it('hands Neighbor Discovery (133 to 137) to ndp.ts first, whatever its destination; other groups\' traffic is freed', function () {
    const t = rig6();
    expect(t.fromTap(0, NS(a6('ff02::1:ff00:1')))).to.deep.equal([]);
    expect(t.fromTap(0, NS(LOCAL_SA))).to.deep.equal([]);
    expect(t.fromTap(1, icmp6(GATEWAY, LOCAL_SF, '8800 0000 60000000' + '20010db8000000060000000000000002', Buffer.alloc(0), 255))).to.deep.equal([]);
    expect(t.fromTap(0, icmp6(GATEWAY, a6('ff02::2'), '8500 0000 00000000', Buffer.alloc(0), 255)), 'a router solicitation').to.deep.equal([]);
    expect(t.nd).to.deep.equal(['segment 0 type 135', 'segment 0 type 135', 'segment 1 type 136', 'segment 0 type 133']);
    expect(t.fromTap(0, udp6(HOST, a6('ff02::16'), 1, 2, PING)), 'a group').to.deep.equal([]);
    expect(t.fromTap(0, icmp6(HOST, a6('ff02::1'), '8000 0000 0001 0001', PING)), 'an echo request to all nodes').to.deep.equal([]);
    expect(Object.values(t.drops.byReason).reduce((a, b) => a + b), 'none of it a drop').to.equal(0);
    expect(t.nd).to.have.length(4);
  });
});
