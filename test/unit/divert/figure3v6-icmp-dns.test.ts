import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { ip, udpDatagram } from '../wire/packets';
import { a6, datagram6, ext, withChecksum } from '../wire/packets6';
import { CLIENT6, DATA, GATEWAY6, harness6, MIRROR6, ORIGINAL6, OWN6 } from './harness6';

/*
 * ICMPv6 errors about diverted IPv6 flows, translated both ways (forward/diversion6-icmp.ts),
 * and the enhanced name server (figure 5) answering AAAA with a diverted IPv6 address and A
 * with an IPv4 one, over either family. Golden packets built from scratch.
 */

const hex = (b: Buffer) => b.toString('hex');

function udp6(src: Buffer, dst: Buffer, srcPort: number, dstPort: number, payload: Buffer, hop = 64): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(srcPort, 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(u.length, 4);
  payload.copy(u, 8);
  return datagram6(src, dst, 17, withChecksum(src, dst, 17, u, 6), hop);
}

/** An ICMPv6 error (RFC 4443 3): type, code, the 32-bit parameter, the first `quote` bytes of `about`. */
function error6(src: Buffer, dst: Buffer, type: number, code: number, param: number, about: Buffer, quote: number, hop = 64): Buffer {
  const m = Buffer.alloc(8 + Math.min(quote, about.length));
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(param, 4);
  about.copy(m, 8, 0, m.length - 8);
  return datagram6(src, dst, 58, withChecksum(src, dst, 58, m, 2), hop);
}

describe('divert: ICMPv6 errors about diverted IPv6 flows', function () {
  function flow() {
    const h = harness6({}, '[2001:db8:113::80]:7 = 2001:db8:113::81');
    h.feed(udp6(CLIENT6, ORIGINAL6, 40000, 7, DATA), 'intranet');
    return { h, own: h.d.flows.ownPort[0], out: h.sent[0].bytes };
  }

  it('a Port Unreachable from the mirror reaches the client from the original, quoting what the client sent', function () {
    const { h, out } = flow();
    expect(h.feed(error6(MIRROR6, OWN6, 1, 4, 0, out, out.length, 64), 'segment')).to.equal(true);
    const asClientSent = udp6(CLIENT6, ORIGINAL6, 40000, 7, DATA, 63);
    expect(h.sent[1].where).to.equal('intranet');
    expect(hex(h.sent[1].bytes)).to.equal(hex(error6(ORIGINAL6, CLIENT6, 1, 4, 0, asClientSent, asClientSent.length, 63)));
    expect(h.d.stats.icmpTranslated).to.equal(1);
  });

  it('a Packet Too Big from a router on the way keeps its source; a short quote is rewritten as far as it goes', function () {
    const { h, out } = flow();
    // 40 + 8 bytes of the datagram: the UDP header, its checksum in it, and no payload.
    expect(h.feed(error6(GATEWAY6, OWN6, 2, 0, 1280, out, 48, 64), 'segment')).to.equal(true);
    const asClientSent = udp6(CLIENT6, ORIGINAL6, 40000, 7, DATA, 63);
    expect(hex(h.sent[1].bytes)).to.equal(hex(error6(GATEWAY6, CLIENT6, 2, 0, 1280, asClientSent, 48, 63)));
  });

  it('an error from the client about a reply goes to the mirror, about what the mirror sent', function () {
    const { h, own } = flow();
    const reply = Buffer.from('pong');
    h.feed(udp6(MIRROR6, OWN6, 7, own, reply, 62), 'segment');
    const got = h.sent[1].bytes;
    expect(h.feed(error6(CLIENT6, ORIGINAL6, 1, 4, 0, got, got.length), 'intranet')).to.equal(true);
    const asMirrorSent = udp6(MIRROR6, OWN6, 7, own, reply, 61);
    expect(h.sent[2].where).to.equal('segment');
    expect(h.sent[2].hop).to.equal(ADDRESSES6.lookup(GATEWAY6, 0));
    expect(hex(h.sent[2].bytes)).to.equal(hex(error6(OWN6, MIRROR6, 1, 4, 0, asMirrorSent, asMirrorSent.length, 63)));
  });

  it('an error about no flow, or quoting another source than local6, is not taken; at hop limit 1 it is dropped, unanswered', function () {
    const { h, own, out } = flow();
    const other = udp6(OWN6, MIRROR6, own === 65535 ? 1024 : own + 1, 7, DATA, 63);
    expect(h.feed(error6(MIRROR6, OWN6, 1, 4, 0, other, other.length), 'segment')).to.equal(false);
    const notOurs = udp6(a6('2001:db8:19:1::9'), MIRROR6, own, 7, DATA, 63);
    expect(h.feed(error6(MIRROR6, OWN6, 1, 4, 0, notOurs, notOurs.length), 'segment')).to.equal(false);
    expect(h.feed(error6(MIRROR6, OWN6, 1, 4, 0, out, out.length, 1), 'segment')).to.equal(true);
    expect(h.sent).to.have.length(1);
    expect(h.drops.byReason['ttl-exceeded']).to.equal(1);
  });
});

