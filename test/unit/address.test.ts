import { expect } from 'chai';
import { formatIpv4, formatMac, inPrefix, parseIpv4, parseMac, parsePrefix } from '../../appliance/config/address';

describe('config/address', function () {
  it('parses dotted quads into unsigned 32-bit numbers and back', function () {
    expect(parseIpv4('198.19.1.2')).to.equal(0xc6130102);
    expect(parseIpv4('255.255.255.255')).to.equal(0xffffffff);
    expect(formatIpv4(0xc6130102)).to.equal('198.19.1.2');
    expect(formatIpv4(0xffffffff)).to.equal('255.255.255.255');
  });

  it('rejects what is not a dotted quad', function () {
    for (const bad of ['198.19.1', '198.19.1.256', '198.19.01.2', '1.2.3.4.5', ' 1.2.3.4', 'a.b.c.d', '']) {
      expect(parseIpv4(bad), bad).to.equal(undefined);
    }
  });

  it('tests prefix membership at every length', function () {
    const p = parsePrefix('198.19.1.1/24')!;
    expect(inPrefix(parseIpv4('198.19.1.200')!, p)).to.equal(true);
    expect(inPrefix(parseIpv4('198.19.2.1')!, p)).to.equal(false);
    expect(inPrefix(parseIpv4('8.8.8.8')!, parsePrefix('0.0.0.0/0')!)).to.equal(true);
    expect(inPrefix(parseIpv4('198.19.1.2')!, parsePrefix('198.19.1.2/32')!)).to.equal(true);
    expect(inPrefix(parseIpv4('198.19.1.3')!, parsePrefix('198.19.1.2/32')!)).to.equal(false);
    expect(parsePrefix('198.19.1.1/33')).to.equal(undefined);
  });

  it('parses MAC addresses with colons or dashes', function () {
    expect(formatMac(parseMac('02:00:00:00:01:02')!)).to.equal('02:00:00:00:01:02');
    expect(formatMac(parseMac('02-AB-00-00-01-02')!)).to.equal('02:ab:00:00:01:02');
    expect(parseMac('02:00:00:00:01')).to.equal(undefined);
    expect(parseMac('02:00:00:00:01:zz')).to.equal(undefined);
  });
});
