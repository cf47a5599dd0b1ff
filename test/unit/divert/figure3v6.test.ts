import { expect } from 'chai';
import { parseAddress } from '../../../appliance/addr/address';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_UNREACHABLE } from '../../../appliance/wire/icmpv6';
import { ACK, emitTcp, FIN, optionsLength, RST, SYN, TCP_MIN_HEADER, type TcpRepr } from '../../../appliance/wire/tcp';
import { ip, tcpRepr, udpDatagram } from '../wire/packets';
import { a6, datagram6, pseudo6, refChecksum, withChecksum } from '../wire/packets6';
import { CLIENT6, DATA, GATEWAY6, harness6, MIRROR6, ORIGINAL6, OWN6 } from './harness6';

/*
 * Figure 3 of the network-management patent on routed IPv6 traffic (forward/diversion6.ts):
 * golden packets, the exact bytes out built from scratch by the reference checksum (hop limit
 * one less, the transport checksum over the new pseudo-header), for UDP and TCP, the offloaded
 * (partial) checksum, the router's refusals, a move, and the addresses' references.
 */

const hex = (b: Buffer) => b.toString('hex');
const number = (b: Buffer) => ADDRESSES6.lookup(b, 0);

/** IPv6 + UDP with the reference checksum and hop limit `hop`. */
function udp6(src: Buffer, dst: Buffer, srcPort: number, dstPort: number, payload: Buffer, hop = 64): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(srcPort, 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(u.length, 4);
  payload.copy(u, 8);
  return datagram6(src, dst, 17, withChecksum(src, dst, 17, u, 6), hop);
}

/** IPv6 + TCP with the reference checksum and hop limit `hop`. */
function tcp6(src: Buffer, dst: Buffer, t: TcpRepr, hop = 64, payload = Buffer.alloc(0)): Buffer {
  const hl = TCP_MIN_HEADER + optionsLength(t);
  const seg = Buffer.alloc(hl + payload.length);
  payload.copy(seg, hl);
  emitTcp(t, seg, 0, 0, 0, payload.length);
  return datagram6(src, dst, 6, withChecksum(src, dst, 6, seg, 16), hop);
}

