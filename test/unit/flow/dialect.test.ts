import { expect } from 'chai';
import {
  carriers, clientDialect, compose, composedLength, D4, D4A, D5, legDialect, replyLength, socks4Code, socks5Code, speaks, translateReply,
  type Composed, type Credentials, type Dialect,
} from '../../../appliance/flow/dialect';
import { parseSocks, SocksParse, SocksStatus } from '../../../appliance/flow/socks';
import type { ServerRecord, SocksVersion } from '../../../appliance/config/tables';

/**
 * Golden bytes for the server leg's dialect (appliance/flow/dialect.ts): what `compose` writes
 * for each (client dialect x leg dialect) that can carry the request, which leg dialect is
 * chosen, how long a server's reply is, and how it is translated back into the client's.
 * Requests are given as hex, parsed by the client-side parser (socks.ts) as the dispatcher does.
 */

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

const NAME = 'web.socksalp.test'; // 17 bytes: 0x11
const NAME_HEX = ascii(NAME);

/** Client requests (the whole handshake as the client sent it), RFC 1928 / SOCKS4 / SOCKS4a. */
const REQ = {
  /** SOCKS4 CONNECT 203.0.113.80:80, USERID "bob". */
  socks4: hex('04 01 0050 cb007150 626f62 00'),
  /** SOCKS4a CONNECT web.socksalp.test:80 as curl sends it: DSTIP 0.0.0.1, empty USERID. */
  socks4a: hex(`04 01 0050 00000001 00 ${NAME_HEX} 00`),
  /** SOCKS5 greeting offering no-auth and username/password, CONNECT ATYP 1 203.0.113.80:80. */
  socks5v4: hex('05 02 00 02  05 01 00 01 cb007150 0050'),
  /** SOCKS5 no-auth, CONNECT ATYP 3 web.socksalp.test:443. */
  socks5name: hex(`05 01 00  05 01 00 03 11 ${NAME_HEX} 01bb`),
  /** SOCKS5 no-auth, CONNECT ATYP 4 [2001:db8::1]:80. */
  socks5v6: hex('05 01 00  05 01 00 04 20010db8000000000000000000000001 0050'),
  /** SOCKS5 username/password (RFC 1929: 01 ULEN "alice" PLEN "secret"), CONNECT ATYP 1. */
  socks5auth: hex(`05 01 02  01 05 ${ascii('alice')} 06 ${ascii('secret')}  05 01 00 01 cb007150 0050`),
};

function parse(b: Buffer): SocksParse {
  const p = parseSocks(b, 0, b.length, new SocksParse());
  expect(p.status, 'the request parses complete').to.equal(SocksStatus.Complete);
  return p;
}

interface Result { bytes: string; greetingEnd: number; authEnd: number; requestEnd: number; method: number }

/**
 * `compose` into a dirty buffer of `composedLength` bytes, as the server leg allocates it (so
 * that a byte it forgets to write shows, and a length that is wrong fails), as hex and offsets.
 */
function composed(dialect: Dialect, client: Buffer, creds?: Credentials): Result {
  const p = parse(client);
  const out = Buffer.alloc(composedLength(dialect, p, creds), 0xee);
  const r: Composed = { greetingEnd: -9, authEnd: -9, requestEnd: -9, method: -9 };
  compose(dialect, client, p, creds, out, r);
  expect(r.requestEnd, 'composedLength is what compose writes').to.equal(out.length);
  return { bytes: out.subarray(0, r.requestEnd).toString('hex'), greetingEnd: r.greetingEnd, authEnd: r.authEnd, requestEnd: r.requestEnd, method: r.method };
}

/** The appliance's own RFC 1929 credentials toward a server: username "u", password "pw". */
const OWN: Credentials = { username: Buffer.from('u'), password: Buffer.from('pw') };

function server(versions: SocksVersion[], credentials = false): ServerRecord {
  return {
    name: 's', address: 1, port: 1080, tap: 't', local: { address: 2, length: 24 }, capacity: 1, alps: { all: true }, isDefault: false,
    versions, queueLimit: 1, ...(credentials ? { credentials: { username: Buffer.from('u'), password: Buffer.from('pw'), passwordFile: '/x' } } : {}),
  };
}

