import { expect } from 'chai';
import { HealthStub } from './health-stub';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Dispatcher, type Sink } from '../../../appliance/flow/dispatcher';
import { ConnState, type Connection } from '../../../appliance/flow/connection';
import { END_REASONS } from '../../../appliance/stats/end-reason';
import type { ServerRecord } from '../../../appliance/config/tables';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, FIN, parseTcp, PSH, RST, SYN, TcpOptions, TcpView, type TcpRepr } from '../../../appliance/wire/tcp';
import { segment, tcpRepr } from '../wire/packets';
import { CLIENT, flowConfig, server, VIP } from './servers';

const CONFIG = flowConfig([server('sa', 1), server('sb', 2)]);

interface Out { to: 'client' | number; ip: Ipv4View; tcp: TcpRepr; payload: Buffer; own: boolean }

/** Captures what the dispatcher sends, decoded, instead of writing it to devices. */
class Capture extends HealthStub implements Sink {
  readonly pool = new PacketPool(256, 1500);
  out: Out[] = [];
  private decode(slot: number, len: number, to: 'client' | number, own: boolean): void {
    const b = Buffer.from(this.pool.buf.subarray(this.pool.ipOffset(slot), this.pool.ipOffset(slot) + len));
    const v = new Ipv4View().wrap(b, 0, len);
    expect(v.check(), 'IP header checksum').to.equal(0);
    const t = new TcpView().wrap(b, IPV4_MIN_HEADER, len - IPV4_MIN_HEADER);
    expect(t.checksumValid(v.src, v.dst), 'TCP checksum').to.equal(true);
    this.out.push({ to, ip: v, tcp: parseTcp(t, new TcpOptions()), payload: b.subarray(t.payloadOffset), own });
    this.pool.give(slot);
  }
  toIntranet(slot: number, len: number): void { this.decode(slot, len, 'client', true); }
  toServer(s: number, slot: number, len: number, _alp: number, _prio: number, _de: boolean, own: boolean): void { this.decode(slot, len, s, own); }
  take(): Out[] { const o = this.out; this.out = []; return o; }
}

function setup(config = CONFIG) {
  const cap = new Capture();
  const d = new Dispatcher(cap, cap, buildStages(config, new AlpRegistry()), config.servers, 1460);
  d.tick(1);
  const views = { ip: new Ipv4View(), tcp: new TcpView(), o: new TcpOptions() };
  const feed = (from: 'client' | number, b: Buffer) => {
    const slot = cap.pool.take();
    cap.pool.buf.set(b, cap.pool.ipOffset(slot));
    const v = views.ip.wrap(cap.pool.buf, cap.pool.ipOffset(slot), b.length);
    const t = views.tcp.wrap(cap.pool.buf, v.payloadOffset, v.payloadLength);
    t.readOptions(views.o);
    if (from === 'client') d.fromClient(slot, v, t, views.o, b.length);
    else d.fromServer(from, slot, v, t, views.o, b.length);
    return cap.take();
  };
  return { cap, d, feed };
}

const fromClient = (t: Partial<TcpRepr>, payload?: Buffer, opts?: number[]) => segment(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, window: 502, ...t }), payload, opts);
const fromServer = (s: ServerRecord, port: number, t: Partial<TcpRepr>, payload?: Buffer) => segment(s.address, s.local.address, tcpRepr({ srcPort: 1080, dstPort: port, window: 500, ...t }), payload);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const TS = [0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 0];