const DNS6 = a6('2001:db8:53::53');
const q = (name: string, type: 'A' | 'AAAA') => dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
/** The answer the name server writes: the query's header turned into QR AA RD RA, its question, then `answer`. */
function response(query: Buffer, ancount: number, answer: string): Buffer {
  const b = Buffer.concat([query, Buffer.from(answer.replace(/\s+/g, ''), 'hex')]);
  b.writeUInt16BE(0x8580, 2);
  b.writeUInt16BE(ancount, 6);
  return b;
}

describe('divert: the enhanced name server for IPv6 addresses (figure 5)', function () {
  const entries = ['web6.socksalp.test = 2001:db8:113::81', 'web4.socksalp.test = 203.0.113.81'];

  it('AAAA over IPv6 for a name diverted to IPv6: the AAAA record, from the server asked, flow label cleared', function () {
    const h = harness6({}, ...entries);
    const query = q('web6.socksalp.test', 'AAAA');
    const asked = udp6(CLIENT6, DNS6, 40010, 53, query);
    asked[0] = 0x6b; // traffic class 0xb8, flow label 0xabcde
    asked[1] = 0x8a;
    asked[2] = 0xbc;
    asked[3] = 0xde;
    expect(h.feed(asked, 'intranet')).to.equal(true);
    const want = udp6(DNS6, CLIENT6, 53, 40010, response(query, 1, 'c00c 001c 0001 0000001e 0010 20010db8011300000000000000000081'));
    want[0] = 0x6b;
    want[1] = 0x80;
    expect(h.sent.map((s) => s.where)).to.deep.equal(['intranet']);
    expect(hex(h.sent[0].bytes)).to.equal(hex(want));
    expect(h.d.ens.counters.answered).to.equal(1);
  });

  it('A over IPv6 for a name diverted to IPv6, AAAA for one diverted to IPv4: NODATA; A for IPv4 over IPv6: the A record', function () {
    const h = harness6({}, ...entries);
    const a = q('web6.socksalp.test', 'A');
    h.feed(udp6(CLIENT6, DNS6, 40011, 53, a), 'intranet');
    expect(hex(h.sent[0].bytes)).to.equal(hex(udp6(DNS6, CLIENT6, 53, 40011, response(a, 0, ''))));
    const aaaa = q('web4.socksalp.test', 'AAAA');
    h.feed(udp6(CLIENT6, DNS6, 40012, 53, aaaa), 'intranet');
    expect(hex(h.sent[1].bytes)).to.equal(hex(udp6(DNS6, CLIENT6, 53, 40012, response(aaaa, 0, ''))));
    const a4 = q('web4.socksalp.test', 'A');
    h.feed(udp6(CLIENT6, DNS6, 40013, 53, a4), 'intranet');
    expect(hex(h.sent[2].bytes)).to.equal(hex(udp6(DNS6, CLIENT6, 53, 40013, response(a4, 1, 'c00c 0001 0001 0000001e 0004 cb007151'))));
    expect([h.d.ens.counters.answered, h.d.ens.counters.nodata]).to.deep.equal([1, 2]);
  });

  it('over IPv4: AAAA for a name diverted to IPv6 gets its AAAA record, A gets NODATA', function () {
    const h = harness6({}, ...entries);
    h.feed(udpDatagram(ip('198.18.0.2'), ip('198.18.0.53'), 40014, 53, q('web6.socksalp.test', 'AAAA')), 'intranet');
    const b = h.sent[0].bytes;
    expect([b.readUInt32BE(12), b.readUInt32BE(16), b.readUInt16BE(20), b.readUInt16BE(22)]).to.deep.equal([ip('198.18.0.53'), ip('198.18.0.2'), 53, 40014]);
    const m = dnsPacket.decode(b.subarray(28));
    expect(m.answers).to.deep.equal([{ name: 'web6.socksalp.test', type: 'AAAA', ttl: 30, class: 'IN', flush: false, data: '2001:db8:113::81' }]);
    h.feed(udpDatagram(ip('198.18.0.2'), ip('198.18.0.53'), 40015, 53, q('web6.socksalp.test', 'A')), 'intranet');
    expect(dnsPacket.decode(h.sent[1].bytes.subarray(28)).answers).to.deep.equal([]);
  });

  it('a query behind an extension header, or for a name not diverted, passes unchanged', function () {
    const h = harness6({}, ...entries);
    const query = q('web6.socksalp.test', 'AAAA');
    const u = udp6(CLIENT6, DNS6, 40016, 53, query).subarray(40);
    // A destination options header (RFC 8200 4.6) with one PadN option before the UDP header.
    const withOptions = datagram6(CLIENT6, DNS6, 60, Buffer.concat([Buffer.from(ext(17, [1, 4, 0, 0, 0, 0])), u]));
    expect(h.feed(withOptions, 'intranet')).to.equal(false);
    expect(h.feed(udp6(CLIENT6, DNS6, 40017, 53, q('other.socksalp.test', 'AAAA')), 'intranet')).to.equal(false);
    expect(h.sent).to.have.length(0);
  });
});