describe('flow/dialect: compose, golden bytes per (client dialect x leg dialect)', function () {
  describe('a SOCKS4 client (IPv4 destination)', function () {
    it('-> SOCKS4: the client\'s bytes as they came, USERID included', function () {
      expect(composed(D4, REQ.socks4)).to.deep.equal({ bytes: '04010050cb007150626f6200', greetingEnd: 0, authEnd: 0, requestEnd: 12, method: -1 });
    });
    it('-> SOCKS4a: identical bytes (SOCKS4 is a subset of 4a)', function () {
      expect(composed(D4A, REQ.socks4)).to.deep.equal({ bytes: '04010050cb007150626f6200', greetingEnd: 0, authEnd: 0, requestEnd: 12, method: -1 });
    });
    it('-> SOCKS5: greeting 05 01 00, then CONNECT ATYP 1 with DST.ADDR and DST.PORT (RFC 1928 4); USERID dropped', function () {
      expect(composed(D5, REQ.socks4)).to.deep.equal({
        bytes: '050100' + '050100 01 cb007150 0050'.replace(/ /g, ''), greetingEnd: 3, authEnd: 3, requestEnd: 13, method: 0,
      });
    });
    it('-> SOCKS5 with the appliance\'s own credentials: 05 01 02, then RFC 1929 01 ULEN U PLEN P, then the CONNECT', function () {
      expect(composed(D5, REQ.socks4, OWN)).to.deep.equal({
        bytes: '050102' + '01 01 75 02 7077'.replace(/ /g, '') + '05010001cb0071500050', greetingEnd: 3, authEnd: 9, requestEnd: 19, method: 2,
      });
    });
  });

  describe('a SOCKS4a client (a host name)', function () {
    it('-> SOCKS5: CONNECT ATYP 3 with the name\'s length and the name', function () {
      expect(composed(D5, REQ.socks4a)).to.deep.equal({
        bytes: `050100 05010003 11 ${NAME_HEX} 0050`.replace(/ /g, ''), greetingEnd: 3, authEnd: 3, requestEnd: 3 + 5 + 17 + 2, method: 0,
      });
    });
    it('-> SOCKS4a: identical bytes', function () {
      expect(composed(D4A, REQ.socks4a)).to.deep.equal({ bytes: REQ.socks4a.toString('hex'), greetingEnd: 0, authEnd: 0, requestEnd: 27, method: -1 });
    });
    it('-> SOCKS5 with own credentials', function () {
      expect(composed(D5, REQ.socks4a, OWN).bytes).to.equal(`050102 0101750270 77 05010003 11 ${NAME_HEX} 0050`.replace(/ /g, ''));
    });
  });

  describe('a SOCKS5 client', function () {
    it('ATYP 1 -> SOCKS4: 04 01 DSTPORT DSTIP, an empty USERID (00)', function () {
      expect(composed(D4, REQ.socks5v4)).to.deep.equal({ bytes: '04010050cb00715000', greetingEnd: 0, authEnd: 0, requestEnd: 9, method: -1 });
    });
    it('ATYP 1 -> SOCKS4a: the same SOCKS4 request (an address needs no 4a name)', function () {
      expect(composed(D4A, REQ.socks5v4).bytes).to.equal('04010050cb00715000');
    });
    it('ATYP 1 -> SOCKS5: one method offered (no-auth), the client\'s CONNECT copied', function () {
      // The client offered 00 and 02; the appliance answered 00 itself, so the server is offered 00 only.
      expect(composed(D5, REQ.socks5v4)).to.deep.equal({ bytes: '050100' + '05010001cb0071500050', greetingEnd: 3, authEnd: 3, requestEnd: 13, method: 0 });
    });
    it('ATYP 3 -> SOCKS4a: 04 01 DSTPORT 0.0.0.1 00 NAME 00', function () {
      expect(composed(D4A, REQ.socks5name)).to.deep.equal({
        bytes: `04 01 01bb 00000001 00 ${NAME_HEX} 00`.replace(/ /g, ''), greetingEnd: 0, authEnd: 0, requestEnd: 8 + 1 + 17 + 1, method: -1,
      });
    });
    it('ATYP 3 -> SOCKS5: identical bytes', function () {
      expect(composed(D5, REQ.socks5name).bytes).to.equal(REQ.socks5name.toString('hex'));
    });
    it('ATYP 4 -> SOCKS5 only: identical bytes, and no other dialect carries it', function () {
      expect(composed(D5, REQ.socks5v6)).to.deep.equal({ bytes: REQ.socks5v6.toString('hex'), greetingEnd: 3, authEnd: 3, requestEnd: 25, method: 0 });
      expect(carriers(parse(REQ.socks5v6))).to.equal(D5);
    });
    it('username/password passed through: the client\'s own 01 ULEN U PLEN P after 05 01 02', function () {
      const b = REQ.socks5auth;
      const p = parse(b);
      // As server-leg.ts takes them from the client's bytes.
      const u = p.greetingEnd + 2;
      const creds = { username: b.subarray(u, u + b[u - 1]), password: b.subarray(u + b[u - 1] + 1, u + b[u - 1] + 1 + b[u + b[u - 1]]) };
      expect(Buffer.from(creds.username).toString()).to.equal('alice');
      expect(Buffer.from(creds.password).toString()).to.equal('secret');
      expect(composed(D5, b, creds)).to.deep.equal({
        bytes: `050102 0105${ascii('alice')}06${ascii('secret')} 05010001cb0071500050`.replace(/ /g, ''), greetingEnd: 3, authEnd: 3 + 14, requestEnd: 3 + 14 + 10, method: 2,
      });
    });
    it('username/password replaced by the appliance\'s own', function () {
      expect(composed(D5, REQ.socks5auth, OWN)).to.deep.equal({
        bytes: '050102 010175027077 05010001cb0071500050'.replace(/ /g, ''), greetingEnd: 3, authEnd: 9, requestEnd: 19, method: 2,
      });
    });
    it('no-auth client, own credentials toward the server: 05 01 02 and the sub-negotiation added', function () {
      expect(composed(D5, REQ.socks5name, OWN).bytes).to.equal(`050102 010175027077 05010003 11 ${NAME_HEX} 01bb`.replace(/ /g, ''));
    });
  });

  it('the longest: greeting, 255-byte username and password, CONNECT with a 255-byte name', function () {
    const name = 'n'.repeat(255);
    const b = Buffer.concat([hex('050100 05010003ff'), Buffer.from(name), hex('0050')]);
    const creds = { username: Buffer.alloc(255, 0x75), password: Buffer.alloc(255, 0x70) };
    const r = composed(D5, b, creds);
    expect(r.requestEnd).to.equal(3 + 3 + 255 + 255 + 7 + 255);
    expect(r.bytes.slice(-4)).to.equal('0050');
  });
});

