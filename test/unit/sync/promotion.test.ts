import { expect } from 'chai';
import { Capture, checkedDecode, type Decoded, type Dest, Feeder } from '../flow/harness';
import { CLIENT, flowConfig, server, VIP } from '../flow/servers';
import { a6, tcp6 } from '../wire/packets6';
import { ip, segment, tcpRepr } from '../wire/packets';
import { KEY, MACS } from './fixtures';
import { Dispatcher } from '../../../appliance/flow/dispatcher';
import { ConnState, type Connection } from '../../../appliance/flow/connection';
import { FLAG_PICKUP_CLIENT, FLAG_PICKUP_SERVER } from '../../../appliance/flow/columns';
import type { Config, ServerRecord } from '../../../appliance/config/tables';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { ADDRESSES6 } from '../../../appliance/addr/interner';
import { formatAddress, parseAddress } from '../../../appliance/addr/address';
import { ACK, FIN, PSH, RST, SYN, type TcpRepr } from '../../../appliance/wire/tcp';
import { SyncSender } from '../../../appliance/sync/sender';
import { SyncStandby, type HeldConnection } from '../../../appliance/sync/standby';
import { adoptHeld, type PromotionSkips } from '../../../appliance/sync/promotion';
import { LazyAdoption } from '../../../appliance/sync/adoption';
import { serversHash } from '../../../appliance/sync/pair';
import { OPENERS, serverLocal } from '../../../appliance/flow/openers';
import { readU32 } from '../../../appliance/wire/ipv4';

/**
 * Issue 16's failover end to end without devices, golden-style: appliance A (a Dispatcher)
 * splices a connection and syncs it (SyncSender, from transitions.ts's settle) to appliance
 * B's standby; A forwards 10 MiB more that B never hears of; B, another Dispatcher of the same
 * configuration, adopts what it holds (sync/promotion.ts) and must then forward the next
 * segment of either leg with exactly the bytes A produces for the same segment (loose pickup,
 * guard.ts), and judge the following ones as A does.
 */

const CPORT = 40000;
const C_ISN = 1000;
const S_ISN = 0x5000;
const MIB = 1 << 20;
/** guard.ts's MAX_WINDOW: RFC 7323's largest window (65535 << 14), rounded up to 2^30. */
const MAX_WINDOW = 2 ** 30;
/** The peers' wall clocks: both tables' second 0 is this ms since 1970. */
const ORIGIN_MS = 1_796_000_000_000;

/** One server, SOCKS5 only: a SOCKS4 request is carried in another dialect (upShift 4, delta, window shift +2). */
const ONLY5 = flowConfig([server('sa', 1, { versions: ['5'] })]);
const CLIENT6 = '2001:db8:18::16'; // no other test's: the interner is the process's
const VIP6 = '2001:db8:18:100::100';
const DUAL = flowConfig([server('sa', 1)], { intranet: { tun: 'alp0', vips: [VIP, parseAddress(VIP6)!], mtu: 1500 } });

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u32 = (n: number) => n >>> 0;
/** SOCKS4 CONNECT 203.0.113.80:80, empty USERID (9 bytes); the SOCKS5 CONNECT it becomes (10). */
const REQ_4 = hex('04 01 0050 cb007150 00');
const CONNECT_5 = '05010001cb0071500050';
/** A SOCKS5 server's success reply (BND 203.0.113.80:8080), and what the SOCKS4 client gets for it. */
const REPLY5 = hex('05 00 00 01 cb007150 1f90');
const REPLY4 = '005a1f90cb007150';
const GET = Buffer.from('GET / HTTP/1.0\r\n\r\n');
const HEADER = Buffer.from('HTTP/1.0 200 OK\r\n\r\n');
const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

// ------------------------------------------------------------------ an appliance without devices

interface Out extends Decoded { to: string; own: boolean }

/** A Dispatcher of `cfg` with a capturing sink, its clock at 1 s; `feed` takes a datagram of either family. */
function appliance(cfg: Config) {
  const cap = new Capture<Out>((b, to, own) => ({ ...checkedDecode(b), to: to === 'client' ? to : cfg.servers[to].name, own }));
  const alps = new AlpRegistry();
  const d = new Dispatcher(cap, cap, buildStages(cfg, alps), cfg.servers, 1460);
  d.tick(1);
  const free = cap.pool.available;
  const feeder = new Feeder(d, cap);
  const feed = (from: Dest, b: Buffer): Out[] => {
    const out = feeder.feed(from, b);
    expect(cap.pool.available, 'pool slots after the segment').to.equal(free);
    return out;
  };
  return { cfg, cap, alps, d, feed };
}

/** The two ends of one connection as text addresses; `up` and `down` build its segments (server 0's leg on `port`). */
class Ends {
  port = 0;
  constructor(readonly client: string, readonly vip: string, readonly srv: ServerRecord) {}
  up(t: Partial<TcpRepr>, payload?: Buffer): Buffer {
    return datagram(this.client, this.vip, { srcPort: CPORT, dstPort: 1080, window: 502, ...t }, payload);
  }
  down(t: Partial<TcpRepr>, payload?: Buffer): Buffer {
    return datagram(formatAddress(this.srv.address), formatAddress(this.srv.local.address), { srcPort: this.srv.port, dstPort: this.port, window: 500, ...t }, payload);
  }
}

