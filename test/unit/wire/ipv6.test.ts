import { expect } from 'chai';
import { readU32 } from '../../../appliance/wire/ipv4';
import {
  copy16, DESTINATION_OPTIONS, emitIpv6, equal16, FRAGMENT, HOP_BY_HOP, Ipv6Error, Ipv6HeaderError, Ipv6Headers, Ipv6View,
  NO_NEXT_HEADER, parseIpv6, PROTO_ICMPV6, ROUTING,
} from '../../../appliance/wire/ipv6';
import { a6, datagram6, ext } from './packets6';

// A known header: traffic class 0xab, flow label 0x12345, 20 bytes of TCP, hop limit 64,
// 2001:db8:0:1::2 -> 2001:db8:0:2::100.
const GOLDEN = Buffer.from('6ab12345' + '0014' + '06' + '40' + '20010db8000000010000000000000002' + '20010db8000000020000000000000100' + '00'.repeat(20), 'hex');
const C = a6('2001:db8:0:1::2');
const V = a6('2001:db8:0:2::100');
const MULTICAST = a6('ff02::1');

/** Walks `payload` (extension headers and all) behind a header naming `first`. */
function walk(first: number, payload: number[], dst: Uint8Array = V): { e: Ipv6HeaderError; h: Ipv6Headers; b: Buffer } {
  const b = datagram6(C, dst, first, Uint8Array.from(payload));
  const v = new Ipv6View().wrap(b, 0, b.length);
  expect(v.check()).to.equal(Ipv6Error.None);
  const h = new Ipv6Headers();
  return { e: v.readHeaders(h), h, b };
}

const TCP = new Array(20).fill(0);