describe('flow/dialect: which dialect carries a request, and which the leg speaks', function () {
  const p4 = parse(REQ.socks4);
  const p4a = parse(REQ.socks4a);
  const p5 = parse(REQ.socks5v4);
  const p5name = parse(REQ.socks5name);
  const p5v6 = parse(REQ.socks5v6);

  it('clientDialect: SOCKS4 with an address, 4a with a name, 5', function () {
    expect([p4, p4a, p5, p5name, p5v6].map(clientDialect)).to.deep.equal([D4, D4A, D5, D5, D5]);
  });

  it('carriers: IPv4 by all three, a name by 4a and 5, IPv6 by 5 only', function () {
    expect([p4, p4a, p5, p5name, p5v6].map(carriers)).to.deep.equal([D4 | D4A | D5, D4A | D5, D4 | D4A | D5, D4A | D5, D5]);
  });

  it('speaks: versions as a mask; a 4a server takes SOCKS4 too; credentials leave SOCKS5 only', function () {
    expect(speaks(server(['4']))).to.equal(D4);
    expect(speaks(server(['4a']))).to.equal(D4 | D4A);
    expect(speaks(server(['5']))).to.equal(D5);
    expect(speaks(server(['4', '5']))).to.equal(D4 | D5);
    expect(speaks(server(['4', '4a', '5']))).to.equal(D4 | D4A | D5);
    expect(speaks(server(['4', '4a', '5'], true))).to.equal(D5);
    expect(speaks(server(['5'], true))).to.equal(D5);
    expect(speaks(server(['4', '4a'], true)), 'a SOCKS4 server with credentials can carry nothing').to.equal(0);
  });

  it('legDialect: the client\'s own dialect when the server speaks it', function () {
    expect(legDialect(p4, D4 | D5)).to.equal(D4);
    expect(legDialect(p4, D4 | D4A)).to.equal(D4);
    expect(legDialect(p4a, D4 | D4A | D5)).to.equal(D4A);
    expect(legDialect(p5, D4 | D4A | D5)).to.equal(D5);
    expect(legDialect(p5name, D4A | D5)).to.equal(D5);
  });

  it('legDialect: else SOCKS5, else 4a, else 4', function () {
    expect(legDialect(p4, D5)).to.equal(D5);
    expect(legDialect(p4, D4A | D5)).to.equal(D5);
    expect(legDialect(p4, D4A)).to.equal(D4A);
    expect(legDialect(p4a, D5)).to.equal(D5);
    expect(legDialect(p4a, D4 | D5), 'SOCKS4 cannot carry a name').to.equal(D5);
    expect(legDialect(p5, D4 | D4A)).to.equal(D4A);
    expect(legDialect(p5, D4)).to.equal(D4);
    expect(legDialect(p5name, D4 | D4A)).to.equal(D4A);
  });

  it('legDialect: 0 when nothing the server speaks can carry the request', function () {
    expect(legDialect(p4a, D4)).to.equal(0);
    expect(legDialect(p5name, D4)).to.equal(0);
    expect(legDialect(p5v6, D4 | D4A)).to.equal(0);
    expect(legDialect(p5v6, D5)).to.equal(D5);
    expect(legDialect(p4, 0)).to.equal(0);
  });

  it('legDialect over speaks(): a server with credentials is spoken to in SOCKS5 whatever the client', function () {
    const s = server(['4', '4a', '5'], true);
    expect([p4, p4a, p5, p5name, p5v6].map((p) => legDialect(p, speaks(s)))).to.deep.equal([D5, D5, D5, D5, D5]);
    const dante = server(['4', '5']);
    expect([p4, p4a, p5, p5name, p5v6].map((p) => legDialect(p, speaks(dante)))).to.deep.equal([D4, D5, D5, D5, D5]);
    const ssh = server(['4a']);
    expect([p4, p4a, p5, p5name, p5v6].map((p) => legDialect(p, speaks(ssh)))).to.deep.equal([D4, D4A, D4A, D4A, 0]);
  });
});

