import { expect } from 'chai';
import { ATYP_IPV4, ATYP_IPV6, ATYP_NAME, describeDestination, METHOD_NONE, METHOD_REFUSED, METHOD_USERPASS, parseSocks, SocksParse, SocksStatus, writeFailureReply } from '../../../appliance/flow/socks';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const parse = (b: Buffer, len = b.length) => parseSocks(b, 0, len, new SocksParse());

describe('flow/socks: reassembling the client\'s handshake', function () {
  it('SOCKS4 CONNECT: VN CD DSTPORT DSTIP USERID NUL', function () {
    const b = hex('04 01 0050 cb007150 6375726c 00'); // user "curl", 203.0.113.80:80
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect([p.version, p.command, p.port, p.atyp, p.requestEnd]).to.deep.equal([4, 1, 80, ATYP_IPV4, b.length]);
    expect(describeDestination(b, 0, p)).to.equal('203.0.113.80');
  });

  it('SOCKS4a: 0.0.0.x and a host name after the user id', function () {
    const b = Buffer.concat([hex('04 01 01bb 00000001 00'), Buffer.from('web.socksalp.test\0')]);
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect(p.atyp).to.equal(ATYP_NAME);
    expect(describeDestination(b, 0, p)).to.equal('web.socksalp.test');
    expect(p.port).to.equal(443);
    expect(parse(b, b.length - 1).status).to.equal(SocksStatus.NeedMore);
  });

  it('SOCKS5 without authentication, IPv4', function () {
    const b = hex('05 02 00 02' + '05 01 00 01 cb007150 0015');
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect([p.method, p.greetingEnd, p.authEnd, p.requestEnd, p.port]).to.deep.equal([METHOD_NONE, 4, 4, 14, 21]);
  });

  it('shows a host name with control bytes escaped: it is the client\'s text', function () {
    const name = Buffer.concat([Buffer.from('\x1b]0;x\x07web'), hex('ff c3a9')]);
    const b = Buffer.concat([hex('04 01 0050 00000001 00'), name, hex('00')]);
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect(describeDestination(b, 0, p)).to.equal('\\x1b]0;x\\x07web\\xffé');
  });

  it('SOCKS5 with user/password (RFC 1929) and a host name', function () {
    const b = Buffer.concat([hex('05 01 02'), hex('01 03'), Buffer.from('bob'), hex('02'), Buffer.from('pw'), hex('05 01 00 03 11'), Buffer.from('web.socksalp.test'), hex('0050')]);
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect(p.method).to.equal(METHOD_USERPASS);
    expect([p.greetingEnd, p.authEnd]).to.deep.equal([3, 3 + 2 + 3 + 1 + 2]);
    expect(describeDestination(b, 0, p)).to.equal('web.socksalp.test');
    expect(p.port).to.equal(80);
  });

  it('SOCKS5 IPv6 destination', function () {
    const b = hex('05 01 00' + '05 01 00 04 20010db8000000000000000000000001 01bb');
    const p = parse(b);
    expect(p.status).to.equal(SocksStatus.Complete);
    expect(p.atyp).to.equal(ATYP_IPV6);
    expect(describeDestination(b, 0, p)).to.equal('[2001:db8::1]');
  });

  it('arrives one byte at a time: negotiating after the greeting, complete only at the last byte', function () {
    const b = hex('05 01 00' + '05 01 00 01 cb007150 0050');
    const seen: SocksStatus[] = [];
    for (let n = 1; n <= b.length; n++) seen.push(parse(b, n).status);
    expect(seen).to.deep.equal([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2].map((s) => s as SocksStatus));
  });

  it('refuses unknown versions, methods and malformed requests', function () {
    expect(parse(hex('47 45 54 20')).status).to.equal(SocksStatus.Invalid); // "GET "
    expect(parse(hex('05 00')).status).to.equal(SocksStatus.Invalid);
    const gssapiOnly = parse(hex('05 01 01'));
    expect([gssapiOnly.status, gssapiOnly.method]).to.deep.equal([SocksStatus.Negotiating, METHOD_REFUSED]);
    expect(parse(hex('05 01 00 04 01 00 01')).status).to.equal(SocksStatus.Invalid);
    expect(parse(hex('05 01 00 05 01 00 09 00000000 0000')).status).to.equal(SocksStatus.Invalid);
    expect(parse(Buffer.concat([hex('04 01 0050 01020304'), Buffer.alloc(300, 0x41)])).status).to.equal(SocksStatus.Invalid);
  });

  it('parses BIND and UDP ASSOCIATE so that they can be refused', function () {
    expect(parse(hex('04 02 0050 cb007150 00')).command).to.equal(2);
    expect(parse(hex('05 01 00 05 03 00 01 00000000 0000')).command).to.equal(3);
  });

  it('writes the failure replies of each version', function () {
    const b = Buffer.alloc(12, 0xee);
    expect(writeFailureReply(4, 0, b, 1)).to.equal(8);
    expect(b.subarray(1, 9).toString('hex')).to.equal('005b000000000000');
    expect(writeFailureReply(5, 7, b, 0)).to.equal(10);
    expect(b.subarray(0, 10).toString('hex')).to.equal('05070001000000000000');
  });
});