describe('wire/ipv6', function () {
  it('deconstructs the fixed header at fixed offsets', function () {
    const v = new Ipv6View().wrap(GOLDEN, 0, GOLDEN.length);
    expect(v.check()).to.equal(Ipv6Error.None);
    expect(v.version).to.equal(6);
    expect(v.trafficClass).to.equal(0xab);
    expect(v.flowLabel).to.equal(0x12345);
    expect(v.payloadLength).to.equal(20);
    expect(v.totalLength).to.equal(60);
    expect(v.nextHeader).to.equal(6);
    expect(v.hopLimit).to.equal(64);
    expect(v.payloadOffset).to.equal(40);
    expect(equal16(v.buf, v.srcOffset, C, 0)).to.equal(true);
    expect(equal16(v.buf, v.dstOffset, V, 0)).to.equal(true);
    expect(equal16(v.buf, v.srcOffset, V, 0)).to.equal(false);
    expect([0, 1, 2, 3].map((i) => readU32(v.buf, v.dstOffset + 4 * i))).to.deep.equal([0x20010db8, 0x00000002, 0, 0x100]);
    expect(v.dstMulticast).to.equal(false);
  });

  it('emits the same bytes it parses, at a non-zero offset', function () {
    const r = parseIpv6(new Ipv6View().wrap(GOLDEN, 0, GOLDEN.length));
    const out = Buffer.alloc(5 + 40);
    expect(emitIpv6(r, out, 5)).to.equal(40);
    expect(out.subarray(5).toString('hex')).to.equal(GOLDEN.subarray(0, 40).toString('hex'));
  });

  it('rewrites addresses and the hop limit in place', function () {
    const b = Buffer.concat([Buffer.alloc(3), GOLDEN]);
    const v = new Ipv6View().wrap(b, 3, GOLDEN.length);
    copy16(MULTICAST, 0, b, v.dstOffset);
    v.hopLimit = v.hopLimit - 1;
    expect(v.dstMulticast).to.equal(true);
    expect(b.subarray(3 + 24, 3 + 40).toString('hex')).to.equal('ff020000000000000000000000000001');
    expect(b[3 + 7]).to.equal(63);
    expect(b.subarray(3 + 8, 3 + 24).equals(C)).to.equal(true);
  });

  it('rejects a malformed fixed header, without throwing', function () {
    const v = new Ipv6View();
    expect(v.wrap(GOLDEN, 0, 39).check()).to.equal(Ipv6Error.Truncated);
    const b = Buffer.from(GOLDEN);
    b[0] = 0x45;
    expect(v.wrap(b, 0, b.length).check()).to.equal(Ipv6Error.Version);
    b[0] = 0x60;
    expect(v.wrap(b, 0, 59).check()).to.equal(Ipv6Error.PayloadLength);
    expect(v.wrap(b, 0, 60).check()).to.equal(Ipv6Error.None);
  });

  it('walks every kind of extension header to the upper layer', function () {
    // Hop-by-hop (PadN, router alert: type 5, high bits 00, skipped), routing without
    // segments left, an atomic fragment, destination options of Pad1s, then TCP.
    const hbh = ext(ROUTING, [0x01, 0x00, 0x05, 0x02, 0x00, 0x00]);
    const rt = ext(FRAGMENT, [0x00, 0x00, 0, 0, 0, 0]);
    const frag = [DESTINATION_OPTIONS, 0, 0x00, 0x00, 0xca, 0xfe, 0xba, 0xbe];
    const dst = ext(6, [0, 0, 0, 0, 0, 0]);
    const { e, h } = walk(HOP_BY_HOP, [...hbh, ...rt, ...frag, ...dst, ...TCP]);
    expect(e).to.equal(Ipv6HeaderError.None);
    expect(h.protocol).to.equal(6);
    expect(h.offset).to.equal(40 + 32);
    expect(h.pointer).to.equal(40 + 24); // the destination options' Next Header field
    expect(h.fragmentAt).to.equal(40 + 16);
    expect(h.identification).to.equal(0xcafebabe);
    expect(h.isFragment).to.equal(false); // atomic (RFC 6946)
  });

  it('reports the fragment header and stops at it', function () {
    // Offset 185 * 8 = 1480 bytes, M set, identification 0xdeadbeef, after destination options.
    const opts = ext(FRAGMENT, [0x01, 0x04, 0, 0, 0, 0]);
    const frag = [6, 0, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef];
    const { e, h } = walk(DESTINATION_OPTIONS, [...opts, ...frag, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(e).to.equal(Ipv6HeaderError.None);
    expect(h.isFragment).to.equal(true);
    expect(h.fragmentAt).to.equal(48);
    expect(h.fragmentNamedAt).to.equal(40);
    expect(h.fragmentOffset).to.equal(1480);
    expect(h.moreFragments).to.equal(true);
    expect(h.identification).to.equal(0xdeadbeef);
    expect(h.protocol).to.equal(6);
    expect(h.offset).to.equal(56);
    // The last fragment: M clear, offset non-zero; a first one: M set, offset 0.
    expect(walk(FRAGMENT, [6, 0, 0x00, 0x10, 0, 0, 0, 1, ...TCP]).h).to.include({ fragmentOffset: 16, moreFragments: false, isFragment: true, fragmentNamedAt: 6 });
    expect(walk(FRAGMENT, [6, 0, 0x00, 0x01, 0, 0, 0, 1, ...TCP]).h).to.include({ fragmentOffset: 0, moreFragments: true, isFragment: true });
  });

  it('reports truncated headers and options of every kind', function () {
    const cases: [number, number[]][] = [
      [HOP_BY_HOP, [6, 0, 1, 4, 0, 0]], // 6 of 8 bytes
      [HOP_BY_HOP, [6, 1, 1, 4, 0, 0, 0, 0]], // says 16 bytes, has 8
      [DESTINATION_OPTIONS, [6, 0, 1, 5, 0, 0, 0, 0]], // PadN of 5 in 4 bytes
      [DESTINATION_OPTIONS, [6, 0, 0, 0, 0, 0, 0, 0x1e]], // an option's type as the header's last byte
      [ROUTING, [6, 2, 0, 0, 0, 0, 0, 0, ...new Array(8).fill(0)]], // says 24, has 16
      [ROUTING, [6, 0, 0]],
      [FRAGMENT, [6, 0, 0, 0]],
      [DESTINATION_OPTIONS, [FRAGMENT, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0]],
    ];
    for (const [first, payload] of cases) {
      expect(walk(first, payload).e, `${first}: ${payload.join(',')}`).to.equal(Ipv6HeaderError.Truncated);
    }
  });

  it('does not read past the payload length into what follows it', function () {
    const b = datagram6(C, V, HOP_BY_HOP, Uint8Array.from([6, 0, 1, 4, 0, 0, 0, 0]));
    b.writeUInt16BE(4, 4); // the header claims only 4 bytes of payload
    const v = new Ipv6View().wrap(b, 0, b.length);
    expect(v.readHeaders(new Ipv6Headers())).to.equal(Ipv6HeaderError.Truncated);
  });

  it('refuses a chain ending in a header it does not process, pointing at the field that names it', function () {
    const hbh = ext(DESTINATION_OPTIONS, [1, 4, 0, 0, 0, 0]);
    const opts = ext(253, [1, 4, 0, 0, 0, 0]);
    const { e, h } = walk(HOP_BY_HOP, [...hbh, ...opts, ...new Array(8).fill(0)]);
    expect(e).to.equal(Ipv6HeaderError.NextHeader);
    expect(h.pointer).to.equal(48);
    expect(h.protocol).to.equal(-1);
    for (const other of [135, 139, 140, 254]) expect(walk(other, TCP).e).to.equal(Ipv6HeaderError.NextHeader);
    expect(walk(135, TCP).h.pointer).to.equal(6);
  });

  it('takes hop-by-hop options only first', function () {
    const opts = ext(HOP_BY_HOP, [1, 4, 0, 0, 0, 0]);
    const { e, h } = walk(DESTINATION_OPTIONS, [...opts, ...ext(6, [1, 4, 0, 0, 0, 0]), ...TCP]);
    expect(e).to.equal(Ipv6HeaderError.HopByHopNotFirst);
    expect(h.pointer).to.equal(40);
  });

  it('refuses a routing header with segments left, pointing at its type', function () {
    const { e, h } = walk(ROUTING, [...ext(6, [0, 1, 0, 0, 0, 0]), ...TCP]);
    expect(e).to.equal(Ipv6HeaderError.Routing);
    expect(h.pointer).to.equal(42);
  });

  it('acts on an unknown option by the two high bits of its type (RFC 8200 4.2)', function () {
    const at = (type: number, dst: Uint8Array = V) => walk(DESTINATION_OPTIONS, [...ext(6, [0, type, 2, 0, 0, 0]), ...TCP], dst);
    expect(at(0x1e).e).to.equal(Ipv6HeaderError.None); // 00: skip
    expect(at(0x5e).e).to.equal(Ipv6HeaderError.OptionDiscard); // 01
    expect(at(0x9e).e).to.equal(Ipv6HeaderError.OptionIcmp); // 10
    expect(at(0x9e, MULTICAST).e).to.equal(Ipv6HeaderError.OptionIcmp); // 10, even to multicast
    expect(at(0xde).e).to.equal(Ipv6HeaderError.OptionIcmp); // 11 to unicast
    expect(at(0xde, MULTICAST).e).to.equal(Ipv6HeaderError.OptionDiscard); // 11 to multicast
    expect(at(0xde).h.pointer).to.equal(43); // the option's type byte
    // Hop-by-hop options are read the same way.
    const { e, h } = walk(HOP_BY_HOP, [...ext(6, [0xc2, 4, 0, 0, 0, 0]), ...TCP]); // a jumbo payload option: not taken
    expect(e).to.equal(Ipv6HeaderError.OptionIcmp);
    expect(h.pointer).to.equal(42);
  });

  it('stops at no next header, at ESP and AH, and at ICMPv6', function () {
    expect(walk(DESTINATION_OPTIONS, ext(NO_NEXT_HEADER, [1, 4, 0, 0, 0, 0])).h).to.include({ protocol: NO_NEXT_HEADER, offset: 48, pointer: 40 });
    expect(walk(50, [0, 0, 1, 0]).h).to.include({ protocol: 50, offset: 40, pointer: 6 });
    expect(walk(51, [0, 0, 1, 0]).h).to.include({ protocol: 51, offset: 40 });
    expect(walk(PROTO_ICMPV6, [128, 0, 0, 0, 0, 0, 0, 0]).h).to.include({ protocol: PROTO_ICMPV6, offset: 40 });
  });

  it('never reads past the payload, whatever the bytes (random chains)', function () {
    let x = 0x1a2b3c4d;
    const next = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
    const kinds = [HOP_BY_HOP, ROUTING, FRAGMENT, DESTINATION_OPTIONS, 6, 253];
    const v = new Ipv6View();
    const h = new Ipv6Headers();
    for (let k = 0; k < 2000; k++) {
      const payload = Array.from({ length: next() % 64 }, () => (next() % 4 === 0 ? kinds[next() % kinds.length] : next() & (next() % 2 ? 0x03 : 0xff)));
      const b = Buffer.concat([datagram6(C, V, kinds[next() % kinds.length], Uint8Array.from(payload)), Buffer.alloc(64)]);
      const end = 40 + payload.length;
      const e = v.wrap(b, 0, b.length).readHeaders(h);
      const seen = JSON.stringify([e, h, h.isFragment]);
      if (e === Ipv6HeaderError.None) expect(h.offset).to.be.within(40, end);
      else if (e !== Ipv6HeaderError.Truncated) expect(h.pointer).to.be.within(6, end - 1);
      b.fill(0xff, end); // what lies past the payload must not change the outcome
      expect(JSON.stringify([v.wrap(b, 0, b.length).readHeaders(h), h, h.isFragment]), `case ${k}`).to.equal(seen);
    }
  });
});
