import { expect } from 'chai';
import { decodeUtf8, printable, quote, QUOTE_MAX } from '../../../appliance/text/printable';

describe('text/printable', function () {
  it('escapes C0, DEL, C1, the backslash and (in quotes) the double quote', function () {
    expect(printable('a\x1b[2J\x00\t\x7f\x9b\\b')).to.equal('a\\x1b[2J\\x00\\x09\\x7f\\x9b\\\\b');
    expect(quote('say "hi"')).to.equal('"say \\"hi\\""');
    expect(printable('say "hi"')).to.equal('say "hi"');
  });

  it('keeps printable Unicode, escapes what reorders or hides text', function () {
    expect(printable('café 😀 東京')).to.equal('café 😀 東京');
    expect(printable('a\u202eb\u2028c\ufeff')).to.equal('a\\u202eb\\u2028c\\ufeff');
  });

  it('shows bytes that were not UTF-8 as they were', function () {
    const s = decodeUtf8(Buffer.from([0x61, 0xff, 0xc3, 0xa9, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xe0, 0x80, 0x80, 0xf0, 0x9f, 0x98, 0x80]));
    expect(printable(s)).to.equal('a\\xffé\\xc3(\\xed\\xa0\\x80\\xe0\\x80\\x80😀');
    expect(decodeUtf8(Buffer.from('plain ü\n', 'utf8'))).to.equal('plain ü\n');
  });

  it('cuts to the width with "...", never inside an escape or a surrogate pair', function () {
    expect(printable('x'.repeat(QUOTE_MAX))).to.equal('x'.repeat(QUOTE_MAX));
    expect(printable('x'.repeat(QUOTE_MAX + 1))).to.equal('x'.repeat(QUOTE_MAX - 3) + '...');
    expect(printable('\x1b'.repeat(100), 10)).to.equal('\\x1b...');
    expect(printable('ab' + '😀'.repeat(10), 8)).to.equal('ab😀...');
    expect(printable('ab😀', 4)).to.equal('ab😀');
  });
});