describe('flow/dialect: replyLength', function () {
  const rl = (d: Dialect, h: string, off = 0) => {
    const b = hex(h);
    return replyLength(d, b, off, b.length - off);
  };

  it('SOCKS4 and 4a: 8 bytes, VN 0 (or 4, as some servers echo); fewer: 0; another VN: -1', function () {
    expect(rl(D4, '005a1f90cb007150')).to.equal(8);
    expect(rl(D4A, '005a1f90cb007150')).to.equal(8);
    expect(rl(D4, '045a1f90cb007150')).to.equal(8);
    expect(rl(D4, '005a1f90cb007150 48545450'), 'data after the reply').to.equal(8);
    expect(rl(D4, '005a1f90cb0071')).to.equal(0);
    expect(rl(D4, '')).to.equal(0);
    expect(rl(D4, '055a1f90cb007150')).to.equal(-1);
  });

  it('SOCKS5: 4 + address + 2 for ATYP 1 (10), 3 (7 + length) and 4 (22)', function () {
    expect(rl(D5, '05000001 cb007150 1f90')).to.equal(10);
    expect(rl(D5, '05000003 03 616263 1f90')).to.equal(10);
    expect(rl(D5, `05000003 11 ${NAME_HEX} 1f90`)).to.equal(7 + 17);
    expect(rl(D5, '05000004 20010db8000000000000000000000001 1f90')).to.equal(22);
    expect(rl(D5, '05000001 cb007150 1f90 48545450'), 'data after the reply').to.equal(10);
    expect(rl(D5, 'ffff 05000001 cb007150 1f90', 2), 'read at an offset').to.equal(10);
  });

  it('SOCKS5 incomplete: 0', function () {
    expect(rl(D5, '')).to.equal(0);
    expect(rl(D5, '050000')).to.equal(0);
    expect(rl(D5, '05000001')).to.equal(0);
    expect(rl(D5, '05000001 cb007150 1f')).to.equal(0);
    expect(rl(D5, '05000003 11 616263')).to.equal(0);
    expect(rl(D5, '05000004 20010db8')).to.equal(0);
  });

  it('SOCKS5 invalid: another version, an unknown ATYP: -1', function () {
    expect(rl(D5, '04000001 cb007150 1f90')).to.equal(-1);
    expect(rl(D5, '005a1f90cb007150')).to.equal(-1);
    expect(rl(D5, '05000002 cb007150 1f90')).to.equal(-1);
    expect(rl(D5, '05000000 cb007150 1f90')).to.equal(-1);
  });
});

