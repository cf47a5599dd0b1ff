import { expect } from 'chai';
import { HealthStub } from './health-stub';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Dispatcher, type Sink } from '../../../appliance/flow/dispatcher';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { ServerDiversion, serverPair } from '../../../appliance/stages/server-diversion';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { parseEndpoint, type Endpoint } from '../../../appliance/divert/endpoint';
import { Ipv4View } from '../../../appliance/wire/ipv4';
import { ACK, PSH, SYN, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { segment, tcpRepr } from '../wire/packets';
import { CLIENT, flowConfig, server, VIP } from './servers';
import { loadConfig } from '../../../appliance/config/load';
import { summarizeConfig } from '../../../appliance/config/summary';
import { printDivertAnswer } from '../../../appliance/cli/divert-answer';
import { DashboardModel } from '../../../tui/model';
import { divertPanel } from '../../../tui/divert-panel';
import { confCopies } from '../conf-dir';

/**
 * Server diversion (stages/server-diversion.ts): a diverted-address entry from one configured
 * SOCKS server's address:port to another's moves new connections that Server ALP Selection
 * gives the first to the second, when the second may take them.
 */

/** sa is preferred for http (capacity 15 >= 10); sc (capacity 8) also lists it; sb only ftp; sd speaks SOCKS4 only. */
const HTTP = { names: ['http'], all: false };
const SERVERS = [
  server('sa', 1, { alps: HTTP, isDefault: true }),
  server('sb', 2, { alps: { all: false, names: ['ftp'] } }),
  server('sc', 3, { alps: HTTP, capacity: 8 }),
  server('sd', 4, { alps: HTTP, capacity: 2, versions: ['4'] }),
];
const CONFIG = flowConfig(SERVERS, {
  capacityForPriority: [{ priority: 7, capacity: 10 }],
  alps: {
    records: [{ name: 'http', ports: [80], priority: 7, discardEligible: false }, { name: 'ftp', ports: [21], priority: 1, discardEligible: false }],
    fallback: { name: 'default', ports: [], priority: 4, discardEligible: true },
  },
});

/** Records the server each SYN went to; `down` servers are unusable. */
class Capture extends HealthStub implements Sink {
  readonly pool = new PacketPool(64, 1500);
  syns: string[] = [];
  down = new Set<number>();
  override usable(s?: number): boolean { return !this.down.has(s!); }
  toIntranet(slot: number): void { this.pool.give(slot); }
  toServer(s: number, slot: number, len: number): void {
    const b = this.pool.buf.subarray(this.pool.ipOffset(slot), this.pool.ipOffset(slot) + len);
    const t = new TcpView().wrap(b, 20, len - 20);
    if (t.flags === SYN) this.syns.push(SERVERS[s].name);
    this.pool.give(slot);
  }
}

function setup() {
  const cap = new Capture();
  const logs: string[] = [];
  const d = new Dispatcher(cap, cap, buildStages(CONFIG, new AlpRegistry()), SERVERS, 1460, (m) => logs.push(m));
  d.tick(1);
  const views = { ip: new Ipv4View(), tcp: new TcpView(), o: new TcpOptions() };
  const feed = (b: Buffer) => {
    const slot = cap.pool.take();
    cap.pool.buf.set(b, cap.pool.ipOffset(slot));
    const v = views.ip.wrap(cap.pool.buf, cap.pool.ipOffset(slot), b.length);
    const t = views.tcp.wrap(cap.pool.buf, v.payloadOffset, v.payloadLength);
    t.readOptions(views.o);
    d.fromClient(slot, v, t, views.o, b.length);
  };
  let port = 40000;
  /** A SOCKS4 CONNECT to 203.0.113.80:`dport` from a new client port: the server its SYN went to. */
  const connect = (dport: number): string => {
    const sport = port++;
    const seg = (t: object, payload?: Buffer) => segment(CLIENT, VIP, tcpRepr({ srcPort: sport, dstPort: 1080, window: 502, ...t }), payload);
    cap.syns = [];
    feed(seg({ seq: 1000, flags: SYN }));
    const isn = d.table.lookupClient(CLIENT, sport)!.hs!.ourIsn;
    const req = Buffer.from([4, 1, dport >> 8, dport & 255, 203, 0, 113, 80, 0]);
    feed(seg({ seq: 1001, ack: isn + 1, flags: ACK | PSH }, req));
    expect(cap.syns, 'one SYN to a server').to.have.length(1);
    return cap.syns[0];
  };
  return { cap, d, connect, logs };
}

describe('flow/server-diversion: an entry from one server to another moves new connections', function () {
  it('sa = sc: new http connections go to sc instead of sa; removing it brings them back; counted', function () {
    const { d, connect } = setup();
    expect(connect(80)).to.equal('sa');
    expect(d.diversions.add('198.19.1.2:1080', '198.19.3.2:1080').ok).to.equal(true);
    expect([connect(80), connect(80)]).to.deep.equal(['sc', 'sc']);
    expect(d.stats.serverDiverted).to.equal(2);
    // A diverted destination is still only the client's: the request names 203.0.113.80.
    expect(d.table.lookupClient(CLIENT, 40002)!.diverted).to.equal('');
    d.diversions.remove('198.19.1.2:1080');
    expect(connect(80)).to.equal('sa');
    expect(d.stats.serverDiverted).to.equal(2);
  });

  it('the target that cannot carry the ALP, or is unusable: the first stays, counted, logged once', function () {
    const { cap, d, connect, logs } = setup();
    d.diversions.add('198.19.1.2:1080', '198.19.2.2:1080'); // sb lists ftp only
    expect([connect(80), connect(80)]).to.deep.equal(['sa', 'sa']);
    expect(d.stats.serverDivertSkipped).to.equal(2);
    expect(logs.filter((l) => /server sa is diverted to sb/.test(l))).to.have.length(1);
    d.diversions.add('198.19.1.2:1080', '198.19.3.2:1080');
    cap.down.add(2);
    expect(connect(80)).to.equal('sa');
    cap.down.clear();
    expect(connect(80)).to.equal('sc');
    // The changed table logs afresh.
    expect(logs.filter((l) => /server sa is diverted to sc/.test(l))).to.have.length(1);
  });

  it('an entry for an address that is no server, or to one, changes no selection; one entry applies (no chain)', function () {
    const { d, connect } = setup();
    d.diversions.add('198.19.1.2:1080', '198.19.9.9:1080');
    expect(connect(80)).to.equal('sa');
    d.diversions.add('198.19.1.2:1080', '198.19.3.2:1080');
    d.diversions.add('198.19.3.2:1080', '198.19.4.2:1080');
    expect(connect(80)).to.equal('sc');
    expect(d.stats.serverDiverted).to.equal(1);
  });
});

describe('stages/server-diversion: the per-server array', function () {
  const table = (entries: [string, string][]) => new DivertedAddresses(entries.map(([o, d]) => ({ original: ep(o), diverted: ep(d) })));
  it('recomputed when the table changes (its version) or is replaced; address-only entries keep the port', function () {
    const sd = new ServerDiversion(SERVERS);
    const t = table([['198.19.1.2', '198.19.3.2']]);
    expect([0, 1, 2, 3].map((s) => sd.target(s, t))).to.deep.equal([2, -1, -1, -1]);
    t.add('198.19.2.2:1080', '198.19.4.2:1080');
    expect([0, 1, 2, 3].map((s) => sd.target(s, t))).to.deep.equal([2, 3, -1, -1]);
    t.add('198.19.1.2:1080', '198.19.3.2:1081'); // the exact entry wins, and names no server
    expect(sd.target(0, t)).to.equal(-1);
    expect(sd.target(0, table([]))).to.equal(-1);
  });

  it('divertedChoice: the target when it qualifies, else the choice with `refused` naming the target', function () {
    const st = buildStages(CONFIG, new AlpRegistry());
    const sd = new ServerDiversion(SERVERS);
    const t = table([['198.19.1.2:1080', '198.19.3.2:1080'], ['198.19.3.2:1080', '198.19.2.2:1080']]);
    const up = { usable: () => true };
    const http = st.analyzer.alpOf(80);
    expect([sd.divertedChoice(0, t, st.selection, http, 0xff, up), sd.refused]).to.deep.equal([2, -1]);
    expect([sd.divertedChoice(0, t, st.selection, http, 0xff, up, 1 << 2), sd.refused]).to.deep.equal([0, 2]); // sc already tried
    expect([sd.divertedChoice(2, t, st.selection, http, 0xff, up), sd.refused]).to.deep.equal([2, 1]); // sb lists ftp only
    expect([sd.divertedChoice(3, t, st.selection, http, 0xff, up), sd.refused]).to.deep.equal([3, -1]);
  });

  it('serverPair names the two servers of an entry, for check and ctl', function () {
    const [e] = table([['198.19.1.2:1080', '198.19.3.2:1080']]).entries();
    expect(serverPair(e, SERVERS)?.map((s) => s.name)).to.deep.equal(['sa', 'sc']);
    const [f] = table([['203.0.113.80:80', '198.19.3.2:1080']]).entries();
    expect(serverPair(f, SERVERS)).to.equal(undefined);
  });
});

function ep(text: string): Endpoint {
  const p = parseEndpoint(text);
  if (!p.ok) throw new Error(p.why);
  return p.endpoint;
}

describe('server diversion as operators see it: check, divert list, the dashboard', function () {
  const conf = confCopies();
  it('check notes which servers an entry moves connections between; divert list adds a Servers column; the panel names them', function () {
    const dir = conf({ 'diverted.ini': '[diverted]\n198.19.1.2:1080 = 198.19.3.2:1080\n203.0.113.80 = 203.0.113.81\n' });
    const text = summarizeConfig(loadConfig(dir));
    expect(text).to.match(/^ {2}198\.19\.1\.2:1080 +198\.19\.3\.2:1080 \(server diversion: new connections for sa go to sc\)$/m);
    expect(text).to.match(/^ {2}203\.0\.113\.80 +203\.0\.113\.81 \(port kept\)$/m);
    const lines: string[] = [];
    printDivertAnswer('list', { entries: [{ original: '198.19.1.2:1080', diverted: '198.19.3.2:1080', servers: 'sa -> sc' }, { original: '203.0.113.80', diverted: '203.0.113.81' }] }, (l) => lines.push(l));
    expect(lines.join('\n').split('\n').map((l) => l.trimEnd())).to.deep.equal([
      'Original         Diverted         Servers',
      '198.19.1.2:1080  198.19.3.2:1080  sa -> sc',
      '203.0.113.80     203.0.113.81',
    ]);
    const m = new DashboardModel('/nowhere');
    m.setDiverted([{ original: '198.19.1.2:1080', diverted: '198.19.3.2:1080', servers: 'sa -> sc' }]);
    expect(divertPanel(m, 80, 5, false)[0]).to.equal('  198.19.1.2:1080 -> 198.19.3.2:1080  (servers sa -> sc)');
  });
});
