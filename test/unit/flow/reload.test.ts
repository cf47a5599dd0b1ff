import { expect } from 'chai';
import { HealthStub } from './health-stub';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Dispatcher, type Sink } from '../../../appliance/flow/dispatcher';
import { ConnState } from '../../../appliance/flow/connection';
import type { AlpTable, Config } from '../../../appliance/config/tables';
import { buildStages, type Appliance } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { ServerEgress } from '../../../appliance/forward/egress';
import { alps as alpRows } from '../../../appliance/control/snapshot';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, PSH, SYN, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';
import { CLIENT, flowConfig, server, VIP } from './servers';

/** The address of server('sa', 1), and the appliance's own on its segment. */
const SA = { address: ip('198.19.1.2'), local: ip('198.19.1.1') };

const rec = (name: string, port: number, priority: number, discardEligible: boolean) => ({ name, ports: [port], priority, discardEligible });
const FALLBACK = { name: 'default', ports: [], priority: 4, discardEligible: true };
/** Before: the patent's example (figure 9). */
const BEFORE: AlpTable = { records: [rec('gopher', 70, 1, true), rec('ftp', 21, 1, false), rec('telnet', 23, 7, true), rec('http', 80, 7, false)], fallback: FALLBACK };
/** After: ssh inserted first, ftp removed, gopher's and http's rules swapped. */
const AFTER: AlpTable = { records: [rec('ssh', 22, 6, false), rec('http', 80, 1, true), rec('telnet', 23, 7, true), rec('gopher', 70, 7, false)], fallback: FALLBACK };

function config(alps: AlpTable): Config {
  return flowConfig([server('sa', 1, { versions: ['4', '4a', '5'], queueLimit: 8 })], { alps }, { idleTimeout: 300 });
}

/**
 * The dispatcher in front of the real server egress (queues, congestion control, counters),
 * as the forwarder has it, minus the devices: what leaves the queue is kept as the server-leg
 * source port of each datagram, which names the connection it belongs to.
 */
class Egress extends HealthStub implements Sink {
  readonly pool = new PacketPool(512, 1500);
  readonly egress: ServerEgress;
  /** Source ports of the data segments that left the queue, in order. */
  sent: number[] = [];
  hold = false;
  private readonly tcp = new TcpView();
  constructor(readonly registry: AlpRegistry) {
    super();
    this.egress = new ServerEgress(config(BEFORE).servers, this.pool, registry.size);
  }
  toIntranet(slot: number): void { this.pool.give(slot); }
  toServer(s: number, slot: number, len: number, alp: number, priority: number, discardEligible: boolean, own: boolean): void {
    expect(this.egress.enqueue(s, slot, len, alp, priority, discardEligible, own)).to.equal(true);
    if (!this.hold) this.drain();
  }
  drain(): void {
    this.egress.queues[0].drain((slot, len) => {
      const t = this.tcp.wrap(this.pool.buf, this.pool.ipOffset(slot) + IPV4_MIN_HEADER, len - IPV4_MIN_HEADER);
      if (t.payloadLength > 0 && t.payloadLength !== 9) this.sent.push(t.srcPort); // not the replayed request
      return true;
    });
  }
}

