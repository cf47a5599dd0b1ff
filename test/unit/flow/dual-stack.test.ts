import { expect } from 'chai';
import { Capture, checkedDecode, type Dest, Feeder } from './harness';
import { Dispatcher } from '../../../appliance/flow/dispatcher';
import type { ServerRecord } from '../../../appliance/config/tables';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { parseAddress, formatAddress } from '../../../appliance/addr/address';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { ACK, PSH, SYN, type TcpRepr } from '../../../appliance/wire/tcp';
import { segment, tcpRepr, ip } from '../wire/packets';
import { a6, tcp6 } from '../wire/packets6';
import { flowConfig, server } from './servers';

const CLIENT6 = '2001:db8:18::2';
const VIP6 = '2001:db8:18:100::100';
const CLIENT4 = '198.18.0.2';
const VIP4 = '198.18.0.100';

/** Server sf over IPv6 (2001:db8:19:6::2 behind alp-sf) and sa over IPv4. */
function servers(): ServerRecord[] {
  return [
    server('sa', 1),
    server('sf', 6, { address: parseAddress('2001:db8:19:6::2')!, local: { address: parseAddress('2001:db8:19:6::1')!, length: 64 } }),
  ];
}

function setup(only: number) {
  const config = flowConfig([servers()[only]], { intranet: { tun: 'alp0', vips: [ip(VIP4), parseAddress(VIP6)!], mtu: 1500 } });
  const cap = new Capture((b, to) => ({ ...checkedDecode(b), to }));
  const d = new Dispatcher(cap, cap, buildStages(config, new AlpRegistry()), config.servers, 1460);
  d.tick(1);
  const feeder = new Feeder(d, cap);
  const feed = (from: Dest, b: Buffer) => feeder.feed(from, b);
  return { d, feed, config };
}

