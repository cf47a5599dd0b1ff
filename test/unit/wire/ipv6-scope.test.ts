import { expect } from 'chai';
import { isLinkLocal6, isMulticast6, isUnspecified6, notUnique6 } from '../../../appliance/wire/ipv6-scope';
import { a6 } from './packets6';

describe('wire/ipv6-scope: the kind of an address, read where it lies', function () {
  it('tells link-local (fe80::/10), multicast (ff00::/8) and unspecified (::) from global, at any offset', function () {
    const kinds = (text: string) => {
      const b = Buffer.concat([Buffer.from([0xff, 0xfe, 0x80]), a6(text)]); // junk before it: only the 16 bytes at 3 count
      return [isLinkLocal6(b, 3), isMulticast6(b, 3), isUnspecified6(b, 3), notUnique6(b, 3)];
    };
    expect(kinds('fe80::1')).to.deep.equal([true, false, false, false]);
    expect(kinds('febf:ffff::1'), 'the top of fe80::/10').to.deep.equal([true, false, false, false]);
    expect(kinds('fec0::1'), 'past it (the old site-local)').to.deep.equal([false, false, false, false]);
    expect(kinds('ff02::1:ff00:1')).to.deep.equal([false, true, false, true]);
    expect(kinds('::')).to.deep.equal([false, false, true, true]);
    expect(kinds('::1')).to.deep.equal([false, false, false, false]);
    expect(kinds('2001:db8::1')).to.deep.equal([false, false, false, false]);
  });
});
