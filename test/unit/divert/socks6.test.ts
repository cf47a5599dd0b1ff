import { expect } from 'chai';
import { Capture, type Dest, Feeder } from '../flow/harness';
import { Dispatcher } from '../../../appliance/flow/dispatcher';
import type { ServerRecord } from '../../../appliance/config/tables';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { parseAddress } from '../../../appliance/addr/address';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { ACK, PSH, SYN, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';
import { a6, tcp6 } from '../wire/packets6';
import { flowConfig, server } from '../flow/servers';

/*
 * The network-management patent's figure 3 for SOCKS connections whose destination is IPv6
 * (RFC 1928 ATYP 4) or is diverted to one: the exact request the server leg sends, in a dialect
 * that can carry it (SOCKS4 cannot carry IPv6: dialect.ts carriers), and server diversions
 * between servers of either family.
 */

const CLIENT6 = '2001:db8:18::2';
const VIP6 = '2001:db8:18:100::100';
const CLIENT4 = '198.18.0.2';
const VIP4 = '198.18.0.100';
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** 2001:db8:113::80 and ::81, ::99 as SOCKS5 writes them. */
const A80 = '20010db8011300000000000000000080';
const A81 = '20010db8011300000000000000000081';

/** sa: IPv4, SOCKS4 and 5; s4: IPv4, SOCKS4 only; s6: IPv6 (2001:db8:19:6::2 behind alp-s6), SOCKS5. */
const SA = server('sa', 1);
const S4 = server('s4', 4, { versions: ['4'] });
const S6 = server('s6', 6, { address: parseAddress('2001:db8:19:6::2')!, local: { address: parseAddress('2001:db8:19:6::1')!, length: 64 }, versions: ['5'] });

interface Sent { to: Dest; flags: number; seq: number; ack: number; srcPort: number; payload: string }

/** What these tests read of a segment the appliance sent (dual-stack.test.ts checks the checksums). */
function sent(b: Buffer, to: Dest): Sent {
  const hl = b[0] >> 4 === 6 ? 40 : 20;
  const t = new TcpView().wrap(b, hl, b.length - hl);
  return { to, flags: t.flags, seq: t.seq, ack: t.ack, srcPort: t.srcPort, payload: b.subarray(t.payloadOffset).toString('hex') };
}

function harness(servers: ServerRecord[], ...entries: string[]) {
  const config = flowConfig(servers, { intranet: { tun: 'alp0', vips: [ip(VIP4), parseAddress(VIP6)!], mtu: 1500 } });
  const cap = new Capture(sent, 128);
  const d = new Dispatcher(cap, cap, buildStages(config, new AlpRegistry()), config.servers, 1460);
  d.tick(1);
  for (const e of entries) {
    const [o, t] = e.split(' = ');
    const r = d.diversions.add(o, t);
    if (!r.ok) throw new Error(r.message);
  }
  const feeder = new Feeder(d, cap);
  const feed = (from: Dest, b: Buffer) => feeder.feed(from, b);
  const seg = (src: string, dst: string, t: object, payload?: Buffer) => {
    const r = tcpRepr({ window: 500, ...t });
    return src.includes(':') ? tcp6(a6(src), a6(dst), r, payload) : segment(ip(src), ip(dst), r, payload);
  };

  /**
   * A client (of `client`'s family) sends `greeting` (SOCKS5; none for SOCKS4) and `request`;
   * the chosen server answers: what the server leg asks it, and the connection.
   */
  const connect = (client: string, greeting: string, request: string) => {
    const vip = client.includes(':') ? VIP6 : VIP4;
    const mine = (t: object, p?: Buffer) => seg(client, vip, { srcPort: 40000, dstPort: 1080, ...t }, p);
    const isn = feed('client', mine({ seq: 1000, flags: SYN, mss: 1460 }))[0].seq;
    let seq = 1001;
    if (greeting !== '') {
      expect(feed('client', mine({ seq, ack: isn + 1, flags: ACK | PSH }, hex(greeting))).map((o) => o.payload)).to.deep.equal(['0500']);
      seq += hex(greeting).length;
    }
    const out = feed('client', mine({ seq, ack: isn + (greeting !== '' ? 3 : 1), flags: ACK | PSH }, hex(request)));
    const conn = d.table.lookupClient(client.includes(':') ? parseAddress(client)! : ip(client), 40000)!;
    const syn = out.find((o) => o.to !== 'client' && o.flags === SYN);
    if (syn === undefined) return { conn, refusal: out.filter((o) => o.payload !== '').map((o) => o.payload), asked: '' };
    const s = syn.to as number;
    const srv = config.servers[s];
    const theirs = (t: object, p?: Buffer) => seg(fmt(srv.address), fmt(srv.local.address), { srcPort: srv.port, dstPort: syn.srcPort, ...t }, p);
    let sent = feed(s, theirs({ seq: 7000, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460 }));
    if (sent[0]?.payload === '050100') sent = feed(s, theirs({ seq: 7001, ack: syn.seq + 4, flags: ACK | PSH }, hex('0500')));
    return { conn, server: srv.name, asked: sent.find((o) => o.to === s && o.payload !== '')!.payload, refusal: [] as string[] };
  };
  return { d, connect };
}

const fmt = (a: number) => {
  const b = Buffer.alloc(16);
  if (a < 2 ** 32) return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  ADDRESSES6.write(a, b, 0);
  return b.toString('hex').match(/.{4}/g)!.join(':');
};

describe('divert: SOCKS connections to IPv6 destinations (figure 3, ATYP 4)', function () {
  it('an IPv6 client\'s ATYP 4 CONNECT to [2001:db8:113::80]:8080 diverted to [...::81]:8080: the leg asks for ::81', function () {
    const h = harness([SA], '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080');
    const c = h.connect(CLIENT6, '050100', `05010004 ${A80} 1f90`);
    expect(c.asked).to.equal(`05010004${A81}1f90`);
    expect(c.conn.diverted).to.equal('[2001:db8:113::81]:8080');
    expect(c.conn.destination).to.equal('[2001:db8:113::80]:8080');
    expect(c.conn.upShift).to.equal(0);
    expect(h.d.stats.diverted).to.equal(1);
  });

  it('an address-only IPv6 entry keeps the port; an entry for another port does not apply', function () {
    const h = harness([SA], '2001:db8:113::80 = 2001:db8:113::81', '[2001:db8:113::80]:443 = 203.0.113.91');
    expect(h.connect(CLIENT4, '050100', `05010004 ${A80} 0050`).asked).to.equal(`05010004${A81}0050`);
  });

  it('IPv6 diverted to IPv4: the leg asks with ATYP 1, and a SOCKS4-only server can carry it now', function () {
    const h = harness([S4], '[2001:db8:113::80]:8080 = 203.0.113.81');
    const c = h.connect(CLIENT6, '050100', `05010004 ${A80} 1f90`);
    // SOCKS4: VN 4, CONNECT, port 8080, 203.0.113.81, an empty USERID.
    expect([c.server, c.asked]).to.deep.equal(['s4', '04011f90cb00715100']);
    expect(c.conn.diverted).to.equal('203.0.113.81:8080');
    // Not diverted, the same request has no server: SOCKS4 cannot say an IPv6 destination.
    const plain = harness([S4]).connect(CLIENT6, '050100', `05010004 ${A80} 1f90`);
    expect(plain.asked).to.equal('');
    expect(plain.refusal).to.deep.equal(['05040001000000000000']);
  });

  it('IPv4 diverted to IPv6: the leg asks with ATYP 4, so only SOCKS5 can carry it (a SOCKS4 client too)', function () {
    const req4 = '0401 1f90 cb007150 00';
    const h = harness([SA], '203.0.113.80:8080 = [2001:db8:113::81]:8080');
    const c = h.connect(CLIENT4, '', req4);
    expect([c.server, c.asked]).to.deep.equal(['sa', `05010004${A81}1f90`]);
    // The client sent 9 bytes; the leg 3 of greeting and 22 of request.
    expect(c.conn.upShift).to.equal(3 + 22 - 9);
    const only4 = harness([S4], '203.0.113.80:8080 = [2001:db8:113::81]:8080').connect(CLIENT4, '', req4);
    expect(only4.asked).to.equal('');
    expect(only4.refusal).to.deep.equal(['005b000000000000']);
  });

  it('a name diverted to an IPv6 address: ATYP 3 becomes ATYP 4', function () {
    const name = Buffer.from('web.socksalp.test').toString('hex');
    const h = harness([SA], 'web.socksalp.test = [2001:db8:113::81]:80');
    expect(h.connect(CLIENT4, '050100', `050100 03 11 ${name} 1f90`).asked).to.equal(`05010004${A81}0050`);
  });

  it('an IPv6 destination no entry names is looked up where it lies: not diverted, nothing interned, not by a move either', function () {
    const h = harness([SA], '[2001:db8:113::80]:8080 = [2001:db8:113::81]:8080');
    const before = ADDRESSES6.size;
    const other = '20010db8011300000000000000000099';
    const c = h.connect(CLIENT4, '050100', `05010004 ${other} 1f90`);
    expect(c.asked).to.equal(`05010004${other}1f90`);
    expect(c.conn.diverted).to.equal('');
    // Nor by a move, which reads the destination back from its text.
    expect(h.d.moveDiverted()).to.equal(0);
    expect(ADDRESSES6.size).to.equal(before);
  });

  it('move: a spliced connection whose IPv6 destination the table now sends elsewhere is reset', function () {
    const h = harness([SA]);
    const c = h.connect(CLIENT6, '050100', `05010004 ${A80} 1f90`);
    expect(c.conn.diverted).to.equal('');
    expect(h.d.moveDiverted()).to.equal(0);
    h.d.diversions.add('[2001:db8:113::80]:8080', '[2001:db8:113::81]:8080');
    expect(h.d.moveDiverted()).to.equal(1);
    expect(h.d.stats.movedReset).to.equal(1);
  });
});

describe('divert: server diversions between servers of either family', function () {
  it('[2001:db8:19:6::2]:1080 = 198.19.1.2:1080 moves new connections from s6 to sa, and back', function () {
    const h = harness([S6, SA]);
    const req = `05010001 cb007150 0050`;
    expect(h.connect(CLIENT4, '050100', req).server).to.equal('s6');
    const h2 = harness([S6, SA], '[2001:db8:19:6::2]:1080 = 198.19.1.2:1080');
    expect(h2.connect(CLIENT4, '050100', req).server).to.equal('sa');
    expect(h2.d.stats.serverDiverted).to.equal(1);
    const h3 = harness([SA, S6], '198.19.1.2:1080 = [2001:db8:19:6::2]:1080');
    expect(h3.connect(CLIENT6, '050100', req).server).to.equal('s6');
  });
});
