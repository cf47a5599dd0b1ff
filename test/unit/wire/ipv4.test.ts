import { expect } from 'chai';
import { emitIpv4, Ipv4Error, Ipv4View, parseIpv4 } from '../../../appliance/wire/ipv4';
import { ip } from './packets';

// A known datagram: 198.18.0.2 -> 198.18.0.100, TCP, 40 bytes, id 0x1c46, DF, TTL 64.
const GOLDEN = Buffer.from('45000028' + '1c464000' + '4006' + '0000' + 'c6120002' + 'c6120064' + '00'.repeat(20), 'hex');
new Ipv4View().wrap(GOLDEN, 0, 40).fillChecksum();

describe('wire/ipv4', function () {
  it('deconstructs a header at fixed offsets', function () {
    const v = new Ipv4View().wrap(GOLDEN, 0, GOLDEN.length);
    expect(v.check()).to.equal(Ipv4Error.None);
    expect(v.version).to.equal(4);
    expect(v.headerLength).to.equal(20);
    expect(v.totalLength).to.equal(40);
    expect(v.identification).to.equal(0x1c46);
    expect(v.dontFragment).to.equal(true);
    expect(v.isFragment).to.equal(false);
    expect(v.ttl).to.equal(64);
    expect(v.protocol).to.equal(6);
    expect(v.src).to.equal(ip('198.18.0.2'));
    expect(v.dst).to.equal(ip('198.18.0.100'));
    expect(v.payloadOffset).to.equal(20);
  });

  it('emits the same bytes it parses, at a non-zero offset', function () {
    const r = parseIpv4(new Ipv4View().wrap(GOLDEN, 0, 40));
    const out = Buffer.alloc(7 + 20);
    emitIpv4(r, out, 7);
    expect(out.subarray(7).equals(GOLDEN.subarray(0, 20))).to.equal(true);
  });

  it('accepts options (IHL > 5) and finds the payload after them', function () {
    const b = Buffer.alloc(28);
    b[0] = 0x46; // IHL 6: one 4-byte option word
    b.writeUInt16BE(28, 2);
    b[8] = 64; b[9] = 17;
    b.set([0x01, 0x01, 0x01, 0x00], 20); // NOP NOP NOP EOL
    const v = new Ipv4View().wrap(b, 0, 28);
    v.fillChecksum();
    expect(v.check()).to.equal(Ipv4Error.None);
    expect(v.payloadOffset).to.equal(24);
    expect(v.payloadLength).to.equal(4);
  });

  it('rejects what is malformed, without throwing', function () {
    const v = new Ipv4View();
    expect(v.wrap(GOLDEN, 0, 19).check()).to.equal(Ipv4Error.Truncated);
    const b = Buffer.from(GOLDEN);
    b[0] = 0x65;
    expect(v.wrap(b, 0, 40).check()).to.equal(Ipv4Error.Version);
    b[0] = 0x44;
    expect(v.wrap(b, 0, 40).check()).to.equal(Ipv4Error.HeaderLength);
    b[0] = 0x4f; // 60-byte header in a 40-byte buffer
    expect(v.wrap(b, 0, 40).check()).to.equal(Ipv4Error.HeaderLength);
    b[0] = 0x45;
    b.writeUInt16BE(41, 2);
    expect(v.wrap(b, 0, 40).check()).to.equal(Ipv4Error.TotalLength);
    b.writeUInt16BE(40, 2);
    b[11] ^= 1;
    expect(v.wrap(b, 0, 40).check()).to.equal(Ipv4Error.Checksum);
  });

  it('rewrites addresses and TTL keeping the checksum right', function () {
    const b = Buffer.from(GOLDEN);
    const v = new Ipv4View().wrap(b, 0, 40);
    v.rewriteSrc(ip('198.19.1.1'));
    v.rewriteDst(ip('198.19.1.2'));
    v.decrementTtl();
    expect(v.check()).to.equal(Ipv4Error.None);
    expect(v.ttl).to.equal(63);
  });

  it('sees fragments', function () {
    const b = Buffer.from(GOLDEN);
    b[6] = 0x20; // MF
    expect(new Ipv4View().wrap(b, 0, 40).isFragment).to.equal(true);
    b[6] = 0x00; b[7] = 0x02; // offset 16 bytes
    const v = new Ipv4View().wrap(b, 0, 40);
    expect(v.isFragment).to.equal(true);
    expect(v.fragmentOffset).to.equal(16);
  });
});
