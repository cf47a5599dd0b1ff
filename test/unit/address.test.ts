import { expect } from 'chai';
import { formatIpv4, formatIpv6, formatMac, inPrefix, parseIpv4, parseIpv6, parseMac, parsePrefix, parsePrefix6 } from '../../appliance/config/address';

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

  const hex = (a: Uint8Array | undefined): string | undefined => (a === undefined ? undefined : Buffer.from(a).toString('hex'));

  it('parses the text forms of RFC 4291 2.2 into 16 bytes', function () {
    expect(hex(parseIpv6('2001:DB8:0:0:8:800:200C:417A'))).to.equal('20010db80000000000080800200c417a');
    expect(hex(parseIpv6('2001:db8::8:800:200c:417a'))).to.equal('20010db80000000000080800200c417a');
    expect(hex(parseIpv6('ff01::101'))).to.equal('ff010000000000000000000000000101');
    expect(hex(parseIpv6('::1'))).to.equal('00000000000000000000000000000001');
    expect(hex(parseIpv6('::'))).to.equal('0'.repeat(32));
    expect(hex(parseIpv6('2001:db8:1:2:3:4:5::'))).to.equal('20010db8000100020003000400050000');
    expect(hex(parseIpv6('::ffff:203.0.113.80'))).to.equal('00000000000000000000ffffcb007150');
    expect(hex(parseIpv6('0:0:0:0:0:ffff:198.18.0.2'))).to.equal('00000000000000000000ffffc6120002');
    expect(hex(parseIpv6('2001:db8::198.18.0.2'))).to.equal('20010db80000000000000000c6120002');
  });

  it('rejects what is not IPv6 text', function () {
    for (const bad of [
      '', ':', '1:', ':1', ':::', '2001:db8::1::1', '2001:db8:::1', '12345::', 'g::1', '2001:db8:0:0:0:0:1',
      '2001:db8:0:0:0:0:0:0:1', '2001:db8::0:0:0:0:0:0:1', '::ffff:203.0.113.256', '::203.0.113.80:1',
      '::ffff:203.0.113', '198.18.0.2', ' ::1', '::1 ', '2001:db8::1%eth0', '[2001:db8::1]', '2001:db8::1/64',
    ]) {
      expect(parseIpv6(bad), bad).to.equal(undefined);
    }
  });

  it('writes the canonical text of RFC 5952, from its own examples', function () {
    const canonical = (text: string): string => formatIpv6(parseIpv6(text)!);
    // 2.1, 4.1: leading zeros dropped.
    for (const t of ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:01', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1']) {
      expect(canonical(t), t).to.equal('2001:db8:aaaa:bbbb:cccc:dddd:eeee:1');
    }
    // 2.2, 4.2.1: the longest run shortened as far as it goes.
    for (const t of ['2001:db8:0:0:0::1', '2001:db8:0:0::1', '2001:db8:0::1', '2001:db8::1', '2001:db8::0001', '2001:db8::0:1']) {
      expect(canonical(t), t).to.equal('2001:db8::1');
    }
    expect(canonical('2001:db8:aaaa:bbbb:cccc:dddd::1')).to.equal('2001:db8:aaaa:bbbb:cccc:dddd:0:1');
    expect(canonical('2001:db8:0:0:0:0:2:1')).to.equal('2001:db8::2:1');
    // 4.2.2: never :: for a single zero group.
    expect(canonical('2001:db8:0:1:1:1:1:1')).to.equal('2001:db8:0:1:1:1:1:1');
    // 4.2.3: the longest run, and the first of equal ones.
    expect(canonical('2001:0:0:1:0:0:0:1')).to.equal('2001:0:0:1::1');
    expect(canonical('2001:db8:0:0:1:0:0:1')).to.equal('2001:db8::1:0:0:1');
    expect(canonical('2001:db8:0:0:aaaa::1')).to.equal('2001:db8::aaaa:0:0:1');
    expect(canonical('2001:0db8:0000:0000:0001:0000:0000:0001')).to.equal('2001:db8::1:0:0:1');
    // 2.3, 4.3: lowercase.
    for (const t of ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:AAAA', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:AaAa']) {
      expect(canonical(t), t).to.equal('2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa');
    }
    // 5: IPv4-mapped addresses in mixed notation; other embedded forms in hex.
    expect(canonical('0:0:0:0:0:ffff:cb00:7150')).to.equal('::ffff:203.0.113.80');
    expect(canonical('2001:db8::198.18.0.2')).to.equal('2001:db8::c612:2');
    expect(canonical('::')).to.equal('::');
    expect(canonical('::1')).to.equal('::1');
    expect(canonical('1::')).to.equal('1::');
    expect(canonical('1:2:3:4:5:6:7:8')).to.equal('1:2:3:4:5:6:7:8');
    // Read where the address lies in a datagram.
    expect(formatIpv6(Buffer.concat([Buffer.alloc(8), parseIpv6('2001:db8::100')!]), 8)).to.equal('2001:db8::100');
  });

  it('round-trips addresses with every pattern of zero groups', function () {
    for (let zeros = 0; zeros < 256; zeros++) {
      const a = new Uint8Array(16);
      for (let g = 0; g < 8; g++) {
        if (zeros & (1 << g)) continue;
        a[2 * g] = (zeros * 31 + g * 17) & 0xff;
        a[2 * g + 1] = g + 1;
      }
      const text = formatIpv6(a);
      expect(hex(parseIpv6(text)), text).to.equal(hex(a));
      expect(text.split('::').length, text).to.be.at.most(2);
      expect(text).to.equal(text.toLowerCase());
    }
  });

  it('parses prefixes of 0 to 128 bits', function () {
    expect(parsePrefix6('2001:db8::/32')).to.deep.equal({ address: parseIpv6('2001:db8::'), length: 32 });
    expect(parsePrefix6('::/0')?.length).to.equal(0);
    expect(parsePrefix6('2001:db8::1/128')?.length).to.equal(128);
    for (const bad of ['2001:db8::/129', '2001:db8::', '2001:db8::/', '2001:db8::/-1', '2001:db8::/1000', '2001:db8:::/32', '198.18.0.0/15']) {
      expect(parsePrefix6(bad), bad).to.equal(undefined);
    }
  });
});
