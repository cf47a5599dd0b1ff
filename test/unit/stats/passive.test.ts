import { expect } from 'chai';
import { Connection } from '../../../appliance/flow/connection';
import { rewriteToClient, rewriteToServer } from '../../../appliance/flow/splice';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, FIN, PSH, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';

const CLIENT = ip('198.18.0.2');
const VIP = ip('198.18.0.100');
const LOCAL = ip('198.19.1.1');
const SERVER = ip('198.19.1.2');
const SERVER_ISN = 0x2000;
const DELTA = 0x10000000 - SERVER_ISN;

/** A spliced connection where both directions stand at the first data byte. */
function spliced(): Connection {
  const c = new Connection(CLIENT, 40000, VIP, 0);
  c.server = 0;
  c.allocPort = 1024;
  c.clientIsn = 1000;
  c.delta = DELTA;
  c.upNext = 1001;
  c.downNext = SERVER_ISN + 1;
  return c;
}

const ipv = new Ipv4View();
const tcp = new TcpView();
const opts = new TcpOptions();

/** Client data (or a pure ACK when n is 0) from `seq`, acknowledging server data up to `ack` (client's view). */
function fromClient(c: Connection, us: number, seq: number, n: number, ack: number, flags = ACK | PSH): void {
  const b = segment(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, seq, ack, flags, window: 500 }), Buffer.alloc(n, 0x61));
  ipv.wrap(b, 0, b.length);
  tcp.wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
  tcp.readOptions(opts);
  rewriteToServer(ipv, tcp, opts, c, LOCAL, SERVER, 1080, us);
}

/** Server data from `seq` (server's space), acknowledging client data up to `ack`. */
function fromServer(c: Connection, us: number, seq: number, n: number, ack: number, flags = ACK | PSH): void {
  const b = segment(SERVER, LOCAL, tcpRepr({ srcPort: 1080, dstPort: 1024, seq, ack, flags, window: 500 }), Buffer.alloc(n, 0x62));
  ipv.wrap(b, 0, b.length);
  tcp.wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
  tcp.readOptions(opts);
  rewriteToClient(ipv, tcp, opts, c, 1080, us);
}

const S = SERVER_ISN + 1; // the server's first data byte
const C = 1001; // the client's
const toClientView = (serverSeq: number) => (serverSeq + DELTA) >>> 0;

describe('stats/passive: round trips and retransmissions from the segments the splice forwards', function () {
  it('times the server leg from new client data to the server ACK of its first byte, smoothed as SRTT', function () {
    const c = spliced();
    fromClient(c, 1000, C, 3000, toClientView(S)); // one GSO super-packet
    fromServer(c, 1200, S, 0, C); // acknowledges nothing new
    expect(c.rttServerUs).to.equal(-1);
    fromServer(c, 1400, S, 0, C + 1448); // its first segment arrived: the sample, not after all 3000 bytes
    expect(c.rttServerUs).to.equal(400);
    fromServer(c, 1900, S, 0, C + 3000);
    expect(c.rttServerUs).to.equal(400);
    fromClient(c, 2000, C + 3000, 100, toClientView(S));
    fromServer(c, 2200, S, 0, C + 3100);
    // RFC 6298: SRTT + (R - SRTT) / 8 = 400 + (200 - 400) / 8
    expect(c.rttServerUs).to.equal(375);
    expect(c.retransIn).to.equal(0);
  });

  it('counts a retransmission once and takes no sample across it (Karn)', function () {
    const c = spliced();
    fromClient(c, 1000, C, 100, toClientView(S));
    fromClient(c, 1300, C, 100, toClientView(S)); // the same bytes again
    expect(c.retransIn).to.equal(1);
    fromServer(c, 1500, S, 0, C + 100);
    expect(c.rttServerUs).to.equal(-1); // ambiguous: for the first copy or the second?
    fromClient(c, 1600, C + 50, 100, toClientView(S)); // repeats 50 bytes and brings 50 new: a retransmission too, not timed
    expect([c.retransIn, c.upNext]).to.deep.equal([2, C + 150]);
    fromClient(c, 1700, C + 150, 0, toClientView(S)); // a pure ACK takes no sequence space
    expect(c.retransIn).to.equal(2);
    fromServer(c, 1900, S, 0, C + 150);
    expect(c.rttServerUs).to.equal(-1);
    fromClient(c, 2000, C + 150, 10, toClientView(S));
    fromServer(c, 2300, S, 0, C + 160);
    expect(c.rttServerUs).to.equal(300);
  });

  it('lets a retransmission merged with new bytes spoil the sample of the byte it repeats, and only that', function () {
    const c = spliced();
    fromClient(c, 1000, C, 100, toClientView(S)); // timed: its first byte
    fromClient(c, 1100, C + 100, 100, toClientView(S));
    fromClient(c, 1200, C + 150, 100, toClientView(S)); // repeats bytes after the timed one
    expect(c.retransIn).to.equal(1);
    fromServer(c, 1300, S, 0, C + 1);
    expect(c.rttServerUs).to.equal(300); // the timed byte was not repeated: the sample stands
    fromClient(c, 2000, C + 250, 100, toClientView(S)); // timed
    fromClient(c, 2100, C + 200, 200, toClientView(S)); // a tail-loss probe with new bytes, over the timed byte
    expect(c.retransIn).to.equal(2);
    fromServer(c, 2500, S, 0, C + 400);
    expect(c.rttServerUs).to.equal(300); // spoilt: no sample
  });

  it('times the client leg from server data to the client\'s ACK, in the client\'s sequence space', function () {
    const c = spliced();
    fromServer(c, 5000, S, 1000, C);
    fromServer(c, 5100, S + 1000, 1000, C); // a second segment while the first is timed
    fromClient(c, 5250, C, 0, toClientView(S + 1000));
    expect(c.rttClientUs).to.equal(250);
    fromServer(c, 5300, S + 1000, 1000, C); // repeat of data already sent
    expect(c.retransOut).to.equal(1);
    fromServer(c, 5400, S + 2000, 0, C, ACK | FIN); // a FIN takes sequence space: new
    expect(c.retransOut).to.equal(1);
    expect(c.downNext).to.equal(S + 2001);
  });

  it('measures across the wrap of its 32-bit microsecond clock', function () {
    const c = spliced();
    const at = 0x7fffff00 | 0;
    fromClient(c, at, C, 10, toClientView(S));
    fromServer(c, (at + 500) | 0, S, 0, C + 10);
    expect(c.rttServerUs).to.equal(500);
  });

  it('times sequence numbers across their own wrap', function () {
    const c = spliced();
    c.upNext = 0xffffff00 | 0;
    fromClient(c, 10, 0xffffff00, 0x200, toClientView(S));
    expect(c.upNext).to.equal(0x100);
    fromServer(c, 90, S, 0, 0x100);
    expect(c.rttServerUs).to.equal(80);
  });
});
