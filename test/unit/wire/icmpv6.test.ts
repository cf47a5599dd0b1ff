import { expect } from 'chai';
import { pseudoHeaderSum6 } from '../../../appliance/wire/checksum';
import {
  emitNd, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAMETER_PROBLEM, ICMPV6_TIME_EXCEEDED, ICMPV6_UNREACHABLE,
  Icmpv6View, isIcmpv6Error, ND_NEIGHBOR_ADVERTISEMENT, ND_NEIGHBOR_SOLICITATION, ND_OPT_SOURCE_LL, ND_OPT_TARGET_LL, ND_OVERRIDE, ND_ROUTER,
  ND_SOLICITED, NdError, NdView, PARAMETER_NEXT_HEADER, parseNd, TIME_EXCEEDED_HOP_LIMIT, UNREACH6_ADDRESS, type NdRepr,
} from '../../../appliance/wire/icmpv6';
import { copy16, PROTO_ICMPV6 } from '../../../appliance/wire/ipv6';
import { a6, datagram6, withChecksum } from './packets6';

const C = a6('2001:db8:0:1::2');
const V = a6('2001:db8:0:1::100');
const LOCAL = a6('2001:db8:0:2::1');
const SERVER = a6('2001:db8:0:2::100');
const SOLICITED_NODE = a6('ff02::1:ff00:100');
const MAC_A = Uint8Array.of(0x02, 0x53, 0x41, 0x13, 0x01, 0x01);
const MAC_B = Uint8Array.of(0x52, 0xc0, 0xeb, 0x61, 0x0e, 0x6f);

/** An ICMPv6 message from hex, in a datagram, its checksum set by the reference. */
function message(src: Uint8Array, dst: Uint8Array, hex: string): Buffer {
  return datagram6(src, dst, PROTO_ICMPV6, withChecksum(src, dst, PROTO_ICMPV6, Buffer.from(hex, 'hex'), 2), 255);
}

function icmpAt(b: Buffer): Icmpv6View {
  return new Icmpv6View().wrap(b, 40, b.length - 40);
}

function pseudoOf(b: Buffer): number {
  return pseudoHeaderSum6(b, 8, b, 24, PROTO_ICMPV6, b.length - 40);
}

describe('wire/icmpv6', function () {
  it('reads an echo request and turns it into the reply, checksum and all', function () {
    const b = message(C, V, '8000' + '0000' + '1234' + '0001' + '6162636465');
    const v = icmpAt(b);
    expect(v.checksumValid(pseudoOf(b))).to.equal(true);
    expect(v.type).to.equal(ICMPV6_ECHO_REQUEST);
    expect(v.identifier).to.equal(0x1234);
    expect(v.sequence).to.equal(1);
    expect(b.subarray(v.bodyOffset).toString()).to.equal('abcde');
    // The reply: addresses swapped, type 129, the rest kept.
    copy16(V, 0, b, 8);
    copy16(C, 0, b, 24);
    v.type = ICMPV6_ECHO_REPLY;
    v.fillChecksum(pseudoOf(b));
    expect(b.toString('hex')).to.equal(message(V, C, '8100' + '0000' + '1234' + '0001' + '6162636465').toString('hex'));
  });

  it('notices a bad checksum, a wrong pseudo-header and a short message', function () {
    const b = message(C, V, '8000' + '0000' + '1234' + '0001');
    expect(icmpAt(b).checksumValid(pseudoHeaderSum6(b, 8, b, 24, 17, 8))).to.equal(false);
    expect(icmpAt(b).checksumValid(pseudoHeaderSum6(b, 8, C, 0, PROTO_ICMPV6, 8))).to.equal(false);
    b[47] ^= 1;
    expect(icmpAt(b).checksumValid(pseudoOf(b))).to.equal(false);
    expect(new Icmpv6View().wrap(b, 40, 7).checksumValid(pseudoOf(b))).to.equal(false);
  });

  it('builds a Packet Too Big, a Parameter Problem and the other errors byte for byte', function () {
    const invoking = datagram6(C, SERVER, 6, new Uint8Array(20));
    const quoted = invoking.toString('hex');
    const cases: [number, number, (v: Icmpv6View) => void, string][] = [
      [ICMPV6_PACKET_TOO_BIG, 0, (v) => { v.mtu = 1280; }, '00000500'],
      [ICMPV6_PARAMETER_PROBLEM, PARAMETER_NEXT_HEADER, (v) => { v.pointer = 6; }, '00000006'],
      [ICMPV6_TIME_EXCEEDED, TIME_EXCEEDED_HOP_LIMIT, () => {}, '00000000'],
      [ICMPV6_UNREACHABLE, UNREACH6_ADDRESS, () => {}, '00000000'],
    ];
    for (const [type, code, word, wordHex] of cases) {
      const b = datagram6(LOCAL, C, PROTO_ICMPV6, new Uint8Array(8 + invoking.length), 64);
      b.set(invoking, 48);
      const v = icmpAt(b);
      v.type = type;
      v.code = code;
      word(v);
      v.fillChecksum(pseudoOf(b));
      const golden = datagram6(LOCAL, C, PROTO_ICMPV6, withChecksum(LOCAL, C, PROTO_ICMPV6, Buffer.from(type.toString(16).padStart(2, '0') + code.toString(16).padStart(2, '0') + '0000' + wordHex + quoted, 'hex'), 2));
      expect(b.toString('hex'), `type ${type}`).to.equal(golden.toString('hex'));
      expect(isIcmpv6Error(v.type)).to.equal(true);
    }
    const ptb = message(LOCAL, C, '0200' + '0000' + '000005dc' + quoted);
    expect(icmpAt(ptb).mtu).to.equal(1500);
    expect(icmpAt(message(LOCAL, C, '0401' + '0000' + '00000030' + quoted)).pointer).to.equal(48);
    expect(isIcmpv6Error(ICMPV6_ECHO_REQUEST)).to.equal(false);
    expect(isIcmpv6Error(ND_NEIGHBOR_SOLICITATION)).to.equal(false);
  });
});

