import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { EnhancedNameServer, type NameAddresses } from '../../../appliance/divert/ens';
import { DivertedAddresses } from '../../../appliance/divert/table';

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

function table(): DivertedAddresses {
  const t = new DivertedAddresses();
  for (const [o, d] of [
    ['web.socksalp.test', '203.0.113.81'],
    ['mirror.socksalp.test:80', '203.0.113.82'], // for one port: an A record cannot say so
    ['ftp.socksalp.test', 'files.socksalp.test'], // to a name: neither
  ]) {
    const r = t.add(o, d);
    if (!r.ok) throw new Error(r.message);
  }
  return t;
}

/** The table, counting the names looked up. */
class Spy implements NameAddresses {
  looked = 0;
  constructor(private readonly t: DivertedAddresses) {}
  get hasNames(): boolean { return this.t.hasNames; }
  nameAddress(name: string): number | undefined {
    this.looked++;
    return this.t.nameAddress(name);
  }
}

const OFF = 42; // after Ethernet, IPv4 and UDP headers
/** Runs `query` at OFF of a buffer filled with 0xee; the response, or undefined after checking the buffer is untouched. */
function ask(ens: EnhancedNameServer, query: Buffer, room = 512 - OFF): Buffer | undefined {
  const b = Buffer.alloc(OFF + Math.max(room, query.length), 0xee);
  query.copy(b, OFF);
  const before = Buffer.from(b);
  const n = ens.answer(b, OFF, query.length, room);
  if (n < 0) {
    expect(n).to.equal(-1);
    expect(b.equals(before), 'a passed query is left as it was').to.equal(true);
    return undefined;
  }
  expect(n).to.be.at.most(room);
  expect(b.subarray(0, OFF).equals(before.subarray(0, OFF)), 'nothing before the message is written').to.equal(true);
  expect(b.subarray(OFF + n).equals(before.subarray(OFF + n)), 'nothing after the response is written').to.equal(true);
  return Buffer.from(b.subarray(OFF, OFF + n));
}

const HEADER = (flags: string, counts = '0001 0000 0000 0000') => hex('beef', flags, counts);
const WEB = hex(
  '03 576542', // 3 "WeB"
  '08 536f636b73416c70', // 8 "SocksAlp"
  '04 54455354', // 4 "TEST"
  '00', // the root
);
const name = (text: string) => Buffer.concat([...text.split('.').map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l)])), Buffer.of(0)]);
const query = (qname: Buffer, qtype = '0001', qclass = '0001', flags = '0100', counts?: string, ...rest: string[]) => Buffer.concat([HEADER(flags, counts), qname, hex(qtype, qclass), hex(...rest)]);

// The A record of 203.0.113.81 behind the question, TTL 60.
const ANSWER_A = hex(
  'c00c', // NAME: pointer to offset 12, the question's name (RFC 1035 4.1.4)
  '0001', // TYPE A
  '0001', // CLASS IN
  '0000003c', // TTL 60
  '0004', // RDLENGTH 4
  'cb007151', // 203.0.113.81
);