function datagram(src: string, dst: string, t: Partial<TcpRepr>, payload?: Buffer): Buffer {
  const r = tcpRepr({ ...t, seq: u32(t.seq ?? 0), ack: u32(t.ack ?? 0) });
  return src.includes(':') ? tcp6(a6(src), a6(dst), r, payload) : segment(ip(src), ip(dst), r, payload);
}

/** A segment as plain fields: what the golden expectations compare, whole. */
interface Seg { to: string; src: string; dst: string; seq: number; ack: number; flags: number; win: number; data: string }
const view = (o: Out): Seg => ({
  to: o.to, src: `${o.src}:${o.tcp.srcPort}`, dst: `${o.dst}:${o.tcp.dstPort}`, seq: o.tcp.seq, ack: o.tcp.ack, flags: o.tcp.flags, win: o.tcp.window, data: o.payload.toString('hex'),
});
const views = (out: Out[]) => out.map(view);
const raws = (out: Out[]) => out.map((o) => o.raw.toString('hex'));
/**
 * The same, less an IPv4 header's identification and checksum: an IPv4 header the appliance
 * writes itself (family.ts, from an IPv6 datagram) numbers its datagrams per appliance (RFC
 * 6864 4.1: any value for an atomic datagram). The checksum was checked whole by checkedDecode.
 */
const reframed = (out: Out[]) => out.map((o) => {
  const b = Buffer.from(o.raw);
  if (!o.v6) b.fill(0, 4, 6).fill(0, 10, 12);
  return b.toString('hex');
});

// ------------------------------------------------------------------ the pair

/** The fields the splice reads: what B must have of A's connection as A spliced it. */
const SPLICE_FIELDS = [
  'clientIp', 'clientPort', 'vip', 'server', 'allocPort', 'alp', 'priority', 'discardEligible', 'version', 'dialect', 'leg', 'clientIsn',
  'delta', 'upShift', 'upNext', 'downNext', 'clientScale', 'serverScale', 'windowShiftToClient', 'windowShiftToServer',
  'winToClient', 'winToServer', 'destination', 'diverted', 'created',
] as const;
type Snapshot = Record<(typeof SPLICE_FIELDS)[number], unknown>;
const snapshot = (c: Connection): Snapshot => Object.fromEntries(SPLICE_FIELDS.map((k) => [k, c[k]])) as Snapshot;

/**
 * Appliance A with its sync: the sender as pair.ts builds it (datagrams collected), hooked
 * into the dispatcher as pair.ts hooks it, and the standby of "appliance B" (same key and
 * server hash) that the datagrams are given to. `atSplice`: A's connection as it was synced.
 */
function master(cfg: Config) {
  const a = appliance(cfg);
  const sent: Buffer[] = [];
  const serverHash = serversHash(cfg.servers);
  const sender = new SyncSender({
    sender: 0xa1, key: KEY, serverHash, vipPort: cfg.appliance.socksPort,
    serverMac: (i) => MACS[i], local: (c) => serverLocal(c as Connection, cfg.servers[c.server]), alpName: (alp) => a.alps.names[alp] ?? '', wallMs: (t) => ORIGIN_MS + t * 1000,
    send: (b, n) => sent.push(Buffer.from(b.subarray(0, n))),
  }, { epoch: 1000 });
  const atSplice: Snapshot[] = [];
  a.d.sync({ spliced: (c) => { atSplice.push(snapshot(c)); sender.spliced(c); }, changed: (c) => sender.changed(c), ended: (c) => sender.ended(c.clientIp, c.clientPort) });
  const standby = new SyncStandby({ key: KEY, serverHash, maxEntries: 100 });
  /** What the sender queued, sent and received by the standby. */
  const deliver = () => {
    sender.flush();
    for (const d of sent.splice(0)) expect(standby.receive(d), 'the standby takes the datagram').to.equal(true);
  };
  return { a, sender, standby, atSplice, deliver };
}

/** Appliance B of `cfg`, its clock at 5 s (the failover); `adopt` takes `held` over as pair.ts's promote does. */
function backup(cfg: Config) {
  const b = appliance(cfg);
  b.d.tick(5);
  const seeded: [number, number[]][] = [];
  const adopt = (held: Iterable<HeldConnection>) => adoptHeld({
    table: b.d.table, vips: new Set(cfg.intranet.vips), servers: cfg.servers.length,
    alpId: (name) => b.alps.idOf(name), seedMac: (s, mac) => seeded.push([s, [...mac]]),
    openerSlot: (s, local) => (readU32(local, 12) === cfg.servers[s].local.address ? 0 : OPENERS.slot(readU32(local, 12))),
    now: 5, wallToTable: (ms) => (ms - ORIGIN_MS) / 1000,
  }, held);
  return { b, seeded, adopt };
}

const NO_SKIPS: PromotionSkips = { vip: 0, taken: 0, closing: 0, full: 0, opener: 0 };

/** Where the SOCKS4 client's and the leg's bytes stand after the request (upShift = legEnd - reqEnd = 4). */
const REQ_END = C_ISN + 1 + REQ_4.length;
const LEG_END = C_ISN + 1 + 3 + CONNECT_5.length / 2;
const UP_SHIFT = LEG_END - REQ_END;
/** The server's first byte after its reply, and after the HTTP header. */
const DOWN_DATA = S_ISN + 3 + REPLY5.length;
const DOWN0 = DOWN_DATA + HEADER.length;
/** The client's first byte after its GET (client's numbering). */
const UP0 = REQ_END + GET.length;