/** A TCP segment of either family from text addresses. */
function tcpFrom(src: string, dst: string, t: Partial<TcpRepr>, payload?: Buffer): Buffer {
  const r = tcpRepr({ window: 500, ...t });
  return src.includes(':') ? tcp6(a6(src), a6(dst), r, payload) : segment(ip(src), ip(dst), r, payload);
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * A SOCKS5 CONNECT to 203.0.113.80:80 from `client` to `vip`, carried by servers()[which]: the
 * handshake, the server's answers, then data both ways through the splice. Returns what left.
 */
function connect(client: string, vip: string, which: number) {
  const { d, feed, config } = setup(which);
  const serverIndex = 0;
  const srv = config.servers[serverIndex];
  const srvAddr = formatAddress(srv.address);
  const local = formatAddress(srv.local.address);
  const mine = (t: Partial<TcpRepr>, p?: Buffer) => tcpFrom(client, vip, { srcPort: 40000, dstPort: 1080, ...t }, p);
  let out = feed('client', mine({ seq: 1000, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true }));
  expect(out).to.have.length(1);
  const synAck = out[0];
  const isn = synAck.tcp.seq;
  out = feed('client', mine({ seq: 1001, ack: isn + 1, flags: ACK | PSH }, hex('050100')));
  expect(out[0].payload.toString('hex')).to.equal('0500');
  // Request: CONNECT 203.0.113.80:80. The appliance picks the server and sends its SYN.
  out = feed('client', mine({ seq: 1004, ack: isn + 3, flags: ACK | PSH }, hex('05010001cb00715000 50')));
  const syn = out.find((o) => o.to === serverIndex)!;
  expect(syn, 'the SYN to the server').to.not.equal(undefined);
  const port = syn.tcp.srcPort;
  const theirs = (t: Partial<TcpRepr>, p?: Buffer) => tcpFrom(srvAddr, local, { srcPort: 1080, dstPort: port, ...t }, p);
  out = feed(serverIndex, theirs({ seq: 7000, ack: syn.tcp.seq + 1, flags: SYN | ACK, mss: 1460, wscale: 7, sackPermitted: true }));
  // The greeting replayed; the server answers no authentication; the request follows.
  out = feed(serverIndex, theirs({ seq: 7001, ack: syn.tcp.seq + 4, flags: ACK | PSH }, hex('0500')));
  const request = out.find((o) => o.to === serverIndex && o.payload.length > 0)!;
  expect(request.payload.toString('hex')).to.equal('05010001cb0071500050');
  // The server's reply, passed on to the client as its own dialect has it.
  out = feed(serverIndex, theirs({ seq: 7003, ack: request.tcp.seq + 10, flags: ACK | PSH }, hex('05000001c6130602 1f90')));
  const reply = out.find((o) => o.to === 'client')!;
  // Then data: the client's GET to the server, the server's answer to the client.
  const upSeq = 1014;
  const downAck = reply.tcp.seq + reply.payload.length;
  out = feed('client', mine({ seq: upSeq, ack: downAck, flags: ACK | PSH }, Buffer.from('GET / HTTP/1.0\r\n\r\n')));
  const up = out.find((o) => o.to === serverIndex)!;
  out = feed(serverIndex, theirs({ seq: 7013, ack: up.tcp.seq + 18, flags: ACK | PSH }, Buffer.from('HTTP/1.0 200 OK\r\n\r\n')));
  const down = out.find((o) => o.to === 'client')!;
  return { synAck, syn, reply, up, down, client, vip, srvAddr, local, d };
}

describe('flow: dual stack, every pair of families', function () {
  const cases: [string, string, string, number][] = [
    ['IPv6 client, IPv6 server leg', CLIENT6, VIP6, 1],
    ['IPv6 client, IPv4 server leg', CLIENT6, VIP6, 0],
    ['IPv4 client, IPv6 server leg', CLIENT4, VIP4, 1],
    ['IPv4 client, IPv4 server leg (a dual-stack configuration)', CLIENT4, VIP4, 0],
  ];
  for (const [name, client, vip, s] of cases) {
    it(`${name}: the handshake in the client's family, the server leg in the server's, data both ways with valid checksums`, function () {
      const r = connect(client, vip, s);
      expect(r.synAck).to.deep.include({ to: 'client', src: vip, dst: client });
      expect(r.synAck.v6).to.equal(client.includes(':'));
      // Each leg's MSS leaves room for an IPv6 header where one may be on either leg (the
      // client's: on its own, or on any server's).
      expect(r.synAck.tcp.mss).to.equal(client.includes(':') || r.srvAddr.includes(':') ? 1440 : 1460);
      expect(r.syn).to.deep.include({ src: r.local, dst: r.srvAddr });
      expect(r.syn.tcp.mss).to.equal(client.includes(':') || r.srvAddr.includes(':') ? 1440 : 1460);
      expect(r.up).to.deep.include({ to: 0, src: r.local, dst: r.srvAddr, v6: r.srvAddr.includes(':') });
      expect(r.up.payload.toString()).to.equal('GET / HTTP/1.0\r\n\r\n');
      expect(r.up.tcp.srcPort).to.equal(r.syn.tcp.srcPort);
      expect(r.up.hopLimit, 'TTL and hop limit carried over').to.equal(64);
      expect(r.down).to.deep.include({ to: 'client', src: vip, dst: client, v6: client.includes(':') });
      expect(r.down.payload.toString()).to.equal('HTTP/1.0 200 OK\r\n\r\n');
      expect(r.down.tcp).to.deep.include({ srcPort: 1080, dstPort: 40000, seq: r.reply.tcp.seq + r.reply.payload.length });
    });
  }

  it('holds an IPv6 client\'s address while its connection is in the table, and lets it go after', function () {
    const client = '2001:db8:18::77'; // no other test's: they leave theirs in their tables
    const r = connect(client, VIP6, 1);
    const c = r.d.table.connections()[0];
    expect(formatAddress(c.clientIp)).to.equal(client);
    expect(ADDRESSES6.lookup(a6(client), 0)).to.equal(c.clientIp);
    r.d.endAll();
    expect(r.d.table.size).to.equal(0);
    expect(ADDRESSES6.lookup(a6(client), 0)).to.equal(-1);
  });
});
