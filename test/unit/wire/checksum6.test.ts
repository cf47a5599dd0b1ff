import { expect } from 'chai';
import { fold, pseudoHeaderSum6, sumWords } from '../../../appliance/wire/checksum';
import { copy16 } from '../../../appliance/wire/ipv6';
import { ACK, PSH, SYN, TcpView } from '../../../appliance/wire/tcp';
import { UdpView } from '../../../appliance/wire/udp';
import { tcpRepr } from './packets';
import { a6, pseudo6, refChecksum, tcp6, udp6 } from './packets6';

const C = a6('2001:db8:0:1::2');
const V = a6('2001:db8:0:2::100');

/** A reproducible stream of bytes (xorshift32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x & 255;
  };
}

function tcpAt(b: Buffer, partial = false): TcpView {
  return new TcpView().wrap(b, 40, b.length - 40, partial);
}

function pseudoOf(b: Buffer, nextHeader: number, length: number): number {
  return pseudoHeaderSum6(b, 8, b, 24, nextHeader, length);
}

describe('wire/checksum over IPv6', function () {
  it('sums the pseudo-header as RFC 8200 8.1 lays it out', function () {
    // The complement of the reference over the pseudo-header alone is its folded sum.
    for (const length of [20, 1480, 70000]) {
      expect(fold(pseudoHeaderSum6(C, 0, V, 0, 6, length))).to.equal(~refChecksum(pseudo6(C, V, 6, length)) & 0xffff);
    }
    // The addresses may lie anywhere: a datagram's header or a configured array.
    const b = Buffer.concat([Buffer.alloc(3), V, Buffer.alloc(5), C]);
    expect(pseudoHeaderSum6(b, 24, b, 3, 58, 64)).to.equal(pseudoHeaderSum6(C, 0, V, 0, 58, 64));
  });

  it('verifies and fills a TCP checksum over IPv6', function () {
    const b = tcp6(C, V, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 7, ack: 9, flags: ACK | PSH, window: 512 }), Buffer.from('hello, world'));
    const t = tcpAt(b);
    const reference = t.checksum;
    expect(t.checksumValid6(pseudoOf(b, 6, t.len))).to.equal(true);
    expect(t.checksumValid6(pseudoOf(b, 17, t.len))).to.equal(false);
    t.fillChecksum6(pseudoOf(b, 6, t.len));
    expect(t.checksum).to.equal(reference);
    b[b.length - 1] ^= 0x20;
    expect(t.checksumValid6(pseudoOf(b, 6, t.len))).to.equal(false);
  });

  it('verifies a UDP checksum over IPv6, where zero is not allowed', function () {
    const b = udp6(C, V, 5353, 53, Buffer.from('abc'));
    const u = new UdpView().wrap(b, 40, b.length - 40);
    expect(u.valid).to.equal(true);
    expect(u.checksumValid6(pseudoOf(b, 17, u.length))).to.equal(true);
    b.writeUInt16BE(0, 46);
    expect(u.checksumValid6(pseudoOf(b, 17, u.length))).to.equal(false);
  });

  it('updates checksums for 128-bit address changes exactly as a full recomputation, over random addresses', function () {
    const next = random(0x5eed1624);
    const addr = (): Buffer => Buffer.from(Array.from({ length: 16 }, next));
    for (let k = 0; k < 300; k++) {
      const src = addr();
      const dst = addr();
      // Some cases keep most words, as a rewrite between addresses of one prefix does.
      const to = k % 3 === 0 ? Buffer.concat([src.subarray(0, 8), addr().subarray(0, 8)]) : addr();
      const payload = Buffer.from(Array.from({ length: next() }, next));
      const r = tcpRepr({ srcPort: 1 + next(), dstPort: 1080, seq: next() * 65536, flags: k % 2 ? SYN : ACK, window: 1000 });
      const b = tcp6(src, dst, r, payload);
      const at = k % 2 === 0 ? 8 : 24; // the source or the destination
      const t = tcpAt(b);
      t.pseudoSumChanged(sumWords(b, at, 16), sumWords(to, 0, 16));
      copy16(to, 0, b, at);
      const fresh = at === 8 ? tcp6(to, dst, r, payload) : tcp6(src, to, r, payload);
      expect(b.equals(fresh), `case ${k}`).to.equal(true);
    }
  });

  it('updates a partial (offloaded) checksum the other way round', function () {
    const next = random(0x0ff10ad);
    for (let k = 0; k < 200; k++) {
      const b = tcp6(C, V, tcpRepr({ flags: ACK }), Buffer.from('x'));
      const to = Buffer.from(Array.from({ length: 16 }, next));
      // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
      const t = tcpAt(b, true);
      t.checksum = fold(pseudoOf(b, 6, t.len));
      t.pseudoSumChanged(sumWords(b, 24, 16), sumWords(to, 0, 16));
      copy16(to, 0, b, 24);
      expect(t.checksum, `case ${k}`).to.equal(fold(pseudoOf(b, 6, t.len)));
      expect(t.checksum).to.equal(~refChecksum(pseudo6(C, to, 6, t.len)) & 0xffff);
    }
  });

  it('leaves data of equal addresses as it was', function () {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) b[i] = i * 7;
    const t = new TcpView().wrap(b, 0, 32);
    const c = (t.checksum = ~fold(sumWords(b, 0, 32)) & 0xffff);
    t.pseudoSumChanged(sumWords(b, 0, 16), sumWords(b, 0, 16));
    expect(t.checksum).to.equal(c);
  });
});