/**
 * Step 1: a SOCKS4 client through the SOCKS5-only server on A, up to the splice and some data
 * both ways (the settle syncs it). Step 2: 10 MiB more from the server and 201 kB more from the
 * client, that B never hears of. Returns where each direction then stands.
 */
function downloadOnA() {
  const m = master(ONLY5);
  const { a } = m;
  const sa = ONLY5.servers[0];
  const e = new Ends('198.18.0.2', '198.18.0.100', sa);
  let out = a.feed('client', e.up({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true }));
  const isn = out[0].tcp.seq;
  expect(a.feed('client', e.up({ seq: C_ISN + 1, ack: isn + 1, flags: ACK }))).to.deep.equal([]);
  out = a.feed('client', e.up({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4));
  e.port = out[1].tcp.srcPort;
  out = a.feed(0, e.down({ seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 9 }));
  expect(out.map((o) => o.payload.toString('hex'))).to.deep.equal(['050100']);
  out = a.feed(0, e.down({ seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500')));
  expect(out.map((o) => o.payload.toString('hex'))).to.deep.equal([CONNECT_5]);
  out = a.feed(0, e.down({ seq: S_ISN + 3, ack: LEG_END, flags: ACK | PSH }, REPLY5));
  expect(views(out)).to.deep.equal([toClient(isn + 1, REQ_END, ACK | PSH, REPLY4, 2000)]);
  const c = a.d.table.lookupClient(CLIENT, CPORT)!;
  const delta = (isn + 9 - DOWN_DATA) | 0;
  expect([c.state, c.delta, c.upShift, c.windowShiftToClient], 'spliced, in another dialect').to.deep.equal([ConnState.Spliced, delta, UP_SHIFT, 2]);
  expect(m.atSplice, 'not synced before both ends have all the appliance sent').to.have.lengthOf(0);
  // The client's first bytes after its request: both ends have all the appliance sent in the other's stead.
  out = a.feed('client', e.up({ seq: REQ_END, ack: isn + 9, flags: ACK | PSH }, GET));
  expect(views(out)).to.deep.equal([toServer(sa, e.port, LEG_END, DOWN_DATA, ACK | PSH, GET.toString('hex'), 502)]);
  expect(c.hs).to.equal(null);
  expect(m.atSplice, 'synced once, at the settle').to.have.lengthOf(1);
  out = a.feed(0, e.down({ seq: DOWN_DATA, ack: LEG_END + GET.length, flags: ACK | PSH }, HEADER));
  expect(views(out)).to.deep.equal([toClient(isn + 9, UP0, ACK | PSH, HEADER.toString('hex'), 2000)]);
  m.deliver();

  // Step 2, unsynced: the client opens its window to 8 MiB (65535 << 7); the server's sequence
  // number moves on by 10 MiB, sampled one segment a MiB, each acknowledged; the client uploads
  // 201 kB, sampled one segment every 100 kB.
  let ackDown = isn + 9 + HEADER.length;
  for (let k = 0; k <= 10; k++) {
    out = a.feed('client', e.up({ seq: UP0, ack: ackDown, flags: ACK, window: 65535 }));
    expect(views(out)).to.deep.equal([toServer(sa, e.port, UP0 + UP_SHIFT, ackDown - delta, ACK, '', 65535)]);
    const seq = DOWN0 + k * MIB;
    out = a.feed(0, e.down({ seq, ack: UP0 + UP_SHIFT, flags: ACK | PSH }, bytes(1400, k)));
    expect(views(out), `server segment ${k}`).to.deep.equal([toClient(seq + delta, UP0, ACK | PSH, bytes(1400, k).toString('hex'), 2000)]);
    ackDown = seq + 1400 + delta;
  }
  for (let k = 0; k <= 2; k++) {
    const seq = UP0 + k * 100_000;
    out = a.feed('client', e.up({ seq, ack: ackDown, flags: ACK | PSH, window: 65535 }, bytes(1000, 0x40 + k)));
    expect(views(out), `client segment ${k}`).to.deep.equal([toServer(sa, e.port, seq + UP_SHIFT, ackDown - delta, ACK | PSH, bytes(1000, 0x40 + k).toString('hex'), 65535)]);
  }
  expect(a.d.guard.stats.dataOutOfWindow, 'A took every segment').to.equal(0);
  return {
    ...m, e, c, isn, delta,
    /** The server's and the client's next bytes (each in its own numbering), and the client's ack of all the server sent. */
    downNext: DOWN0 + 10 * MIB + 1400, upNext: UP0 + 200_000 + 1000, ackDown,
  };
}

/** A segment to the SOCKS4 client, from the VIP's SOCKS port. */
function toClient(seq: number, ack: number, flags: number, data = '', win = 511): Seg {
  return { to: 'client', src: '198.18.0.100:1080', dst: `198.18.0.2:${CPORT}`, seq: u32(seq), ack: u32(ack), flags, win, data };
}

/** A segment to server `srv` from the appliance's address on its segment and the leg's port. */
function toServer(srv: ServerRecord, port: number, seq: number, ack: number, flags: number, data = '', win = 511): Seg {
  return { to: srv.name, src: `${formatAddress(srv.local.address)}:${port}`, dst: `${formatAddress(srv.address)}:${srv.port}`, seq: u32(seq), ack: u32(ack), flags, win, data };
}

/** Steps 1 to 3: A's download, and B's adoption of what it held. */
function failover() {
  const run = downloadOnA();
  const { b, adopt } = backup(ONLY5);
  const { adopted, skipped } = adopt(run.standby.connections());
  expect([adopted.length, skipped]).to.deep.equal([1, NO_SKIPS]);
  return { ...run, b, cb: adopted[0] };
}

// ================================================================== the tests

describe('sync/promotion: a connection spliced on A, synced, then served by B', function () {
  it('A syncs the connection as it spliced it; B adopts it with its server-leg port, the server\'s MAC and both legs to pick up', function () {
    const run = downloadOnA();
    const [held] = [...run.standby.connections()];
    // What the standby holds is A's connection at its settle, not where A stands now.
    expect(held).to.deep.include({
      state: ConnState.Spliced, server: 0, allocPort: run.e.port, alp: 'http', destination: '203.0.113.80:80', diverted: '',
      clientIsn: C_ISN, delta: run.delta, upShift: UP_SHIFT, upNext: LEG_END + GET.length, downNext: DOWN_DATA,
      windowShiftToClient: 2, windowShiftToServer: 0, clientScale: 7, serverScale: 7, winToClient: -1, winToServer: 502,
      finFromClient: false, finFromServer: false, createdMs: ORIGIN_MS + 1000,
    });
    expect([run.c.upNext, run.c.downNext], 'A went on').to.deep.equal([run.upNext + UP_SHIFT, run.downNext]);

    const { b, adopt, seeded } = backup(ONLY5);
    const { adopted, skipped } = adopt(run.standby.connections());
    expect(adopted).to.have.lengthOf(1);
    expect(skipped).to.deep.equal(NO_SKIPS);
    const cb = adopted[0];
    expect(b.d.table.lookupClient(CLIENT, CPORT)).to.equal(cb);
    expect(b.d.table.lookupServer(0, run.e.port)).to.equal(cb);
    expect(b.d.table.size).to.equal(1);
    expect(b.d.table.halfOpen, 'spliced: not half-open').to.equal(0);
    expect(snapshot(cb)).to.deep.equal(run.atSplice[0]);
    expect([cb.state, cb.hs, cb.pickup]).to.deep.equal([ConnState.Spliced, null, FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER]);
    expect(seeded).to.deep.equal([[0, [...MACS[0]]]]);
  });

  it('B forwards the server\'s next segment, 10 MiB past the synced number, and the client\'s next, byte for byte as A does; then both legs go on as on A', function () {
    const f = failover();
    const { a, b, e, cb, delta } = f;
    const sa = ONLY5.servers[0];
    const synced = cb.downNext;
    expect(((f.downNext - synced) | 0) - 10 * MIB, 'how far the server went on unsynced').to.equal(1400 + HEADER.length);

    // The server's next segment, acknowledging all the client sent.
    const down = e.down({ seq: f.downNext, ack: f.upNext + UP_SHIFT, flags: ACK | PSH }, bytes(1400, 0xdd));
    const outA = a.feed(0, down);
    const outB = b.feed(0, down);
    expect(views(outB)).to.deep.equal([toClient(f.downNext + delta, f.upNext, ACK | PSH, bytes(1400, 0xdd).toString('hex'), 2000)]);
    expect(raws(outB), 'B\'s datagram is A\'s').to.deep.equal(raws(outA));
    expect([cb.downNext, cb.pickup, b.d.guard.stats.pickedUp]).to.deep.equal([(f.downNext + 1400) | 0, FLAG_PICKUP_CLIENT, 1]);
    expect(cb.downNext).to.equal(f.c.downNext);

    // The client's next bytes, acknowledging that segment.
    const ack = f.downNext + 1400 + delta;
    const up = e.up({ seq: f.upNext, ack, flags: ACK | PSH, window: 65535 }, bytes(700, 0xcc));
    const upA = a.feed('client', up);
    const upB = b.feed('client', up);
    expect(views(upB)).to.deep.equal([toServer(sa, e.port, f.upNext + UP_SHIFT, f.downNext + 1400, ACK | PSH, bytes(700, 0xcc).toString('hex'), 65535)]);
    expect(raws(upB)).to.deep.equal(raws(upA));
    expect(upB[0].own, 'forwarded, not the appliance\'s own').to.equal(false);
    expect([cb.upNext, cb.pickup, b.d.guard.stats.pickedUp]).to.deep.equal([f.c.upNext, 0, 2]);

    // Picked up: the next of each way, a bare ACK and a FIN among them, as on A.
    for (const [from, seg] of [
      [0, e.down({ seq: f.downNext + 1400, ack: f.upNext + UP_SHIFT + 700, flags: ACK | PSH | FIN }, bytes(100, 0xee))],
      ['client', e.up({ seq: f.upNext + 700, ack: ack + 101, flags: ACK, window: 65535 })],
    ] as ['client' | number, Buffer][]) {
      const x = a.feed(from, seg);
      const y = b.feed(from, seg);
      expect(y).to.have.lengthOf(1);
      expect(raws(y)).to.deep.equal(raws(x));
    }
    expect([cb.finFromServer, cb.upNext, cb.downNext]).to.deep.equal([true, f.c.upNext, f.c.downNext]);
    expect(b.d.guard.stats.dataOutOfWindow).to.equal(0);
  });

  it('a server segment more than a largest window behind the synced number is dropped and anchors nothing; at exactly 2^30 behind it is a retransmission, picked up', function () {
    const { b, e, cb, upNext } = failover();
    const synced = cb.downNext;
    const behind = (n: number) => e.down({ seq: synced - n, ack: upNext + UP_SHIFT, flags: ACK | PSH }, bytes(1400, 1));
    expect(b.feed(0, behind(MAX_WINDOW + 1))).to.deep.equal([]);
    expect([b.d.guard.stats.dataOutOfWindow, b.d.guard.stats.pickedUp]).to.deep.equal([1, 0]);
    expect([cb.downNext, cb.pickup]).to.deep.equal([synced, FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER]);
    // An ACK that far behind, for the client's leg, is no more picked up.
    expect(b.feed('client', e.up({ seq: cb.upNext - UP_SHIFT - MAX_WINDOW - 1, ack: 1, flags: ACK }))).to.deep.equal([]);
    expect([b.d.guard.stats.dataOutOfWindow, cb.pickup]).to.deep.equal([2, FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER]);

    const out = b.feed(0, behind(MAX_WINDOW));
    expect(views(out)).to.deep.equal([toClient(synced - MAX_WINDOW + cb.delta, upNext, ACK | PSH, bytes(1400, 1).toString('hex'), 2000)]);
    expect([cb.downNext, cb.pickup, b.d.guard.stats.pickedUp]).to.deep.equal([(synced - MAX_WINDOW + 1400) | 0, FLAG_PICKUP_CLIENT, 1]);
  });

  it('once a leg is picked up, a segment far beyond its window is dropped again, as A drops it, though the pickup would have taken it', function () {
    const f = failover();
    const { a, b, e, cb } = f;
    // The client's ACK first, so that B knows the window the client opened, as A does.
    const up = e.up({ seq: f.upNext, ack: f.ackDown, flags: ACK, window: 65535 });
    expect(raws(b.feed('client', up))).to.deep.equal(raws(a.feed('client', up)));
    // A bare ACK anchors the client's leg where it stands in the server leg's numbering, as A has it.
    expect([cb.upNext, cb.pickup]).to.deep.equal([f.c.upNext, FLAG_PICKUP_SERVER]);
    expect(cb.upNext).to.equal((f.upNext + UP_SHIFT) | 0);
    const down = e.down({ seq: f.downNext, ack: f.upNext + UP_SHIFT, flags: ACK | PSH }, bytes(1400, 2));
    expect(raws(b.feed(0, down))).to.deep.equal(raws(a.feed(0, down)));
    expect(cb.pickup).to.equal(0);

    // 256 MiB on: within half the sequence space of the synced number (what the pickup takes),
    // far past the 8 MiB window (what the splice takes).
    const far = (f.downNext + 1400 + 256 * MIB) | 0;
    expect((far - cb.downNext) | 0).to.be.above(8 * MIB + 65536);
    const jump = e.down({ seq: far, ack: f.upNext + UP_SHIFT, flags: ACK | PSH }, bytes(1400, 3));
    const before = cb.downNext;
    expect(b.feed(0, jump)).to.deep.equal([]);
    expect(a.feed(0, jump)).to.deep.equal([]);
    expect([b.d.guard.stats.dataOutOfWindow, a.d.guard.stats.dataOutOfWindow, cb.downNext]).to.deep.equal([1, 1, before]);
    // The same far the other way, from the client.
    const upFar = e.up({ seq: f.upNext + 256 * MIB, ack: f.ackDown, flags: ACK | PSH, window: 65535 }, bytes(10, 4));
    expect(b.feed('client', upFar)).to.deep.equal([]);
    expect(b.d.guard.stats.dataOutOfWindow).to.equal(2);
  });

  // RFC 5961 3.2 cannot be judged on a leg still to be picked up: the synced number is older than the sender's.
  it('the server\'s RST as its first segment after the failover reaches the client as A would send it, and closes; one more than 2^30 behind is dropped', function () {
    const { a, b, e, cb, downNext, upNext } = failover();
    const synced = cb.downNext;
    const stale = e.down({ seq: synced - MAX_WINDOW - 1, ack: upNext + UP_SHIFT, flags: RST | ACK });
    expect(b.feed(0, stale)).to.deep.equal([]);
    expect([b.d.guard.stats.rstOutOfWindow, cb.pickup, cb.state]).to.deep.equal([1, FLAG_PICKUP_CLIENT | FLAG_PICKUP_SERVER, ConnState.Spliced]);
    const rst = e.down({ seq: downNext, ack: upNext + UP_SHIFT, flags: RST | ACK });
    const outA = a.feed(0, rst);
    const outB = b.feed(0, rst);
    expect(views(outB)).to.deep.equal([toClient(downNext + cb.delta, upNext, RST | ACK, '', 2000)]);
    expect(raws(outB)).to.deep.equal(raws(outA));
    expect([cb.state, cb.downNext, b.d.guard.stats.pickedUp]).to.deep.equal([ConnState.Closed, downNext, 1]);
  });

  it('the client\'s RST as its first segment after the failover reaches the server as A would send it, and closes', function () {
    const { a, b, e, cb, upNext, ackDown } = failover();
    const rst = e.up({ seq: upNext, ack: ackDown, flags: RST | ACK });
    const outA = a.feed('client', rst);
    const outB = b.feed('client', rst);
    expect(views(outB)).to.deep.equal([toServer(ONLY5.servers[0], e.port, upNext + UP_SHIFT, ackDown - cb.delta, RST | ACK, '', 502)]);
    expect(raws(outB)).to.deep.equal(raws(outA));
    expect([cb.state, cb.pickup]).to.deep.equal([ConnState.Closed, FLAG_PICKUP_SERVER]);
  });
});

describe('sync/promotion: what B does not take over', function () {
  /** A's connection and the entry B holds of it. */
  function held() {
    const run = downloadOnA();
    const [h] = [...run.standby.connections()];
    return { run, h };
  }

  it('a connection addressed to a VIP B does not have: skipped as vip, nothing claimed', function () {
    const { run, h } = held();
    const other = flowConfig(ONLY5.servers, { intranet: { tun: 'alp0', vips: [ip('198.18.0.101')], mtu: 1500 } });
    const { b, adopt, seeded } = backup(other);
    const { adopted, skipped } = adopt([h]);
    expect([adopted.length, skipped]).to.deep.equal([0, { ...NO_SKIPS, vip: 1 }]);
    expect([b.d.table.size, b.d.table.lookupServer(0, run.e.port), seeded]).to.deep.equal([0, undefined, []]);
  });

  it('a connection whose server-leg port B uses already (its own connection\'s): skipped as taken, B\'s own left alone', function () {
    const { h } = held();
    const { b, adopt, seeded } = backup(ONLY5);
    // B's own client (198.18.0.3) asks for a connection: B binds it a port towards sa.
    const e = new Ends('198.18.0.3', '198.18.0.100', ONLY5.servers[0]);
    const isn = b.feed('client', e.up({ seq: 50, flags: SYN }))[0].tcp.seq;
    const port = b.feed('client', e.up({ seq: 51, ack: isn + 1, flags: ACK | PSH }, REQ_4)).find((o) => o.to === 'sa')!.tcp.srcPort;
    const mine = b.d.table.lookupServer(0, port)!;
    expect(mine.clientIp).to.equal(ip('198.18.0.3'));
    // The peer had allocated the same port (each appliance allocates its own).
    const { adopted, skipped } = adopt([{ ...h, allocPort: port }]);
    expect([adopted.length, skipped, seeded]).to.deep.equal([0, { ...NO_SKIPS, taken: 1 }, []]);
    expect([b.d.table.size, b.d.table.lookupServer(0, port), b.d.table.lookupClient(CLIENT, CPORT)]).to.deep.equal([1, mine, undefined]);
    expect(b.d.table.halfOpen, 'the entry made for it went again: only B\'s own is half-open').to.equal(1);
  });

  it('a connection whose client port is in B\'s table (the client came to B first): skipped as taken, its port not claimed', function () {
    const { run, h } = held();
    const { b, adopt } = backup(ONLY5);
    b.feed('client', run.e.up({ seq: 9000, flags: SYN }));
    const { adopted, skipped } = adopt([h]);
    expect([adopted.length, skipped]).to.deep.equal([0, { ...NO_SKIPS, taken: 1 }]);
    expect(b.d.table.lookupClient(CLIENT, CPORT)!.state).to.equal(ConnState.SynReceived);
    expect(b.d.table.lookupServer(0, run.e.port)).to.equal(undefined);
  });

  it('a connection half closed when last synced (the server\'s FIN, in a CHANGED entry): taken over, half closed', function () {
    const { run } = held();
    const { a, e, c } = run;
    a.feed(0, e.down({ seq: run.downNext, ack: run.upNext + UP_SHIFT, flags: ACK | FIN }));
    expect(c.finFromServer).to.equal(true);
    run.deliver();
    const { b, adopt } = backup(ONLY5);
    const { adopted, skipped } = adopt(run.standby.connections());
    expect([adopted.length, skipped, b.d.table.size]).to.deep.equal([1, NO_SKIPS, 1]);
    expect([adopted[0].finFromServer, adopted[0].finFromClient]).to.deep.equal([true, false]);
  });

  it('a connection closed when last synced (both FINs, in CHANGED entries): skipped as closing', function () {
    const { run } = held();
    const { a, e, c } = run;
    a.feed(0, e.down({ seq: run.downNext, ack: run.upNext + UP_SHIFT, flags: ACK | FIN }));
    a.feed('client', e.up({ seq: run.upNext, ack: run.ackDown + 1, flags: ACK | FIN }));
    expect([c.finFromServer, c.finFromClient]).to.deep.equal([true, true]);
    run.deliver();
    const { b, adopt } = backup(ONLY5);
    const { adopted, skipped } = adopt(run.standby.connections());
    expect([adopted.length, skipped, b.d.table.size]).to.deep.equal([0, { ...NO_SKIPS, closing: 1 }, 0]);
  });

  it('a table full (max_connections 1, held by B\'s own client): skipped as full', function () {
    const { h } = held();
    const one = flowConfig(ONLY5.servers, {}, { maxConnections: 1 });
    const { b, adopt } = backup(one);
    b.feed('client', new Ends('198.18.0.3', '198.18.0.100', one.servers[0]).up({ seq: 50, flags: SYN }));
    const { adopted, skipped } = adopt([h]);
    expect([adopted.length, skipped, b.d.table.size]).to.deep.equal([0, { ...NO_SKIPS, full: 1 }, 1]);
  });
});

describe('sync/promotion: an IPv6 client (dual stack, IPv4 server leg)', function () {
  it('adopts it, forwards both legs\' next segments byte for byte as A does, and holds the client\'s address while it has the connection', function () {
    const m = master(DUAL);
    const { a } = m;
    const sa = DUAL.servers[0];
    const e = new Ends(CLIENT6, VIP6, sa);
    // A SOCKS5 CONNECT to 203.0.113.80:80 through sa, then data both ways (the settle syncs it).
    let out = a.feed('client', e.up({ seq: C_ISN, flags: SYN, mss: 1440, wscale: 7, sackPermitted: true }));
    const isn = out[0].tcp.seq;
    a.feed('client', e.up({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050100')));
    out = a.feed('client', e.up({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, hex(CONNECT_5)));
    e.port = out.find((o) => o.to === 'sa')!.tcp.srcPort;
    a.feed(0, e.down({ seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 }));
    a.feed(0, e.down({ seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500')));
    out = a.feed(0, e.down({ seq: S_ISN + 3, ack: C_ISN + 14, flags: ACK | PSH }, REPLY5));
    expect(out.map((o) => [o.to, o.v6, o.payload.toString('hex')])).to.deep.equal([['client', true, REPLY5.toString('hex')]]);
    a.feed('client', e.up({ seq: C_ISN + 14, ack: isn + 13, flags: ACK | PSH }, GET));
    a.feed(0, e.down({ seq: S_ISN + 13, ack: C_ISN + 14 + GET.length, flags: ACK | PSH }, HEADER));
    expect(m.atSplice).to.have.lengthOf(1);
    m.deliver();
    const [h] = [...m.standby.connections()];
    expect([h.client.v6, h.vip.v6, Buffer.from(h.client.address).toString('hex')]).to.deep.equal([true, true, a6(CLIENT6).toString('hex')]);
    // 10 MiB more on A alone.
    const ca = a.d.table.connections()[0];
    const down0 = S_ISN + 13 + HEADER.length + 10 * MIB;
    const up0 = C_ISN + 14 + GET.length;
    a.feed('client', e.up({ seq: up0, ack: isn + 13 + HEADER.length, flags: ACK, window: 65535 }));
    for (let k = 1; k <= 10; k++) expect(a.feed(0, e.down({ seq: S_ISN + 13 + HEADER.length + k * MIB - 1400, ack: up0, flags: ACK | PSH }, bytes(1400, k)))).to.have.lengthOf(1);

    const { b, adopt } = backup(DUAL);
    const { adopted, skipped } = adopt(m.standby.connections());
    expect([adopted.length, skipped]).to.deep.equal([1, NO_SKIPS]);
    const cb = adopted[0];
    const client = ADDRESSES6.lookup(a6(CLIENT6), 0);
    expect([cb.clientIp, cb.vip, formatAddress(cb.clientIp)]).to.deep.equal([client, parseAddress(VIP6), CLIENT6]);
    expect(b.d.table.lookupClient(client, CPORT)).to.equal(cb);
    expect(b.d.table.lookupServer(0, e.port)).to.equal(cb);

    const down = e.down({ seq: down0, ack: up0, flags: ACK | PSH }, bytes(1400, 0xdd));
    const outA = a.feed(0, down);
    const outB = b.feed(0, down);
    expect(outB.map((o) => [o.to, o.v6, `[${o.src}]:${o.tcp.srcPort}`, `[${o.dst}]:${o.tcp.dstPort}`, o.tcp.seq, o.tcp.ack])).to.deep.equal([
      ['client', true, `[${VIP6}]:1080`, `[${CLIENT6}]:${CPORT}`, u32(down0 + ca.delta), up0],
    ]);
    expect(raws(outB)).to.deep.equal(raws(outA));
    const up = e.up({ seq: up0, ack: down0 + 1400 + ca.delta, flags: ACK | PSH, window: 65535 }, bytes(300, 0xcc));
    const upA = a.feed('client', up);
    const upB = b.feed('client', up);
    expect(upB.map((o) => [o.to, o.v6, `${o.src}:${o.tcp.srcPort}`, `${o.dst}:${o.tcp.dstPort}`, o.tcp.seq, o.tcp.ack])).to.deep.equal([
      ['sa', false, `198.19.1.1:${e.port}`, '198.19.1.2:1080', up0, u32(down0 + 1400)],
    ]);
    expect(reframed(upB)).to.deep.equal(reframed(upA));
    expect([upA[0].raw.readUInt16BE(4), upB[0].raw.readUInt16BE(4)], 'each appliance\'s own IPv4 identification: A\'s third reframed datagram (the GET, an ACK, this), B\'s first').to.deep.equal([3, 1]);
    expect([cb.pickup, cb.upNext, cb.downNext]).to.deep.equal([0, ca.upNext, ca.downNext]);

    // Offered again (a second promotion of the same entry): its client is in the table, the reference taken for it given back.
    expect(adopt([h]).skipped).to.deep.equal({ ...NO_SKIPS, taken: 1 });
    // B holds one reference to the address, for its connection: A's end lets go of A's only.
    a.d.endAll();
    expect(ADDRESSES6.lookup(a6(CLIENT6), 0)).to.equal(client);
    b.d.endAll();
    expect(ADDRESSES6.lookup(a6(CLIENT6), 0)).to.equal(-1);
  });
});

describe('sync/adoption: an ECMP member takes a peer\'s connection over on a leg\'s first segment', function () {
  /** Member B of the group: the same server, B's own address on its segment (198.19.1.3), the held entries of `standby` adopted as segments come. */
  function member(standby: SyncStandby) {
    const cfg = flowConfig([server('sa', 1, { versions: ['5'], local: { address: ip('198.19.1.3'), length: 24 } })]);
    const b = appliance(cfg);
    b.d.tick(5);
    const lazy = new LazyAdoption({
      table: b.d.table, vips: new Set(cfg.intranet.vips), servers: cfg.servers.length,
      alpId: (name) => b.alps.idOf(name), seedMac: () => undefined,
      openerSlot: (s, local) => (readU32(local, 12) === cfg.servers[s].local.address ? 0 : OPENERS.slot(readU32(local, 12))),
      now: 5, wallToTable: (ms) => (ms - ORIGIN_MS) / 1000,
    }, standby);
    b.d.adoptFrom(lazy);
    return { b, lazy };
  }

  it('the client\'s next segment, moved to B by the router: B sends it from A\'s address and port, byte for byte as A does', function () {
    const f = downloadOnA();
    const { b, lazy } = member(f.standby);
    const up = f.e.up({ seq: f.upNext, ack: f.ackDown, flags: ACK | PSH, window: 65535 }, bytes(700, 0xcc));
    const upA = f.a.feed('client', up);
    const upB = b.feed('client', up);
    expect(views(upB)).to.deep.equal([toServer(ONLY5.servers[0], f.e.port, f.upNext + UP_SHIFT, f.ackDown - f.delta, ACK | PSH, bytes(700, 0xcc).toString('hex'), 65535)]);
    expect(upB[0].src, 'A\'s address on the segment, not B\'s').to.equal('198.19.1.1');
    expect(raws(upB)).to.deep.equal(raws(upA));
    const cb = b.d.table.lookupClient(CLIENT, CPORT)!;
    expect([cb.adopted, cb.pickup, lazy.stats]).to.deep.equal([true, FLAG_PICKUP_SERVER, { fromClient: 1, fromServer: 0 }]);
    expect(b.d.table.lookupServer(0, f.e.port)).to.equal(cb);
  });

  it('the server\'s next segment, answered by B for the silent A: B forwards it to the client byte for byte as A does', function () {
    const f = downloadOnA();
    const { b, lazy } = member(f.standby);
    const down = f.e.down({ seq: f.downNext, ack: f.upNext + UP_SHIFT, flags: ACK | PSH }, bytes(1400, 0xdd));
    const outA = f.a.feed(0, down);
    const outB = b.feed(0, down);
    expect(views(outB)).to.deep.equal([toClient(f.downNext + f.delta, f.upNext, ACK | PSH, bytes(1400, 0xdd).toString('hex'), 2000)]);
    expect(raws(outB)).to.deep.equal(raws(outA));
    expect(lazy.stats).to.deep.equal({ fromClient: 0, fromServer: 1 });
    expect(b.d.table.lookupClient(CLIENT, CPORT)!.pickup).to.equal(FLAG_PICKUP_CLIENT);
  });

  it('takes nothing for a SYN, nor for a client or port it holds nothing of: those are answered as before (a RST)', function () {
    const f = downloadOnA();
    const { b, lazy } = member(f.standby);
    const other = new Ends('198.18.0.2', '198.18.0.100', ONLY5.servers[0]);
    const stranger = datagram('198.18.0.2', '198.18.0.100', { srcPort: CPORT + 1, dstPort: 1080, seq: 5, ack: 7, flags: ACK }, bytes(10, 1));
    expect(views(b.feed('client', stranger)).map((s) => s.flags)).to.deep.equal([RST]);
    other.port = f.e.port + 1;
    expect(views(b.feed(0, other.down({ seq: 5, ack: 7, flags: ACK })))).to.have.lengthOf(1);
    expect(lazy.stats).to.deep.equal({ fromClient: 0, fromServer: 0 });
    expect(b.d.table.size).to.equal(0);
    // Just started, the peers' resync still to come: dropped, not reset (the connection may live on).
    lazy.quietFor(60_000);
    expect(b.feed('client', stranger)).to.deep.equal([]);
    expect(b.feed(0, other.down({ seq: 5, ack: 7, flags: ACK }))).to.deep.equal([]);
  });

  it('shares the server-leg ports out: member 2 of 3 opens only ports p with p % 3 == 1', function () {
    const b = appliance(ONLY5);
    b.d.table.share(1, 3);
    const ports: number[] = [];
    for (let i = 0; i < 30; i++) {
      const up = (t: Partial<TcpRepr>, p?: Buffer) => datagram('198.18.0.2', '198.18.0.100', { srcPort: 30000 + i, dstPort: 1080, window: 502, ...t }, p);
      const out = b.feed('client', up({ seq: C_ISN, flags: SYN, mss: 1460 }));
      b.feed('client', up({ seq: C_ISN + 1, ack: out[0].tcp.seq + 1, flags: ACK }));
      const leg = b.feed('client', up({ seq: C_ISN + 1, ack: out[0].tcp.seq + 1, flags: ACK | PSH }, REQ_4));
      ports.push(leg.find((o) => o.to === 'sa')!.tcp.srcPort);
    }
    expect(ports.filter((p) => p % 3 !== 1)).to.deep.equal([]);
    expect(new Set(ports).size).to.equal(30);
  });
});