describe('flow: a reload that inserts, removes and reorders ALPs leaves established connections as they were', function () {
  const registry = new AlpRegistry();
  const sink = new Egress(registry);
  const stagesBefore = buildStages(config(BEFORE), registry);
  sink.egress.growAlps(registry.size);
  const d = new Dispatcher(sink, sink, stagesBefore, config(BEFORE).servers, 1460);
  const views = { ip: new Ipv4View(), tcp: new TcpView(), o: new TcpOptions() };
  const feed = (fromServer: boolean, b: Buffer) => {
    const slot = sink.pool.take();
    sink.pool.buf.set(b, sink.pool.ipOffset(slot));
    const v = views.ip.wrap(sink.pool.buf, sink.pool.ipOffset(slot), b.length);
    const t = views.tcp.wrap(sink.pool.buf, v.payloadOffset, v.payloadLength);
    t.readOptions(views.o);
    if (fromServer) d.fromServer(0, slot, v, t, views.o, b.length);
    else d.fromClient(slot, v, t, views.o, b.length);
  };

  /** A SOCKS4 CONNECT from client port `port` to 203.0.113.80:`dst`, spliced through sa. */
  function establish(port: number, dst: number) {
    feed(false, segment(CLIENT, VIP, tcpRepr({ srcPort: port, dstPort: 1080, seq: 1000, flags: SYN, window: 500 })));
    const c = d.table.lookupClient(CLIENT, port)!;
    const isn = c.hs!.ourIsn;
    const request = Buffer.from([4, 1, dst >> 8, dst & 255, 203, 0, 113, 80, 0]);
    feed(false, segment(CLIENT, VIP, tcpRepr({ srcPort: port, dstPort: 1080, seq: 1001, ack: isn + 1, flags: ACK | PSH, window: 500 }), request));
    const leg = c.allocPort;
    feed(true, segment(SA.address, SA.local, tcpRepr({ srcPort: 1080, dstPort: leg, seq: 5000, ack: 1001, flags: SYN | ACK, window: 500 })));
    feed(true, segment(SA.address, SA.local, tcpRepr({ srcPort: 1080, dstPort: leg, seq: 5001, ack: 1010, flags: ACK | PSH, window: 500 }), Buffer.from([0, 90, 0, 0, 0, 0, 0, 0])));
    expect(c.state, `connection to port ${dst}`).to.equal(ConnState.Spliced);
    // The client acknowledges the reply: both ends have all the appliance sent in the other's stead.
    feed(false, segment(CLIENT, VIP, tcpRepr({ srcPort: port, dstPort: 1080, seq: 1010, ack: isn + 9, flags: ACK, window: 500 })));
    expect(c.hs, 'the handshake state is dropped').to.equal(null);
    let next = 1010;
    return {
      c,
      leg,
      /** Ten bytes from the client, forwarded to the server's queue. */
      send() {
        feed(false, segment(CLIENT, VIP, tcpRepr({ srcPort: port, dstPort: 1080, seq: next, ack: isn + 9, flags: ACK | PSH, window: 500 }), Buffer.alloc(10, 0x61)));
        next += 10;
      },
    };
  }

  it('judges queued and new datagrams by their own connection\'s ALP; counts, census and rows follow the ALP by name', function () {
    const [gopher, ftp, telnet, http] = [establish(40001, 70), establish(40002, 21), establish(40003, 23), establish(40004, 80)];
    const id = (name: string) => registry.idOf(name)!;
    expect([gopher, ftp, telnet, http].map((x) => x.c.alp)).to.deep.equal(['gopher', 'ftp', 'telnet', 'http'].map(id));

    // Six datagrams queued under the old tables (the server's TAP is not taking any)...
    sink.hold = true;
    sink.sent = [];
    for (const x of [gopher, ftp, telnet, http, gopher, ftp]) x.send();
    expect(sink.egress.queues[0].length).to.equal(6);

    // ...then the reload: ssh inserted first, ftp removed, gopher and http swapped.
    const stagesAfter = buildStages(config(AFTER), registry);
    d.reconfigure(stagesAfter);
    sink.egress.growAlps(registry.size);

    // Six more, over the bound of 8. By each connection's own rules (figure 9): at the 9th
    // (gopher) ListD is gopher (discard-eligible, priority 1): all three go; at the 12th
    // ListD is telnet (discard-eligible, priority 7): all three go. Under the new tables
    // http (priority 1, discard-eligible) would have gone first and gopher would have stayed.
    for (const x of [telnet, http, gopher, ftp, telnet, http]) x.send();
    sink.hold = false;
    sink.drain();
    const by = new Map([[gopher.leg, 'gopher'], [ftp.leg, 'ftp'], [telnet.leg, 'telnet'], [http.leg, 'http']]);
    expect(sink.sent.map((p) => by.get(p))).to.deep.equal(['ftp', 'http', 'ftp', 'http', 'ftp', 'http']);

    const e = sink.egress;
    expect(e.discardsByAlp[0][id('gopher')]).to.equal(3);
    expect(e.discardsByAlp[0][id('telnet')]).to.equal(3);
    expect(e.discardsByAlp[0][id('http')] + e.discardsByAlp[0][id('ftp')] + e.discardsByAlp[0][id('ssh')]).to.equal(0);
    expect(e.discardsByPriority[0][1], 'gopher at its old priority').to.equal(3);
    expect(e.discardsByPriority[0][7]).to.equal(3);

    // New connections take the new rules; the established ones keep theirs.
    const later = establish(40005, 80);
    const ftpLater = establish(40006, 21);
    expect([later.c.alp, later.c.priority, later.c.discardEligible]).to.deep.equal([id('http'), 1, true]);
    expect(ftpLater.c.alp, 'ftp\'s port falls to the default').to.equal(id('default'));
    expect([http.c.priority, http.c.discardEligible, gopher.c.priority, gopher.c.discardEligible]).to.deep.equal([7, false, 1, true]);

    // The census (gathered by the idle sweep) and the operators' ALP rows, by name.
    d.tick(2);
    d.tick(3);
    const rows = alpRows({ dispatcher: d, alps: registry, forwarder: { egress: e }, flowStats: d.flowStats } as unknown as Appliance);
    const view = rows.map((r) => [r.name, r.priority, r.removed, r.active, r.discards]);
    expect(view).to.deep.equal([
      ['ssh', 6, false, 0, 0],
      ['http', 1, false, 2, 0],
      ['telnet', 7, false, 1, 3],
      ['gopher', 7, false, 1, 3],
      ['default', 4, false, 1, 0],
      ['ftp', 1, true, 1, 0],
    ]);
  });
});