describe('flow/dispatcher: late binding, segment by segment', function () {
  it('SOCKS5: answers the handshake, picks a server, replays, swallows its copy, splices', function () {
    const { d, feed } = setup();
    const sa = CONFIG.servers[0];
    // What each ending shows, read as the observer hears it (the handle is retired once the table lets it go).
    const ended: Pick<Connection, 'endReason' | 'packetsIn' | 'minLength' | 'maxLength' | 'flagsIn'>[] = [];
    d.observe({ ended: (c) => ended.push({ endReason: c.endReason, packetsIn: c.packetsIn, minLength: c.minLength, maxLength: c.maxLength, flagsIn: c.flagsIn }) });
    // 1. SYN with MSS 1460, wscale 7, SACK-permitted and a timestamp: SYN-ACK without timestamp.
    d.stamp(5000);
    let out = feed('client', fromClient({ seq: 1000, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true }, undefined, TS));
    expect(out).to.have.length(1);
    const synAck = out[0];
    expect(synAck.to).to.equal('client');
    expect(synAck.ip.src).to.equal(VIP);
    expect(synAck.tcp).to.deep.include({ srcPort: 1080, dstPort: 40000, ack: 1001, flags: SYN | ACK, mss: 1460, wscale: 7, sackPermitted: true });
    const isn = synAck.tcp.seq;
    // 2. ACK with the greeting: the appliance answers "no authentication" itself.
    d.stamp(5300);
    out = feed('client', fromClient({ seq: 1001, ack: isn + 1, flags: ACK | PSH }, hex('050100')));
    expect(out).to.have.length(1);
    expect(out[0].tcp).to.deep.include({ seq: isn + 1, ack: 1004, flags: ACK | PSH });
    expect(out[0].payload.toString('hex')).to.equal('0500');
    // 3. The request for 203.0.113.80:80 (ALP http): ACK to the client, SYN to the server with rewritten addresses.
    const request = hex('05010001cb0071500050');
    d.stamp(10_000);
    out = feed('client', fromClient({ seq: 1004, ack: isn + 3, flags: ACK | PSH }, request));
    expect(out.map((o) => o.to)).to.deep.equal(['client', 0]);
    expect(out[0].tcp).to.deep.include({ seq: isn + 3, ack: 1014, flags: ACK });
    const syn = out[1];
    expect([syn.ip.src, syn.ip.dst]).to.deep.equal([sa.local.address, sa.address]);
    expect(syn.tcp).to.deep.include({ dstPort: 1080, seq: 1000, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true });
    expect(syn.own).to.equal(true);
    const port = syn.tcp.srcPort;
    const conn = d.table.lookupClient(CLIENT, 40000)!;
    expect(conn.state).to.equal(ConnState.Connecting);
    expect(conn.destination).to.equal('203.0.113.80:80');
    // 4. The server's SYN-ACK (window scale 9): the greeting is replayed.
    d.stamp(10_700);
    out = feed(0, fromServer(sa, port, { seq: 0x5000, ack: 1001, flags: SYN | ACK, mss: 1460, wscale: 9 }));
    expect(out).to.have.length(1);
    expect(out[0].tcp).to.deep.include({ srcPort: port, seq: 1001, ack: 0x5001, flags: ACK | PSH });
    expect(out[0].payload.toString('hex')).to.equal('050100');
    // 5. The server's method reply is swallowed (the client has it already); the request follows.
    out = feed(0, fromServer(sa, port, { seq: 0x5001, ack: 1004, flags: ACK | PSH }, hex('0500')));
    expect(out).to.have.length(1);
    expect(out[0].tcp).to.deep.include({ seq: 1004, ack: 0x5003 });
    expect(out[0].payload.toString('hex')).to.equal(request.toString('hex'));
    expect(conn.state).to.equal(ConnState.Spliced);
    // 6. The server's SOCKS reply reaches the client in its sequence space, window rescaled (9 -> 7).
    const reply = hex('05000001cb0071700400');
    d.stamp(12_000);
    out = feed(0, fromServer(sa, port, { seq: 0x5003, ack: 1014, flags: ACK | PSH, window: 100 }, reply));
    expect(out).to.have.length(1);
    expect(out[0].to).to.equal('client');
    expect([out[0].ip.src, out[0].ip.dst]).to.deep.equal([VIP, CLIENT]);
    expect(out[0].tcp).to.deep.include({ srcPort: 1080, dstPort: 40000, seq: isn + 3, ack: 1014, window: 400 });
    expect(out[0].payload.toString('hex')).to.equal(reply.toString('hex'));
    // The statistics: SYN to SYN-ACK, SYN to the SOCKS reply; the minute's figures of server sa.
    expect([conn.handshakeUs, conn.replyUs]).to.deep.equal([700, 2000]);
    // Each leg's first round trip is its handshake: the SYN-ACK to the client's ACK, the SYN to the server's SYN-ACK.
    expect([conn.rttClientUs, conn.rttServerUs]).to.deep.equal([300, 700]);
    const load = d.flowStats.window(0);
    expect(load.connectionsPerSecond).to.be.above(0);
    expect(load.handshakeP50).to.be.closeTo(0.7, 0.07);
    expect(load.replyP50).to.be.closeTo(2, 0.2);
    // 7. The client's next bytes go to the server, its ack mapped back.
    out = feed('client', fromClient({ seq: 1014, ack: isn + 13, flags: ACK | PSH }, Buffer.from('GET /')));
    expect(out).to.have.length(1);
    expect(out[0].to).to.equal(0);
    expect(out[0].tcp).to.deep.include({ srcPort: port, dstPort: 1080, seq: 1014, ack: 0x5003 + 10 });
    expect(out[0].own).to.equal(false);
    // 8. FIN both ways and the last ACK: the entry lingers, then leaves.
    feed('client', fromClient({ seq: 1019, ack: isn + 13, flags: ACK | FIN }));
    feed(0, fromServer(sa, port, { seq: 0x500d, ack: 1020, flags: ACK | FIN }));
    expect(conn.state).to.equal(ConnState.Closed);
    // 9. The client reuses its port at once (it kept no TIME-WAIT): a new connection, not the old leg.
    out = feed('client', fromClient({ seq: 777777, flags: SYN, mss: 1460 }));
    expect(out.map((o) => [o.to, o.tcp.flags])).to.deep.equal([['client', SYN | ACK]]);
    expect(out[0].tcp.ack).to.equal(777778);
    expect(d.table.lookupClient(CLIENT, 40000)!.state).to.equal(ConnState.SynReceived);
    d.tick(20);
    expect(d.table.size).to.equal(0);
    // Both ended: the first by its FINs (its port reused while it lingered), the second by the half-open timeout.
    expect(ended.map((c) => END_REASONS[c.endReason])).to.deep.equal(['fin', 'handshake-timeout']);
    expect(ended[0].packetsIn).to.equal(5);
    expect([ended[0].minLength, ended[0].maxLength]).to.deep.equal([40, 64]); // a bare ACK; the SYN with its options
    expect(ended[0].flagsIn & (SYN | FIN)).to.equal(SYN | FIN);
  });

  for (const verdict of ['00', '01']) {
    it(`SOCKS5 username/password: answered optimistically, then the server ${verdict === '00' ? 'accepts' : 'refuses and the client gets a failure'}`, function () {
      const { d, feed } = setup();
      const sa = CONFIG.servers[0];
      const isn = feed('client', fromClient({ seq: 100, flags: SYN }))[0].tcp.seq;
      let out = feed('client', fromClient({ seq: 101, ack: isn + 1, flags: ACK }, hex('050102')));
      expect(out[0].payload.toString('hex')).to.equal('0502'); // the only method offered
      const auth = Buffer.concat([hex('0103'), Buffer.from('bob'), hex('02'), Buffer.from('pw')]);
      out = feed('client', fromClient({ seq: 104, ack: isn + 3, flags: ACK }, auth));
      expect(out[0].payload.toString('hex')).to.equal('0100'); // success, before any server is asked
      const request = hex('05010001cb0071500050');
      out = feed('client', fromClient({ seq: 104 + auth.length, ack: isn + 5, flags: ACK }, request));
      const port = out.find((o) => o.to === 0)!.tcp.srcPort;
      out = feed(0, fromServer(sa, port, { seq: 0x9000, ack: 101, flags: SYN | ACK }));
      expect(out[0].payload.toString('hex')).to.equal('050102');
      out = feed(0, fromServer(sa, port, { seq: 0x9001, ack: 104, flags: ACK }, hex('0502')));
      expect(out[0].payload.toString('hex')).to.equal(auth.toString('hex')); // the credentials, replayed
      out = feed(0, fromServer(sa, port, { seq: 0x9003, ack: 104 + auth.length, flags: ACK }, hex(`01${verdict}`)));
      const conn = d.table.lookupClient(CLIENT, 40000)!;
      if (verdict === '00') {
        expect(out[0].payload.toString('hex')).to.equal(request.toString('hex'));
        expect(conn.state).to.equal(ConnState.Spliced);
        expect(conn.delta).to.equal(((isn + 5) - 0x9005) | 0);
      } else {
        const toClient = out.find((o) => o.to === 'client')!;
        expect(toClient.payload.toString('hex')).to.equal('05010001000000000000');
        expect(toClient.tcp.flags & FIN).to.equal(FIN);
        expect(out.some((o) => o.to === 0 && (o.tcp.flags & RST) !== 0)).to.equal(true);
        expect(conn.state).to.equal(ConnState.Refused);
      }
    });
  }

  it('SOCKS4 collected one byte per segment', function () {
    const { d, feed } = setup();
    const isn = feed('client', fromClient({ seq: 1, flags: SYN, mss: 1460 }))[0].tcp.seq;
    const request = hex('04010050cb00715000');
    // What the appliance sent in answer to each byte, in client bytes acknowledged.
    const seen: string[][] = [];
    for (let i = 0; i < request.length; i++) {
      const out = feed('client', fromClient({ seq: 2 + i, ack: isn + 1, flags: ACK }, request.subarray(i, i + 1)));
      seen.push(out.map((o) => (o.to === 'client' ? `ack ${o.tcp.ack - 2}${o.payload.length ? ' with data' : ''}` : o.tcp.flags === SYN ? 'syn' : `flags ${o.tcp.flags}`)));
      if (i < request.length - 1) expect(d.table.lookupClient(CLIENT, 40000)!.state, `after byte ${i + 1}`).to.equal(ConnState.Collecting);
    }
    // Every byte but the last is acknowledged alone; the last completes the request: its ACK,
    // and the SYN to the chosen server.
    const expected = [...Array(request.length - 1).keys()].map((i) => [`ack ${i + 1}`]);
    expected.push([`ack ${request.length}`, 'syn']);
    expect(seen).to.deep.equal(expected);
    expect(d.table.lookupClient(CLIENT, 40000)!.state).to.equal(ConnState.Connecting);
  });

  it('a server that resets makes the next one be tried; none left refuses the client', function () {
    const { cap, d, feed } = setup();
    const isn = feed('client', fromClient({ seq: 1, flags: SYN }))[0].tcp.seq;
    let out = feed('client', fromClient({ seq: 2, ack: isn + 1, flags: ACK }, hex('04010050cb0071500000')));
    const first = out.find((o) => o.to !== 'client')!;
    out = feed(first.to as number, fromServer(CONFIG.servers[first.to as number], first.tcp.srcPort, { seq: 0, ack: 2, flags: RST | ACK }));
    const second = out.find((o) => o.to !== 'client')!;
    expect(second.to).to.not.equal(first.to);
    expect(second.tcp.flags).to.equal(SYN);
    out = feed(second.to as number, fromServer(CONFIG.servers[second.to as number], second.tcp.srcPort, { seq: 0, ack: 2, flags: RST | ACK }));
    expect(cap.failures).to.have.length(2);
    expect(out).to.have.length(1);
    expect(out[0].to).to.equal('client');
    expect(out[0].tcp.flags).to.equal(ACK | PSH | FIN);
    expect(out[0].payload.toString('hex')).to.equal('005b000000000000'); // SOCKS4 "rejected"
    const c = d.table.lookupClient(CLIENT, 40000)!;
    expect(c.state).to.equal(ConnState.Refused);
    expect(END_REASONS[c.endReason]).to.equal('server-failed');
    expect(d.flowStats.window(first.to as number).failures + d.flowStats.window(second.to as number).failures).to.equal(2);
  });

  it('answers a challenge ACK to its SYN (a server holding the 4-tuple from before) with RST, then SYN again', function () {
    const { feed } = setup();
    const isn = feed('client', fromClient({ seq: 1, flags: SYN }))[0].tcp.seq;
    const out = feed('client', fromClient({ seq: 2, ack: isn + 1, flags: ACK }, hex('04010050cb00715000')));
    const syn = out.find((o) => o.to !== 'client')!;
    const srv = CONFIG.servers[syn.to as number];
    const reply = feed(syn.to as number, fromServer(srv, syn.tcp.srcPort, { seq: 5555, ack: 0x70000000, flags: ACK }));
    expect(reply.map((o) => o.tcp.flags)).to.deep.equal([RST, SYN]);
    expect(reply[0].tcp.seq).to.equal(0x70000000);
    expect(reply[1].tcp.seq).to.equal(1);
  });

  it('refuses BIND with the protocol\'s reply and a clean close', function () {
    const { feed } = setup();
    const isn = feed('client', fromClient({ seq: 1, flags: SYN }))[0].tcp.seq;
    feed('client', fromClient({ seq: 2, ack: isn + 1, flags: ACK }, hex('050100')));
    const out = feed('client', fromClient({ seq: 5, ack: isn + 3, flags: ACK }, hex('05020001cb0071500050')));
    expect(out).to.have.length(1);
    expect(out[0].tcp.flags).to.equal(ACK | PSH | FIN);
    expect(out[0].payload.toString('hex')).to.equal('05070001000000000000');
  });

  it('answers a segment for no connection with a RST, and caps half-open entries', function () {
    const cfg = { ...CONFIG, appliance: { ...CONFIG.appliance, maxHalfOpen: 2 } };
    const { d, feed } = setup(cfg);
    const rst = feed('client', fromClient({ seq: 7, ack: 99, flags: ACK }));
    expect(rst[0].tcp).to.deep.include({ seq: 99, flags: RST });
    for (let p = 1; p <= 3; p++) feed('client', segment(CLIENT, VIP, tcpRepr({ srcPort: p, dstPort: 1080, seq: 1, flags: SYN })));
    expect(d.table.size).to.equal(2);
    expect(d.table.stats.refusedHalfOpen).to.equal(1);
    d.tick(20); // half_open_timeout passed: RST and gone
    expect(d.table.size).to.equal(0);
  });
});