describe('flow/dialect: reply codes and translateReply', function () {
  it('socks4Code: SOCKS5 REP 0 -> 90 (granted), 1..8 and anything else -> 91', function () {
    expect(socks4Code(0)).to.equal(90);
    for (let rep = 1; rep <= 8; rep++) expect(socks4Code(rep), `REP ${rep}`).to.equal(91);
    expect(socks4Code(0xff)).to.equal(91);
  });

  it('socks5Code: CD 90 -> 0, 91 -> 1, 92 and 93 (identd) -> 2 (not allowed by ruleset), anything else -> 1', function () {
    expect([90, 91, 92, 93, 0, 94].map(socks5Code)).to.deep.equal([0, 1, 2, 2, 1, 1]);
  });

  /** translateReply into a dirty buffer; the written bytes as hex. */
  const tr = (leg: Dialect, client: Dialect, reply: string): string => {
    const b = hex(reply);
    const out = Buffer.alloc(32, 0xee);
    const n = translateReply(leg, client, b, b.length, out);
    return out.subarray(0, n).toString('hex');
  };

  it('SOCKS5 reply -> SOCKS4 client: 00 CD BND.PORT BND.ADDR (IPv4 kept)', function () {
    expect(tr(D5, D4, '05000001 cb007150 1f90')).to.equal('005a1f90cb007150');
    expect(tr(D5, D4A, '05000001 c6130102 d431')).to.equal('005ad431c6130102');
  });

  it('SOCKS5 failure -> SOCKS4 91 (5b), port and address as given', function () {
    expect(tr(D5, D4A, '05050001 00000000 0000')).to.equal('005b000000000000');
    expect(tr(D5, D4, '05040001 cb007150 1f90')).to.equal('005b1f90cb007150');
  });

  it('SOCKS5 reply with a name or IPv6 -> SOCKS4: the port kept, the address 0.0.0.0', function () {
    expect(tr(D5, D4A, '05000003 03 616263 1f90')).to.equal('005a1f9000000000');
    expect(tr(D5, D4, '05000004 20010db8000000000000000000000001 1f90')).to.equal('005a1f9000000000');
  });

  it('SOCKS4 reply -> SOCKS5 client: 05 REP 00 01 BND.ADDR BND.PORT', function () {
    expect(tr(D4, D5, '005a1f90cb007150')).to.equal('05000001cb0071501f90');
    expect(tr(D4A, D5, '005b1f90cb007150')).to.equal('05010001cb0071501f90');
    expect(tr(D4, D5, '005c000000000000')).to.equal('05020001000000000000');
    expect(tr(D4A, D5, '005d000000000000')).to.equal('05020001000000000000');
    expect(tr(D4, D5, '045a1f90cb007150'), 'VN 4 echoed').to.equal('05000001cb0071501f90');
  });

  it('the same family: the server\'s bytes unchanged', function () {
    expect(tr(D5, D5, '05000003 03 616263 1f90')).to.equal('0500000303616263' + '1f90');
    expect(tr(D4, D4A, '005a1f90cb007150')).to.equal('005a1f90cb007150');
    expect(tr(D4A, D4, '005b000000000000')).to.equal('005b000000000000');
  });
});
