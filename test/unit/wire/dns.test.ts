import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import {
  A_RECORD_LENGTH,
  CLASS_IN,
  DNS_HEADER,
  DnsError,
  DnsOpt,
  DnsQuestion,
  DnsView,
  encodeA,
  encodeOpt,
  OPT_LENGTH,
  parseDnsQuery,
  POINTER_TO_QNAME,
  TYPE_A,
  TYPE_AAAA,
  TYPE_OPT,
} from '../../../appliance/wire/dns';
import { ip } from './packets';

/** Hex with spaces, as the golden bytes below are written. */
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
/** `bytes` at offset `off` of a buffer filled with 0xee, the view over them. */
function at(bytes: Buffer, off = 42, room = 0): { b: Buffer; v: DnsView } {
  const b = Buffer.alloc(off + bytes.length + room, 0xee);
  bytes.copy(b, off);
  return { b, v: new DnsView().wrap(b, off, bytes.length) };
}
/** A QNAME in wire form from its labels (for the limits; the golden messages spell theirs out). */
const wireName = (...labels: string[]): string => labels.map((l) => (l.length.toString(16).padStart(2, '0') + Buffer.from(l, 'latin1').toString('hex'))).join('') + '00';

// dig web.socksalp.test A +noedns, as sent, but with the name in mixed case.
const QUERY = hex(
  'beef', // ID
  '0120', // QR 0, OPCODE 0, AA 0, TC 0, RD 1 | RA 0, Z 0, AD 1 (RFC 6840 5.7), CD 0, RCODE 0
  '0001 0000 0000 0000', // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0
  '03 576542', // 3 "WeB"
  '08 536f636b73416c70', // 8 "SocksAlp"
  '04 54455354', // 4 "TEST"
  '00', // the root
  '0001', // QTYPE A
  '0001', // QCLASS IN
);