describe('divert: EnhancedNameServer', function () {
  let ens: EnhancedNameServer;
  beforeEach(function () {
    ens = new EnhancedNameServer(table(), 60);
  });

  it('answers A for a diverted name, in place, the question echoed in its case', function () {
    const q = Buffer.concat([
      hex('beef'), // ID
      hex('0120'), // QR 0, OPCODE 0, AA 0, TC 0, RD 1 | RA 0, Z 0, AD 1, CD 0, RCODE 0
      hex('0001 0000 0000 0000'), // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0
      WEB,
      hex('0001 0001'), // QTYPE A, QCLASS IN
    ]);
    expect(ask(ens, q)?.toString('hex')).to.equal(
      Buffer.concat([
        hex('beef'), // the same ID
        hex('8580'), // QR 1, OPCODE 0, AA 1, TC 0, RD 1 | RA 1, Z 0, AD 0, CD 0, RCODE 0 (NOERROR)
        hex('0001 0001 0000 0000'), // QDCOUNT 1, ANCOUNT 1, NSCOUNT 0, ARCOUNT 0
        WEB, // byte for byte
        hex('0001 0001'),
        ANSWER_A,
      ]).toString('hex'),
    );
    expect(ens.counters).to.deep.equal({ answered: 1, nodata: 0, badvers: 0, passed: 0, malformed: 0 });
  });

  it('answers with EDNS: its own payload size, DO copied; RD 0 gives RA 0, CD is copied', function () {
    const opt = (size: string, flags: string, options = '0000') => hex('00 0029', size, '00 00', flags, options);
    const q = query(WEB, '0001', '0001', '0010', '0001 0000 0000 0001', '00 0029 1000 00 00 8000 0000');
    expect(ask(ens, q)?.toString('hex')).to.equal(
      Buffer.concat([
        hex('beef'),
        hex('8410'), // QR 1, AA 1, RD 0 | RA 0, CD 1
        hex('0001 0001 0000 0001'), // one answer, one additional: the OPT
        WEB,
        hex('0001 0001'),
        ANSWER_A,
        hex('00'), // OPT: root name
        hex('0029'), // TYPE 41
        hex('04d0'), // CLASS: our UDP payload size, 1232
        hex('00 00 8000'), // TTL: extended RCODE 0, VERSION 0, DO as asked
        hex('0000'), // RDLENGTH 0: no options
      ]).toString('hex'),
    );
    // Without DO, and with a cookie (RFC 7873) left unanswered: the response outgrows the query.
    const cookie = query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 0200 00 00 0000 000c 000a 0008 0102030405060708');
    expect(cookie.length).to.equal(58);
    expect(ask(ens, cookie, 61)).to.equal(undefined);
    expect(ask(ens, cookie, 62)?.subarray(51).toString('hex')).to.equal(opt('04d0', '0000').toString('hex'));
    expect(ens.counters).to.deep.equal({ answered: 2, nodata: 0, badvers: 0, passed: 1, malformed: 0 });
  });

  it('answers an EDNS version it does not know with BADVERS and version 0', function () {
    const q = query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 01 8000 0000');
    expect(ask(ens, q)?.toString('hex')).to.equal(
      Buffer.concat([
        hex('beef'),
        hex('8580'), // RCODE 0: BADVERS (16) has only its upper bits, in the OPT
        hex('0001 0000 0000 0001'), // no answer
        WEB,
        hex('0001 0001'),
        hex('00 0029 04d0'), // OPT, 1232
        hex('01 00 8000'), // extended RCODE 1 (16 >> 4), VERSION 0, DO
        hex('0000'),
      ]).toString('hex'),
    );
    expect(ens.counters.badvers).to.equal(1);
  });

  it('answers AAAA for a diverted name with NOERROR and no record; ANY with the A record', function () {
    const aaaa = ask(ens, query(WEB, '001c'));
    expect(aaaa?.toString('hex')).to.equal(Buffer.concat([hex('beef 8580 0001 0000 0000 0000'), WEB, hex('001c 0001')]).toString('hex'));
    const any = ask(ens, query(WEB, '00ff'));
    expect(any?.toString('hex')).to.equal(Buffer.concat([hex('beef 8580 0001 0001 0000 0000'), WEB, hex('00ff 0001'), ANSWER_A]).toString('hex'));
    expect(ens.counters).to.deep.equal({ answered: 1, nodata: 1, badvers: 0, passed: 0, malformed: 0 });
  });

  it('writes responses dns-packet reads as asked', function () {
    ens.ttl = 0;
    for (const [n, type] of [['WEB.SOCKSALP.TEST', 'A'], ['web.socksalp.test.', 'AAAA'], ['wEb.sOcKsAlP.tEsT', 'A']] as const) {
      for (const edns of [false, true]) {
        const bytes = dnsPacket.encode({ id: 0x4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: n, type, class: 'IN' }], additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: dnsPacket.DNSSEC_OK } as dnsPacket.Answer] : [] });
        const d = dnsPacket.decode(ask(ens, bytes)!);
        expect(d.id).to.equal(0x4242);
        expect(d.type).to.equal('response');
        expect(d.flags).to.equal(0x0580); // dns-packet keeps QR apart: AA, RD, RA
        expect(d.questions).to.deep.equal(dnsPacket.decode(bytes).questions);
        expect(d.answers!.map((a) => (a.type === 'A' ? `${a.name} ${a.ttl} ${a.data}` : a.type))).to.deep.equal(type === 'A' ? [`${n.replace(/\.$/, '')} 0 203.0.113.81`] : []);
        expect(d.additionals!.map((a) => (a.type === 'OPT' ? `${a.udpPayloadSize} ${a.flag_do}` : a.type))).to.deep.equal(edns ? ['1232 true'] : []);
      }
    }
  });

  it('passes, without a look at the name, what is not a plain query', function () {
    const spy = new Spy(table());
    const e = new EnhancedNameServer(spy, 60);
    const cases: [string, Buffer][] = [
      ['a response', query(WEB, '0001', '0001', '8180')],
      ['IQUERY', query(WEB, '0001', '0001', '0900')],
      ['NOTIFY', query(WEB, '0001', '0001', '2000')],
      ['UPDATE', query(WEB, '0001', '0001', '2800')],
      ['TC', query(WEB, '0001', '0001', '0300')],
      ['no question', HEADER('0100', '0000 0000 0000 0000')],
      ['QDCOUNT 2, one question', query(WEB, '0001', '0001', '0100', '0002 0000 0000 0000')],
      ['ANCOUNT 1, no answer', query(WEB, '0001', '0001', '0100', '0001 0001 0000 0000')],
      ['NSCOUNT 1', query(WEB, '0001', '0001', '0100', '0001 0000 0001 0000')],
      ['ARCOUNT 2', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0002', '00 0029 1000 00 00 0000 0000', '00 0029 1000 00 00 0000 0000')],
      ['TSIG-signed', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '03 6b6579 00 00fa 00ff 00000000 0000')],
      ['MX', query(WEB, '000f')],
      ['TXT', query(WEB, '0010')],
      ['class CH', query(WEB, '0001', '0003')],
      ['class ANY', query(WEB, '0001', '00ff')],
      ['MX, EDNS version 1', query(WEB, '000f', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 01 0000 0000')],
    ];
    for (const [what, q] of cases) expect(ask(e, q), what).to.equal(undefined);
    expect(spy.looked).to.equal(0);
    expect(e.counters).to.deep.equal({ answered: 0, nodata: 0, badvers: 0, passed: cases.length, malformed: 0 });
    const none = new Spy(new DivertedAddresses());
    expect(ask(new EnhancedNameServer(none, 60), query(WEB))).to.equal(undefined);
    expect(none.looked).to.equal(0);
  });

  it('passes names not diverted to an address, for every port', function () {
    const t = table();
    const e = new EnhancedNameServer(t, 60);
    for (const n of ['www.socksalp.test', 'mirror.socksalp.test', 'ftp.socksalp.test', 'socksalp.test', 'web.socksalp.test.evil', '_dmarc.web.socksalp.test']) {
      expect(ask(e, query(name(n))), n).to.equal(undefined);
      expect(ask(e, query(name(n), '001c')), n).to.equal(undefined);
    }
    expect(e.counters.passed).to.equal(12);
    expect(ask(e, query(name('web.socksalp.test')))).to.not.equal(undefined);
    t.remove('web.socksalp.test');
    expect(ask(e, query(name('web.socksalp.test'))), 'the table in force').to.equal(undefined);
  });

  it('counts what it cannot read as malformed and passes it', function () {
    const a = (n: number) => 'a'.repeat(n);
    const cases: [string, Buffer][] = [
      ['a pointer to itself', query(hex('c00c'))],
      ['a label, then a pointer back', query(hex('03 776562 c00c'))],
      ['a label of 64', query(name(a(64)))],
      ['256 wire bytes', query(name([a(63), a(63), a(63), a(62)].join('.')))],
      ['a space', query(name('we b.socksalp.test'))],
      ['ARCOUNT 1, nothing there', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001')],
      ['bytes after the question', query(WEB, '0001', '0001', '0100', undefined, '00')],
      ['bytes after the OPT', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 00 0000 0000 00')],
      ['RDLENGTH past the end', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 00 0000 0004 000a')],
      ['an option past RDLENGTH', query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 00 0000 0004 000a 0001')],
    ];
    for (const [what, q] of cases) expect(ask(ens, q), what).to.equal(undefined);
    expect(ens.counters.malformed).to.equal(cases.length);
    // Every prefix of a query with EDNS, the header's included.
    const whole = query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 00 0000 0004 000a 0000');
    for (let n = 0; n < whole.length; n++) expect(ask(ens, whole.subarray(0, n)), String(n)).to.equal(undefined);
    expect(ens.counters.malformed).to.equal(cases.length + whole.length);
    expect(ask(ens, whole)).to.not.equal(undefined);
  });

  it('never throws, whatever the bytes: random ones and mutations of a query', function () {
    let seed = 0x2545f491;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const base = query(WEB, '0001', '0001', '0100', '0001 0000 0000 0001', '00 0029 1000 00 00 8000 0008 000a 0004 01020304');
    let calls = 0;
    let answered = 0;
    for (let i = 0; i < 20000; i++) {
      let q: Buffer;
      if (i % 4 === 0) q = Buffer.from(Array.from({ length: rnd(80) }, () => rnd(256)));
      else {
        q = Buffer.from(base.subarray(0, base.length - (rnd(3) === 0 ? rnd(base.length) : 0)));
        for (let k = rnd(4); k > 0 && q.length > 0; k--) q[rnd(q.length)] = rnd(3) === 0 ? rnd(256) : q[rnd(q.length)] ^ (1 << rnd(8));
      }
      const r = ask(ens, q, rnd(120));
      calls++;
      if (r) {
        answered++;
        expect(dnsPacket.decode(r).id).to.equal(q.readUInt16BE(0));
      }
    }
    const c = ens.counters;
    expect(c.answered + c.nodata + c.badvers + c.passed + c.malformed).to.equal(calls);
    expect(answered).to.be.greaterThan(100);
    expect(c.malformed).to.be.greaterThan(1000);
  });

  it('keeps the TTL it is given, within RFC 2181 8', function () {
    ens.ttl = 0x7fffffff;
    expect(ask(ens, query(WEB))?.subarray(-10, -6).toString('hex')).to.equal('7fffffff');
    for (const bad of [-1, 1.5, 0x80000000, NaN]) expect(() => (ens.ttl = bad), String(bad)).to.throw(RangeError);
    expect(() => new EnhancedNameServer(table(), -5)).to.throw(RangeError);
    expect(ens.ttl).to.equal(0x7fffffff);
  });
});