describe('wire/icmpv6 neighbor discovery', function () {
  // Who has 2001:db8:0:2::100? From the appliance's local address, to the target's
  // solicited-node address, with the appliance's MAC as the source link-layer option.
  const NS = message(LOCAL, SOLICITED_NODE, '8700' + '0000' + '00000000' + '20010db8000000020000000000000100' + '0101' + '025341130101');
  // The answer: solicited and override, with the server's MAC as the target link-layer option,
  // after a nonce option (type 14) that is skipped.
  const NA = message(SERVER, LOCAL, '8800' + '0000' + '60000000' + '20010db8000000020000000000000100' + '0e01' + '010203040506' + '0201' + '52c0eb610e6f');

  const nd = (b: Buffer, len = b.length - 40): NdView => new NdView().wrap(b, 40, len);

  it('deconstructs a solicitation with its source link-layer address', function () {
    expect(icmpAt(NS).checksumValid(pseudoOf(NS))).to.equal(true);
    const v = nd(NS);
    expect(v.check()).to.equal(NdError.None);
    expect(v.targetOffset).to.equal(48);
    expect(NS.subarray(v.targetOffset, v.targetOffset + 16).equals(SERVER)).to.equal(true);
    expect(v.macAt).to.equal(66);
    expect(parseNd(v)).to.deep.equal({ type: ND_NEIGHBOR_SOLICITATION, flags: 0, target: Uint8Array.from(SERVER), option: ND_OPT_SOURCE_LL, mac: MAC_A });
  });

  it('deconstructs an advertisement: flags, and the target option after an unknown one', function () {
    const v = nd(NA);
    expect(v.check()).to.equal(NdError.None);
    expect(v.solicited).to.equal(true);
    expect(v.override).to.equal(true);
    expect(v.router).to.equal(false);
    expect(v.macAt).to.equal(40 + 24 + 8 + 2);
    expect(parseNd(v)).to.deep.equal({ type: ND_NEIGHBOR_ADVERTISEMENT, flags: ND_SOLICITED | ND_OVERRIDE, target: Uint8Array.from(SERVER), option: ND_OPT_TARGET_LL, mac: MAC_B });
  });

  it('constructs both byte for byte', function () {
    const build = (r: NdRepr, src: Uint8Array, dst: Uint8Array): Buffer => {
      const b = datagram6(src, dst, PROTO_ICMPV6, new Uint8Array(32), 255);
      expect(emitNd(r, b, 40)).to.equal(32);
      icmpAt(b).fillChecksum(pseudoOf(b));
      return b;
    };
    const ns = build({ type: ND_NEIGHBOR_SOLICITATION, flags: 0, target: SERVER, option: ND_OPT_SOURCE_LL, mac: MAC_A }, LOCAL, SOLICITED_NODE);
    expect(ns.toString('hex')).to.equal(NS.toString('hex'));
    const na = build({ type: ND_NEIGHBOR_ADVERTISEMENT, flags: ND_ROUTER | ND_SOLICITED, target: LOCAL, option: ND_OPT_TARGET_LL, mac: MAC_A }, LOCAL, SERVER);
    expect(na.toString('hex')).to.equal(message(LOCAL, SERVER, '8800' + '0000' + 'c0000000' + '20010db8000000020000000000000001' + '0201' + '025341130101').toString('hex'));
    // Without an option (a duplicate address detection probe): 24 bytes.
    const probe = Buffer.alloc(24);
    expect(emitNd({ type: ND_NEIGHBOR_SOLICITATION, flags: ND_OVERRIDE, target: SERVER, option: 0, mac: MAC_A }, probe, 0)).to.equal(24);
    expect(probe.toString('hex')).to.equal('87000000' + '00000000' + '20010db8000000020000000000000100');
    const v = nd(Buffer.concat([Buffer.alloc(40), probe]));
    expect(v.check()).to.equal(NdError.None);
    expect(v.macAt).to.equal(-1);
    expect(parseNd(v).option).to.equal(0);
  });

  it('rejects zero-length and overrunning options, a short message, a code and a multicast target', function () {
    const bad = (hex: string, len?: number): NdError => nd(message(LOCAL, SOLICITED_NODE, hex), len).check();
    const head = '8700' + '0000' + '00000000' + '20010db8000000020000000000000100';
    expect(bad(head + '0100' + '025341130101')).to.equal(NdError.OptionLength); // length 0 (RFC 4861 4.6)
    expect(bad(head + '0102' + '025341130101')).to.equal(NdError.OptionLength); // 16 bytes said, 8 there
    expect(bad(head + '01')).to.equal(NdError.OptionLength); // a lone type byte
    expect(bad(head, 23)).to.equal(NdError.Truncated);
    expect(bad('8701' + head.slice(4))).to.equal(NdError.Code);
    expect(bad('8700' + '0000' + '00000000' + 'ff020000000000000000000000000001')).to.equal(NdError.TargetMulticast);
    // An option cut off by the message's length, though bytes follow in the buffer.
    expect(bad(head + '0101' + '025341130101', 28)).to.equal(NdError.OptionLength);
  });
});