describe('wire/dns', function () {
  it('deconstructs a header at fixed offsets', function () {
    const { v } = at(QUERY);
    expect(v.valid).to.equal(true);
    expect(v.id).to.equal(0xbeef);
    expect(v.flags).to.equal(0x0120);
    expect([v.qr, v.opcode, v.aa, v.tc, v.rd, v.ra, v.z, v.ad, v.cd, v.rcode]).to.deep.equal([false, 0, false, false, true, false, false, true, false, 0]);
    expect([v.qdcount, v.ancount, v.nscount, v.arcount]).to.deep.equal([1, 0, 0, 0]);
    expect(v.end).to.equal(42 + QUERY.length);
    expect(new DnsView().wrap(QUERY, 0, DNS_HEADER - 1).valid).to.equal(false);
  });

  it('sets each header field without touching the others or the bytes around', function () {
    const { b, v } = at(Buffer.alloc(DNS_HEADER), 5, 3);
    const bools = ['qr', 'aa', 'tc', 'rd', 'ra', 'z', 'ad', 'cd'] as const;
    const masks = [0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010];
    bools.forEach((f, i) => {
      v.flags = 0;
      v[f] = true;
      expect(v.flags, f).to.equal(masks[i]);
      v.flags = 0xffff;
      v[f] = false;
      expect(v.flags, f).to.equal(0xffff & ~masks[i]);
    });
    v.flags = 0;
    v.opcode = 5;
    expect(v.flags).to.equal(5 << 11);
    v.flags = 0xffff;
    v.opcode = 0;
    v.rcode = 3;
    expect([v.flags, v.opcode, v.rcode]).to.deep.equal([0x87f3, 0, 3]);
    v.id = 0x1234;
    v.qdcount = 0x0102;
    v.ancount = 0x0304;
    v.nscount = 0x0506;
    v.arcount = 0xfffe;
    expect([v.id, v.qdcount, v.ancount, v.nscount, v.arcount]).to.deep.equal([0x1234, 0x0102, 0x0304, 0x0506, 0xfffe]);
    expect(b.subarray(5, 17).toString('hex')).to.equal('1234' + '87f3' + '0102' + '0304' + '0506' + 'fffe');
    expect(b.subarray(0, 5).toString('hex') + b.subarray(17).toString('hex')).to.equal('ee'.repeat(8));
  });

  it('reads the question without decoding it, then its name lowercased without the trailing dot', function () {
    const { v } = at(QUERY);
    const q = new DnsQuestion();
    expect(v.readQuestion(q)).to.equal(DnsError.None);
    expect(q.nameOffset).to.equal(42 + 12);
    expect(q.nameLength).to.equal(19);
    expect([q.type, q.class]).to.deep.equal([TYPE_A, CLASS_IN]);
    expect(q.end).to.equal(42 + QUERY.length);
    expect(v.name(q)).to.equal('web.socksalp.test');
  });

  it('agrees with dns-packet on queries it encodes', function () {
    const q = new DnsQuestion();
    for (const [name, type, code] of [['Web.SocksAlp.test', 'A', 1], ['_dmarc.example.org', 'TXT', 16], ['x-1.y_2.Z', 'AAAA', 28], ['.', 'NS', 2]] as const) {
      const bytes = dnsPacket.encode({ id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
      const r = parseDnsQuery(at(bytes, 3).v, q);
      expect(r, name).to.deep.equal({ id: 7, flags: 0x0100, qdcount: 1, ancount: 0, nscount: 0, arcount: 0, name: name === '.' ? '' : name.toLowerCase(), type: code, class: CLASS_IN });
    }
    expect(parseDnsQuery(new DnsView().wrap(QUERY, 0, 11))).to.equal(undefined);
  });

  it('takes the longest label and name there can be and refuses longer', function () {
    const q = new DnsQuestion();
    const read = (name: string) => at(hex('0000 0000 0001 0000 0000 0000', name, '0001 0001')).v.readQuestion(q);
    const a = (n: number) => 'a'.repeat(n);
    expect(read(wireName(a(63)))).to.equal(DnsError.None);
    expect(read(wireName(a(64)))).to.equal(DnsError.LabelLength);
    // 3 * (1 + 63) + (1 + 61) + 1 = 255 wire bytes, 253 of text.
    expect(read(wireName(a(63), a(63), a(63), a(61)))).to.equal(DnsError.None);
    expect(q.nameLength).to.equal(255);
    const { v } = at(hex('0000 0000 0001 0000 0000 0000', wireName(a(63), a(63), a(63), a(61)), '0001 0001'));
    v.readQuestion(q);
    expect(v.name(q)).to.have.length(253);
    expect(read(wireName(a(63), a(63), a(63), a(62)))).to.equal(DnsError.NameLength);
    expect(read(wireName(a(63), a(63), a(63), a(61), 'b'))).to.equal(DnsError.NameLength);
    // The root alone: a priming query's name.
    expect(read('00')).to.equal(DnsError.None);
    expect(at(hex('0000 0000 0001 0000 0000 0000 00 0002 0001')).v.name(q)).to.equal('');
  });

  it('refuses pointers, reserved label types and bytes a host name has not', function () {
    const q = new DnsQuestion();
    const read = (name: string) => at(hex('0000 0000 0001 0000 0000 0000', name, '0001 0001')).v.readQuestion(q);
    expect(read('c00c')).to.equal(DnsError.Pointer); // to itself: a loop
    expect(read('03 777777 c00c')).to.equal(DnsError.Pointer); // www, then back to the start
    expect(read('03 777777 c000')).to.equal(DnsError.Pointer); // into the header
    expect(read('41 00')).to.equal(DnsError.LabelLength); // 01: extended label type (RFC 6891 5)
    expect(read('80 00')).to.equal(DnsError.LabelLength); // 10: reserved
    expect(read(wireName('_sip', '_tcp', 'EXAMPLE-1', 'org'))).to.equal(DnsError.None);
    for (const bad of ['a b', 'a.b', '*', 'caf\u00e9', 'a\u0000', 'a/b', '@']) expect(read(wireName(bad)), bad).to.equal(DnsError.LabelByte);
  });

  it('reports truncation at every length of a question, throwing nothing', function () {
    const q = new DnsQuestion();
    for (let n = DNS_HEADER; n < QUERY.length; n++) expect(new DnsView().wrap(QUERY, 0, n).readQuestion(q), String(n)).to.equal(DnsError.Truncated);
    // A label whose length runs past the end of the buffer itself.
    expect(new DnsView().wrap(hex('0000 0000 0001 0000 0000 0000 3f 61'), 0, 14).readQuestion(q)).to.equal(DnsError.Truncated);
  });

  it('reads an OPT record and refuses one that is short, not an OPT, or whose options overrun', function () {
    const opt = hex(
      '00', // root
      '0029', // TYPE OPT
      '1000', // CLASS: UDP payload size 4096
      '00 00 8000', // TTL: extended RCODE 0, VERSION 0, DO
      '000c', // RDLENGTH 12
      '000a 0008 0102030405060708', // COOKIE (10), 8 bytes
    );
    const { v } = at(Buffer.concat([QUERY, opt]));
    const q = new DnsQuestion();
    const o = new DnsOpt();
    v.readQuestion(q);
    expect(v.readOpt(o, q.end)).to.equal(DnsError.None);
    expect([o.udpPayloadSize, o.extendedRcode, o.version, o.flags, o.dnssecOk]).to.deep.equal([4096, 0, 0, 0x8000, true]);
    expect([o.optionsOffset, o.optionsLength, o.end]).to.deep.equal([q.end + 11, 12, v.end]);
    const read = (...parts: string[]) => at(hex(...parts), 0).v.readOpt(o, 0);
    expect(read('00 0029 04d0 00 01 0000 0000')).to.equal(DnsError.None);
    expect([o.version, o.dnssecOk]).to.deep.equal([1, false]);
    expect(read('')).to.equal(DnsError.Truncated);
    expect(read('00 0029 04d0 00 00 0000 00')).to.equal(DnsError.Truncated);
    expect(read('00 0029 04d0 00 00 0000 0001')).to.equal(DnsError.Truncated);
    expect(read('03 6b6579 00 00fa 00ff 00000000 0000')).to.equal(DnsError.NotOpt); // TSIG's key name
    expect(read('00 0018 00ff 00000000 0000')).to.equal(DnsError.NotOpt); // SIG(0)
    expect(read('00 0029 04d0 00 00 0000 0003 000a00')).to.equal(DnsError.OptOptions);
    expect(read('00 0029 04d0 00 00 0000 0005 000a0002 00')).to.equal(DnsError.OptOptions);
    expect(read('00 0029 04d0 00 00 0000 0004 000a0000')).to.equal(DnsError.None);
  });

  it('encodes an A record and an OPT that dns-packet decodes', function () {
    const b = Buffer.alloc(3 + A_RECORD_LENGTH + OPT_LENGTH, 0xee);
    expect(encodeA(b, 3, POINTER_TO_QNAME, 3600, ip('203.0.113.81'))).to.equal(16);
    expect(encodeOpt(b, 19, 1232, 1, 0, 0x8000)).to.equal(11);
    expect(b.toString('hex')).to.equal(
      'eeeeee' +
        'c00c' + '0001' + '0001' + '00000e10' + '0004' + 'cb007151' + // pointer to 12, A, IN, TTL 3600, RDLENGTH 4, 203.0.113.81
        '00' + '0029' + '04d0' + '01' + '00' + '8000' + '0000', // root, OPT, 1232, ext RCODE 1, version 0, DO, RDLENGTH 0
    );
    // Behind a header and the question the pointer points to, dns-packet reads both back.
    const { b: m, v } = at(QUERY, 0, 27);
    v.ancount = 1;
    v.arcount = 1;
    b.copy(m, QUERY.length, 3);
    const d = dnsPacket.decode(m);
    expect(d.answers).to.deep.equal([{ name: 'WeB.SocksAlp.TEST', type: 'A', class: 'IN', ttl: 3600, flush: false, data: '203.0.113.81' }]);
    const o = d.additionals![0] as dnsPacket.OptAnswer;
    expect([o.type, o.udpPayloadSize, o.extendedRcode, o.ednsVersion, o.flag_do]).to.deep.equal(['OPT', 1232, 1, 0, true]);
    expect([TYPE_A, TYPE_AAAA, TYPE_OPT, CLASS_IN]).to.deep.equal([1, 28, 41, 1]);
  });
});
