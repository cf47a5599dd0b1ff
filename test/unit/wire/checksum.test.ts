import { expect } from 'chai';
import { finish, fold, pseudoHeaderSum, sumWords, update16, update32 } from '../../../appliance/wire/checksum';

describe('wire/checksum', function () {
  it('computes the RFC 1071 example sum', function () {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(fold(sumWords(b, 0, 8))).to.equal(0xddf2);
    expect(finish(sumWords(b, 0, 8))).to.equal(0x220d);
  });

  it('pads an odd last byte and honours the offset', function () {
    const b = Uint8Array.of(0xee, 0x12, 0x34, 0x56);
    expect(fold(sumWords(b, 1, 3))).to.equal(0x1234 + 0x5600);
  });

  it('updates incrementally exactly as a full recomputation (RFC 1624)', function () {
    const b = new Uint8Array(40);
    for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 255;
    const before = finish(sumWords(b, 0, 40));
    const old16 = (b[6] << 8) | b[7];
    b[6] = 0xbe; b[7] = 0xef;
    expect(update16(before, old16, 0xbeef)).to.equal(finish(sumWords(b, 0, 40)));
    const c = finish(sumWords(b, 0, 40));
    const old32 = ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
    b[12] = 0xc6; b[13] = 0x13; b[14] = 0x01; b[15] = 0x01;
    expect(update32(c, old32, 0xc6130101)).to.equal(finish(sumWords(b, 0, 40)));
  });

  it('gives a pseudo-header sum over both addresses, protocol and length', function () {
    expect(pseudoHeaderSum(0xc0a80001, 0x0a000002, 6, 20)).to.equal(0xc0a8 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
  });
});
