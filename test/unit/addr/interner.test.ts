import { expect } from 'chai';
import { Ipv6Interner, V6_BASE } from '../../../appliance/addr/interner';
import { addressSum, formatAddress, formatAddressPort, isV6, parseAddress, writeAddress } from '../../../appliance/addr/address';
import { parseIpv6 } from '../../../appliance/config/address';

function addr(i: number): Uint8Array {
  const b = parseIpv6('2001:db8::')!;
  b[12] = i >>> 24; b[13] = i >>> 16; b[14] = i >>> 8; b[15] = i;
  return b;
}

describe('addr: IPv6 addresses interned as numbers', () => {
  it('gives one number per address, found where it lies in a datagram, above every IPv4 address', () => {
    const t = new Ipv6Interner(4);
    const a = t.intern(addr(1), 0);
    const datagram = new Uint8Array(64);
    datagram.set(addr(1), 24);
    expect(a).to.be.at.least(V6_BASE);
    expect(t.lookup(datagram, 24)).to.equal(a);
    expect(t.intern(datagram, 24)).to.equal(a);
    expect(t.lookup(addr(2), 0)).to.equal(-1);
    expect(t.size).to.equal(1);
  });

  it('keeps a number while a reference is held, then frees it for reuse', () => {
    const t = new Ipv6Interner(4);
    const a = t.intern(addr(7), 0);
    t.retain(a);
    t.release(a);
    expect(t.lookup(addr(7), 0)).to.equal(a);
    t.release(a);
    expect(t.lookup(addr(7), 0)).to.equal(-1);
    expect(t.size).to.equal(0);
  });

  it('grows past its capacity and survives interleaved releases (backward-shift deletion), as a Map would', () => {
    const t = new Ipv6Interner(2);
    const model = new Map<number, number>();
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 600;
    for (let n = 0; n < 20000; n++) {
      const k = rnd();
      if (model.has(k) && n % 3 === 0) {
        t.release(model.get(k)!);
        model.delete(k);
      } else if (!model.has(k)) {
        model.set(k, t.intern(addr(k), 0));
      }
    }
    expect(t.size).to.equal(model.size);
    for (let k = 0; k < 600; k++) expect(t.lookup(addr(k), 0)).to.equal(model.has(k) ? model.get(k) : -1);
  });

  it('writes, sums and formats numbers of either family (RFC 5952, brackets before a port)', () => {
    const v6 = parseAddress('2001:DB8:0:0:1::1')!;
    const v4 = parseAddress('198.18.0.100')!;
    expect(isV6(v6)).to.equal(true);
    expect(isV6(v4)).to.equal(false);
    expect(formatAddress(v6)).to.equal('2001:db8::1:0:0:1');
    expect(formatAddressPort(v6, 1080)).to.equal('[2001:db8::1:0:0:1]:1080');
    expect(formatAddressPort(v4, 1080)).to.equal('198.18.0.100:1080');
    expect(addressSum(v6)).to.equal(0x2001 + 0xdb8 + 1 + 1);
    expect(addressSum(v4)).to.equal(198 * 256 + 18 + 100);
    const b = new Uint8Array(20);
    writeAddress(v6, b, 2);
    expect(Buffer.from(b.subarray(2, 18)).toString('hex')).to.equal('20010db8000000000001000000000001');
    expect(parseAddress('2001:db8::1:0:0:1')).to.equal(v6);
    expect(parseAddress('2001:db8::g')).to.equal(undefined);
  });
});