describe('divert: figure 3 on routed IPv6 traffic (current connections)', function () {
  it('UDP, events 1-7: out from local6 and an own port to the mirror; the reply back from the original', function () {
    const h = harness6({}, '[2001:db8:113::80]:7 = 2001:db8:113::81');
    expect(h.feed(udp6(CLIENT6, ORIGINAL6, 40000, 7, DATA), 'intranet')).to.equal(true);
    expect(h.d.flows.size).to.equal(1);
    const own = h.d.flows.ownPort[0];
    expect(own).to.be.within(1024, 65535);
    expect(h.sent.map((s) => [s.where, s.hop])).to.deep.equal([['segment', number(GATEWAY6)]]);
    expect(hex(h.sent[0].bytes)).to.equal(hex(udp6(OWN6, MIRROR6, own, 7, DATA, 63)));
    const reply = Buffer.from('mirror 2001:db8:113::81\n');
    expect(h.feed(udp6(MIRROR6, OWN6, 7, own, reply, 62), 'segment')).to.equal(true);
    expect(h.sent[1].where).to.equal('intranet');
    expect(hex(h.sent[1].bytes)).to.equal(hex(udp6(ORIGINAL6, CLIENT6, 7, 40000, reply, 61)));
    // The same flow again: the same row and own port.
    h.feed(udp6(CLIENT6, ORIGINAL6, 40000, 7, DATA), 'intranet');
    expect(h.d.flows.size).to.equal(1);
    expect(hex(h.sent[2].bytes)).to.equal(hex(udp6(OWN6, MIRROR6, own, 7, DATA, 63)));
    expect([h.d.stats.diverted, h.d.stats.returned]).to.deep.equal([2, 1]);
  });

  it('another port, another destination, a reply of no flow: not taken', function () {
    const h = harness6({}, '[2001:db8:113::80]:7 = 2001:db8:113::81');
    h.feed(udp6(CLIENT6, ORIGINAL6, 40001, 7, DATA), 'intranet');
    const own = h.d.flows.ownPort[0];
    expect(h.feed(udp6(CLIENT6, ORIGINAL6, 40001, 8, DATA), 'intranet')).to.equal(false);
    expect(h.feed(udp6(CLIENT6, a6('2001:db8:113::99'), 40001, 7, DATA), 'intranet')).to.equal(false);
    expect(h.feed(udp6(MIRROR6, OWN6, 7, own === 65535 ? 1024 : own + 1, DATA), 'segment')).to.equal(false);
    expect(h.feed(udp6(a6('2001:db8:113::82'), OWN6, 7, own, DATA), 'segment')).to.equal(false);
  });

  it('an offloaded checksum (NEEDS_CSUM) holds the new pseudo-header sum, the ports untouched in it', function () {
    const h = harness6({}, '2001:db8:113::80 = 2001:db8:113::81');
    const partial = (src: Buffer, dst: Buffer, sp: number, dp: number, hop: number) => {
      const b = udp6(src, dst, sp, dp, DATA, hop);
      b.writeUInt16BE(~refChecksum(pseudo6(src, dst, 17, 8 + DATA.length)) & 0xffff, 46);
      return b;
    };
    h.feed(partial(CLIENT6, ORIGINAL6, 40002, 9, 64), 'intranet', true);
    const own = h.d.flows.ownPort[0];
    expect(hex(h.sent[0].bytes)).to.equal(hex(partial(OWN6, MIRROR6, own, 9, 63)));
  });

  it('TCP: diverted from the SYN only; the SYN-ACK back; FINs both ways close the row after the linger', function () {
    const h = harness6({}, '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080');
    expect(h.feed(tcp6(CLIENT6, ORIGINAL6, tcpRepr({ srcPort: 50000, dstPort: 8080, seq: 5, ack: 9, flags: ACK, window: 100 })), 'intranet'), 'drain').to.equal(false);
    const syn = tcpRepr({ srcPort: 50001, dstPort: 8080, seq: 1000, flags: SYN, window: 100, mss: 1440 });
    expect(h.feed(tcp6(CLIENT6, ORIGINAL6, syn), 'intranet')).to.equal(true);
    const own = h.d.flows.ownPort[0];
    expect(hex(h.sent[0].bytes)).to.equal(hex(tcp6(OWN6, MIRROR6, { ...syn, srcPort: own }, 63)));
    const synAck = tcpRepr({ srcPort: 8080, dstPort: own, seq: 7000, ack: 1001, flags: SYN | ACK, window: 200, mss: 1440 });
    expect(h.feed(tcp6(MIRROR6, OWN6, synAck), 'segment')).to.equal(true);
    expect(hex(h.sent[1].bytes)).to.equal(hex(tcp6(ORIGINAL6, CLIENT6, { ...synAck, dstPort: 50001 }, 63)));
    const data = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    const get = tcpRepr({ srcPort: 50001, dstPort: 8080, seq: 1001, ack: 7001, flags: ACK, window: 100 });
    h.feed(tcp6(CLIENT6, ORIGINAL6, get, 64, data), 'intranet');
    expect(hex(h.sent[2].bytes)).to.equal(hex(tcp6(OWN6, MIRROR6, { ...get, srcPort: own }, 63, data)));
    h.feed(tcp6(CLIENT6, ORIGINAL6, tcpRepr({ srcPort: 50001, dstPort: 8080, seq: 1019, ack: 7001, flags: FIN | ACK, window: 100 })), 'intranet');
    h.feed(tcp6(MIRROR6, OWN6, tcpRepr({ srcPort: 8080, dstPort: own, seq: 7001, ack: 1020, flags: FIN | ACK, window: 200 })), 'segment');
    h.d.expire(5);
    expect(h.d.flows.size, 'lingering after both FINs').to.equal(1);
    h.d.expire(11);
    expect(h.d.flows.size).to.equal(0);
  });

  it('refuses as a router: hop limit 1 (Time Exceeded), larger than the link (Packet Too Big), no route (Unreachable)', function () {
    const h = harness6({ tapMtu: 1280 }, '2001:db8:113::80 = 2001:db8:113::81', '2001:db8:113::90 = 2001:db8:114::1');
    expect(h.feed(udp6(CLIENT6, ORIGINAL6, 40003, 7, DATA, 1), 'intranet')).to.equal(true);
    expect(h.feed(udp6(CLIENT6, ORIGINAL6, 40004, 7, Buffer.alloc(1300)), 'intranet')).to.equal(true);
    expect(h.feed(udp6(CLIENT6, a6('2001:db8:113::90'), 40005, 7, DATA), 'intranet')).to.equal(true);
    expect(h.sent.map((s) => s.error)).to.deep.equal([[ICMPV6_TIME_EXCEEDED, 0, 0, -1], [ICMPV6_PACKET_TOO_BIG, 0, 1280, -1], [ICMPV6_UNREACHABLE, 0, 0, -1]]);
    expect([h.drops.byReason['ttl-exceeded'], h.drops.byReason['packet-too-big'], h.drops.byReason['no-route']]).to.deep.equal([1, 1, 1]);
    expect(h.d.flows.size).to.equal(0);
  });

  it('move retargets a UDP row; a TCP row is reset on both sides in IPv6, at the exact sequence numbers', function () {
    const h = harness6({}, '2001:db8:113::80 = 2001:db8:113::81');
    h.feed(udp6(CLIENT6, ORIGINAL6, 40006, 7, DATA), 'intranet');
    const udpOwn = h.d.flows.ownPort[0];
    h.feed(tcp6(CLIENT6, ORIGINAL6, tcpRepr({ srcPort: 50002, dstPort: 8080, seq: 1000, flags: SYN, window: 100 })), 'intranet');
    const tcpOwn = h.d.flows.ownPort[1];
    h.feed(tcp6(MIRROR6, OWN6, tcpRepr({ srcPort: 8080, dstPort: tcpOwn, seq: 7000, ack: 1001, flags: SYN | ACK, window: 200 })), 'segment');
    h.sent.length = 0;
    h.d.table.add('2001:db8:113::80', '2001:db8:113::82');
    expect(h.d.move()).to.deep.equal({ moved: 1, reset: 1, released: 0 });
    const rst = (src: Buffer, dst: Buffer, sp: number, dp: number, seq: number, ack: number) => tcp6(src, dst, tcpRepr({ srcPort: sp, dstPort: dp, seq, ack, flags: RST | ACK, window: 0 }));
    expect(h.sent.map((s) => [s.where, hex(s.bytes)])).to.deep.equal([
      ['segment', hex(rst(OWN6, MIRROR6, tcpOwn, 8080, 1001, 7001))],
      ['intranet', hex(rst(ORIGINAL6, CLIENT6, 8080, 50002, 7001, 1001))],
    ]);
    h.feed(udp6(CLIENT6, ORIGINAL6, 40006, 7, DATA), 'intranet');
    expect(hex(h.sent[2].bytes)).to.equal(hex(udp6(OWN6, a6('2001:db8:113::82'), udpOwn, 7, DATA, 63)));
    // Diverted now to IPv4: a routed IPv6 flow cannot follow; its row is released.
    h.d.table.add('2001:db8:113::80', '203.0.113.81');
    expect(h.d.move()).to.deep.equal({ moved: 0, reset: 0, released: 1 });
  });

  it('an entry to the other family leaves routed flows unchanged (counted, logged once), both ways', function () {
    const h = harness6({}, '2001:db8:113::80 = 203.0.113.81', '203.0.113.80 = 2001:db8:113::81');
    expect(h.feed(udp6(CLIENT6, ORIGINAL6, 40007, 7, DATA), 'intranet')).to.equal(false);
    expect(h.feed(udpDatagram(ip('198.18.0.2'), ip('203.0.113.80'), 40008, 7, DATA), 'intranet')).to.equal(false);
    expect(h.d.stats.otherFamily).to.equal(2);
    expect(h.logs.filter((l) => /other address family/.test(l))).to.have.length(1);
    expect(h.d.flows.size).to.equal(0);
  });

  it('a row holds its client\'s address: interned by the first datagram, given back when the row goes', function () {
    const h = harness6({}, '2001:db8:113::80 = 2001:db8:113::81');
    const client = a6('2001:db8:18::77');
    expect(ADDRESSES6.lookup(client, 0)).to.equal(-1);
    h.feed(udp6(client, ORIGINAL6, 40009, 7, DATA), 'intranet');
    const n = ADDRESSES6.lookup(client, 0);
    expect(n).to.be.at.least(2 ** 32);
    expect(h.d.flows.clientAddr[0]).to.equal(n);
    h.d.expire(31);
    expect(h.d.flows.size).to.equal(0);
    expect(ADDRESSES6.lookup(client, 0)).to.equal(-1);
    // The configured addresses stay.
    expect(ADDRESSES6.lookup(MIRROR6, 0)).to.equal(parseAddress('2001:db8:113::81'));
  });
});
