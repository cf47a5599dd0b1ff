import { expect } from 'chai';
import { Capture, type Dest, Feeder } from './harness';
import { Dispatcher } from '../../../appliance/flow/dispatcher';
import { ConnState } from '../../../appliance/flow/connection';
import type { Config, ServerRecord } from '../../../appliance/config/tables';
import { buildStages } from '../../../appliance/appliance';
import { AlpRegistry } from '../../../appliance/stages/alp-registry';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, FIN, parseTcp, PSH, RST, SYN, TcpOptions, TcpView, type TcpRepr } from '../../../appliance/wire/tcp';
import { segment, tcpRepr } from '../wire/packets';
import { CLIENT, flowConfig, server, VIP } from './servers';

/**
 * The connection path through the Dispatcher, segment by segment, with golden output: every
 * field of every segment the appliance sends (addresses, ports, seq, ack, flags, window, SYN
 * options, SACK edges, payload). First a request carried in another dialect than the client's
 * (dialect.ts: a SOCKS4a client through a SOCKS5-only server, `upShift` and `delta` of
 * splice.ts), then one test per cell of the transition table (transitions.ts / machine.ts) that
 * dispatcher.test.ts does not reach.
 */

// ------------------------------------------------------------------ the appliance under test

const CPORT = 40000;
/** The client's ISN: its bytes start at 1001, and the server leg starts at the same ISN. */
const C_ISN = 1000;
/** The server's ISN on the server leg. */
const S_ISN = 0x5000;

/** The only server speaks SOCKS5 only (as Dante configured without SOCKS4, or microsocks). */
const ONLY5 = flowConfig([server('sa', 1, { versions: ['5'] })]);
/** Two SOCKS5-only servers: round robin starts at sa, sb is the failover. */
const TWO5 = flowConfig([server('sa', 1, { versions: ['5'] }), server('sb', 2, { versions: ['5'] })]);
/** sa takes the appliance's own RFC 1929 credentials (u / pw); sb takes anyone. */
const CREDS = flowConfig([
  server('sa', 1, { versions: ['5'], credentials: { username: Buffer.from('u'), password: Buffer.from('pw'), passwordFile: '/x' } }),
  server('sb', 2, { versions: ['4', '5'] }),
]);
/** A server that speaks SOCKS4 only: it cannot carry a SOCKS4a name. */
const ONLY4 = flowConfig([server('sa', 1, { versions: ['4'] })]);

interface Out { to: string; ip: Ipv4View; tcp: TcpRepr; sack: number[]; payload: Buffer; own: boolean }

/** A datagram the dispatcher sent to `to` ('client' or a server's name), decoded, both checksums verified by the library. */
function decoded(b: Buffer, to: string, own: boolean): Out {
  const v = new Ipv4View().wrap(b, 0, b.length);
  expect(v.check(), 'IP header checksum').to.equal(0);
  const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
  expect(t.checksumValid(v.src, v.dst), 'TCP checksum').to.equal(true);
  const o = new TcpOptions();
  const tcp = parseTcp(t, o);
  const sack: number[] = [];
  for (let k = 0; k < o.sackBlocks * 2; k++) sack.push(b.readUInt32BE(o.sackOffset + 4 * k));
  return { to, ip: v, tcp, sack, payload: b.subarray(t.payloadOffset), own };
}

// ------------------------------------------------------------------ segments in and out

const dotted = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
const FLAG_NAMES: [number, string][] = [[SYN, 'SYN'], [RST, 'RST'], [ACK, 'ACK'], [PSH, 'PSH'], [FIN, 'FIN']];
const flagNames = (f: number) => FLAG_NAMES.filter(([bit]) => f & bit).map(([, n]) => n).join('|');
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const text = (s: string) => Buffer.from(s, 'latin1');
const u32 = (n: number) => n >>> 0;

/** A segment the appliance sent, as plain fields: what the golden expectations compare, whole. */
interface Seg {
  to: string; src: string; dst: string; seq: number; ack: number; flags: string; win: number; data: string;
  own?: boolean; mss?: number; wscale?: number; sackOk?: true; sack?: number[];
}
function view(o: Out): Seg {
  const s: Seg = {
    to: o.to, src: `${dotted(o.ip.src)}:${o.tcp.srcPort}`, dst: `${dotted(o.ip.dst)}:${o.tcp.dstPort}`,
    seq: o.tcp.seq, ack: o.tcp.ack, flags: flagNames(o.tcp.flags), win: o.tcp.window, data: o.payload.toString('hex'),
  };
  if (o.to !== 'client') s.own = o.own;
  if (o.tcp.mss >= 0) s.mss = o.tcp.mss;
  if (o.tcp.wscale >= 0) s.wscale = o.tcp.wscale;
  if (o.tcp.sackPermitted) s.sackOk = true;
  if (o.sack.length) s.sack = o.sack;
  return s;
}

/** Expected: a segment to the client, from the VIP's SOCKS port. Our window there is 65535 >> 7 = 511 unless given. */
function toClient(seq: number, ack: number, flags: string, data = '', win = 511, extra: Partial<Seg> = {}): Seg {
  return { to: 'client', src: '198.18.0.100:1080', dst: `198.18.0.2:${CPORT}`, seq: u32(seq), ack: u32(ack), flags, win, data, ...extra };
}

/** Expected: a segment to server `srv` from the appliance's address on its segment and the allocated port. */
function toServer(srv: ServerRecord, port: number, seq: number, ack: number, flags: string, data = '', win = 511, own = true, extra: Partial<Seg> = {}): Seg {
  return { to: srv.name, src: `${dotted(srv.local.address)}:${port}`, dst: `${dotted(srv.address)}:${srv.port}`, seq: u32(seq), ack: u32(ack), flags, win, data, own, ...extra };
}

/** SACK option bytes (RFC 2018, kind 5) with a NOP pair in front, for the left and right edges given. */
function sackOption(edges: number[]): number[] {
  const out = [0x01, 0x01, 0x05, 2 + edges.length * 4];
  for (const e of edges.map(u32)) out.push(e >>> 24, (e >>> 16) & 255, (e >>> 8) & 255, e & 255);
  return out;
}

function setup(cfg: Config) {
  const cap = new Capture((b, to, own) => decoded(b, to === 'client' ? to : cfg.servers[to].name, own));
  const d = new Dispatcher(cap, cap, buildStages(cfg, new AlpRegistry()), cfg.servers, 1460);
  d.tick(1);
  const feeder = new Feeder(d, cap);
  const free = cap.pool.available;
  /** Every slot is back in the pool after each step: nothing leaked, nothing given twice. */
  const settled = (out: Out[]) => {
    expect(cap.pool.available, 'pool slots after the step').to.equal(free);
    return out;
  };
  const feed = (from: Dest, b: Buffer) => settled(feeder.feed(from, b));
  const fix = (t: Partial<TcpRepr>) => ({ ...t, seq: u32(t.seq ?? 0), ack: u32(t.ack ?? 0) });
  return {
    cap, d,
    /** What the dispatcher sent outside a segment or a tick (an operator's command). */
    take: () => settled(cap.take()),
    /** A segment from the client (198.18.0.2:40000 -> VIP:1080, window 502). */
    client: (t: Partial<TcpRepr>, payload?: Buffer, opts?: number[]) =>
      feed('client', segment(CLIENT, VIP, tcpRepr({ srcPort: CPORT, dstPort: 1080, window: 502, ...fix(t) }), payload, opts)),
    /** A segment from server `i` to the appliance's port `port` on its leg (window 500). */
    server: (i: number, port: number, t: Partial<TcpRepr>, payload?: Buffer, opts?: number[]) => {
      const s = cfg.servers[i];
      return feed(i, segment(s.address, s.local.address, tcpRepr({ srcPort: s.port, dstPort: port, window: 500, ...fix(t) }), payload, opts));
    },
    /** The clock: runs the timers at `now` (seconds) and returns what they sent. */
    tick: (now: number) => {
      d.tick(now);
      return settled(cap.take());
    },
    conn: () => d.table.lookupClient(CLIENT, CPORT),
  };
}
type Harness = ReturnType<typeof setup>;

const views = (out: Out[]) => out.map(view);

// ------------------------------------------------------------------ requests

const NAME = 'web.socksalp.test'; // 17 bytes
/** SOCKS4a CONNECT web.socksalp.test:80 as curl sends it: DSTIP 0.0.0.1, empty USERID (27 bytes). */
const REQ_4A = Buffer.concat([hex('04 01 0050 00000001 00'), text(NAME), hex('00')]);
/** The same with USERID "alice" (32 bytes). */
const REQ_4A_USER = Buffer.concat([hex('04 01 0050 00000001'), text('alice'), hex('00'), text(NAME), hex('00')]);
/** SOCKS4 CONNECT 203.0.113.80:80, empty USERID (9 bytes). */
const REQ_4 = hex('04 01 0050 cb007150 00');
/** What a SOCKS5 server is sent for REQ_4A / REQ_4A_USER: CONNECT ATYP 3 with the name (RFC 1928 4), 24 bytes. */
const CONNECT_NAME = Buffer.concat([hex('05 01 00 03 11'), text(NAME), hex('0050')]).toString('hex');
/** A SOCKS5 server's success reply: BND.ADDR 203.0.113.80, BND.PORT 8080 (RFC 1928 6). */
const REPLY5 = hex('05 00 00 01 cb007150 1f90');
/** The same, translated for a SOCKS4 client: VN 0, CD 90 (granted), DSTPORT, DSTIP. */
const REPLY4 = '005a1f90cb007150';

/** The client's SYN (MSS 1460, wscale 7, SACK-permitted) and its ACK: returns the appliance's ISN. */
function open(t: Harness): number {
  const isn = t.client({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true })[0].tcp.seq;
  expect(t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK }), 'the bare ACK: nothing to answer').to.deep.equal([]);
  return isn;
}

/** Sends `request`; returns the server leg's port (from the SYN the appliance sends). */
function request(t: Harness, isn: number, req: Buffer): number {
  const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, req);
  const syn = out.find((o) => o.to !== 'client');
  expect(syn, 'a SYN to a server').to.not.equal(undefined);
  return syn!.tcp.srcPort;
}

/**
 * A request through a SOCKS5 leg up to the splice: SYN-ACK (at t = 1), the greeting, the
 * server's 05 00, then the CONNECT. Returns the appliance's ISN and the server leg's port; the
 * server's reply starts at S_ISN + 3.
 */
function spliceVia5(t: Harness, req: Buffer) {
  const isn = open(t);
  const port = request(t, isn, req);
  t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
  t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
  expect(t.conn()!.state).to.equal(ConnState.Spliced);
  return { isn, port };
}

// ================================================================== dialect translation on the wire

describe('flow/transitions: a SOCKS4a client carried by a SOCKS5-only server', function () {
  const sa = ONLY5.servers[0];

  it('greeting replayed, 0500 swallowed, CONNECT ATYP 3, reply translated to 00 5a, data shifted both ways (curl-like request: upShift 0)', function () {
    const t = setup(ONLY5);
    // Step 705: the SYN-ACK (MSS fitted, wscale 7, SACK as offered), then the ACK.
    const syn = t.client({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true });
    const isn = syn[0].tcp.seq;
    expect(views(syn)).to.deep.equal([toClient(isn, C_ISN + 1, 'SYN|ACK', '', 65535, { mss: 1460, wscale: 7, sackOk: true })]);
    expect(t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK })).to.deep.equal([]);

    // Steps 706-710: the SOCKS4a request is acknowledged; Server ALP Selection finds sa (it
    // speaks 5, which carries a name); the SYN starts at the client's ISN.
    let out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4A);
    const port = out[1].tcp.srcPort;
    expect(views(out)).to.deep.equal([
      toClient(isn + 1, C_ISN + 1 + 27, 'ACK'),
      toServer(sa, port, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true }),
    ]);
    const c = t.conn()!;
    expect([c.state, c.destination]).to.deep.equal([ConnState.Connecting, `${NAME}:80`]);

    // The SYN-ACK: the SOCKS5 greeting, offering no-auth only, at the leg's first byte.
    out = t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'ACK|PSH', '050100')]);
    expect(c.state).to.equal(ConnState.Replaying);

    // The server's 05 00 is swallowed (the SOCKS4a client never asked); the CONNECT follows
    // the greeting's 3 bytes, with the name as ATYP 3. The splice begins.
    out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', CONNECT_NAME)]);
    expect(c.state).to.equal(ConnState.Spliced);
    // 3 + 24 bytes composed for the 27 the client sent: nothing to shift.
    expect(c.upShift).to.equal(0);

    // The SOCKS5 reply becomes the SOCKS4 reply, at the client's sequence number, with the server's window.
    out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4, 500)]);
    expect(t.d.stats.translated).to.equal(1);
    // delta: our next (isn + 9) less the server's (after 3 + 10 bytes).
    expect(c.delta).to.equal((isn + 9 - (S_ISN + 13)) | 0);

    // Step 711: the client's bytes after its request go to the server, seq + upShift, ack - delta.
    out = t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK | PSH }, text('GET /'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 13, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
    expect(c.hs, 'both ends have all the appliance sent in the other\'s stead').to.equal(null);

    // The server's bytes after its reply: seq + delta, ack - upShift.
    out = t.server(0, port, { seq: S_ISN + 13, ack: C_ISN + 33, flags: ACK | PSH }, text('HTTP/1.0 200 OK\r\n'));
    expect(views(out)).to.deep.equal([toClient(isn + 9, C_ISN + 33, 'ACK|PSH', text('HTTP/1.0 200 OK\r\n').toString('hex'), 500)]);

    // SACK (RFC 2018) edges move as the ack does: the client's by -delta, the server's by -upShift.
    out = t.client({ seq: C_ISN + 33, ack: isn + 26, flags: ACK }, undefined, sackOption([isn + 100, isn + 200]));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 33, S_ISN + 30, 'ACK', '', 502, false, { sack: [u32(S_ISN + 104), u32(S_ISN + 204)] })]);
    out = t.server(0, port, { seq: S_ISN + 30, ack: C_ISN + 33, flags: ACK }, undefined, sackOption([C_ISN + 100, C_ISN + 200]));
    expect(views(out)).to.deep.equal([toClient(isn + 26, C_ISN + 33, 'ACK', '', 500, { sack: [C_ISN + 100, C_ISN + 200] })]);
  });

  // The client's later bytes shift by what the server leg sent before them less what the client sent:
  // 3 + 24 for 32 with a USERID (-5), 3 + 10 for a 9-byte SOCKS4 request (+4).
  for (const [label, req, connect, upShift] of [
    ['SOCKS4a with USERID "alice"', REQ_4A_USER, CONNECT_NAME, -5],
    ['SOCKS4 with an address', REQ_4, '05010001cb0071500050', 4],
  ] as [string, Buffer, string, number][]) {
    it(`${label}: CONNECT after the greeting, then seq + ${upShift} to the server, ack and SACK - ${upShift} back`, function () {
      const t = setup(ONLY5);
      const isn = open(t);
      const port = request(t, isn, req);
      const reqEnd = C_ISN + 1 + req.length; // the client's first byte after its request
      const legEnd = C_ISN + 1 + 3 + connect.length / 2; // the server leg's
      expect(legEnd - reqEnd).to.equal(upShift);
      t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
      let out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
      expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', connect)]);
      out = t.server(0, port, { seq: S_ISN + 3, ack: legEnd, flags: ACK | PSH }, REPLY5);
      expect(views(out)).to.deep.equal([toClient(isn + 1, reqEnd, 'ACK|PSH', REPLY4, 500)]);
      const c = t.conn()!;
      expect(c.upShift).to.equal(upShift);

      out = t.client({ seq: reqEnd, ack: isn + 9, flags: ACK | PSH }, text('GET /'));
      expect(views(out)).to.deep.equal([toServer(sa, port, legEnd, S_ISN + 13, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
      expect(c.hs).to.equal(null);
      // The fast path: the server acknowledges the 5 bytes in its own numbering, SACKs a later range.
      out = t.server(0, port, { seq: S_ISN + 13, ack: legEnd + 5, flags: ACK | PSH }, text('HTTP'), sackOption([legEnd + 50, legEnd + 60]));
      expect(views(out)).to.deep.equal([toClient(isn + 9, reqEnd + 5, 'ACK|PSH', text('HTTP').toString('hex'), 500, { sack: [reqEnd + 50, reqEnd + 60] })]);
      out = t.client({ seq: reqEnd + 5, ack: isn + 13, flags: ACK | PSH }, text(' HTTP/1.0'));
      expect(views(out)).to.deep.equal([toServer(sa, port, legEnd + 5, S_ISN + 17, 'ACK|PSH', text(' HTTP/1.0').toString('hex'), 502, false)]);
    });
  }

  it('RFC 9293 3.10.7.4: the client\'s retransmitted request after the splice is answered (ACK, then the reply again), not forwarded', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    // Before the server's reply: nothing of ours is outstanding; the client gets its ACK again.
    let out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4A);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK')]);
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    // After it (the client shows it missed the reply): the translated reply again.
    out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4A);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4)]);
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
  });

  it('the server\'s retransmitted reply is answered by resending the translated reply to the client, not forwarded', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    const reply = { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH };
    expect(views(t.server(0, port, reply, REPLY5))).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4, 500)]);
    expect(views(t.server(0, port, reply, REPLY5))).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4)]);
    expect(t.d.stats.translated, 'translated once').to.equal(1);
    // The client's ACK of it goes on to the server as the ACK of the server's reply.
    const out = t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 13, 'ACK', '', 502, false)]);
  });

  it('a SOCKS5 failure (05 05: connection refused) with FIN gives the SOCKS4a client 00 5b and the FIN; both FINs close', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    let out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH | FIN }, hex('05 05 00 01 00000000 0000'));
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH|FIN', '005b000000000000', 500)]);
    // The client's FIN, acknowledging ours: the server's FIN (its seq S+13) is acknowledged as S+14.
    out = t.client({ seq: C_ISN + 28, ack: isn + 10, flags: ACK | FIN });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 14, 'ACK|FIN', '', 502, false)]);
    expect(t.conn()!.state).to.equal(ConnState.Closed);
    // Closed x Server: the server's last ACK still passes during the linger, rewritten.
    out = t.server(0, port, { seq: S_ISN + 14, ack: C_ISN + 29, flags: ACK });
    expect(views(out)).to.deep.equal([toClient(isn + 10, C_ISN + 29, 'ACK', '', 500)]);
    // Closed x Client: so does a retransmitted FIN of the client.
    out = t.client({ seq: C_ISN + 28, ack: isn + 10, flags: ACK | FIN });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 14, 'ACK|FIN', '', 502, false)]);
    // Closed x Timer: step 714's linger (2 s), then the entry goes.
    expect(t.tick(2.9)).to.deep.equal([]);
    expect(t.conn()).to.not.equal(undefined);
    expect(t.tick(3)).to.deep.equal([]);
    expect(t.conn()).to.equal(undefined);
  });

  it('the server\'s reply in two segments (ATYP 3, 4 + 1 + 3 + 2 bytes) is acknowledged, assembled, then translated', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    let out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, hex('05 00 00 03 03'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 8, 'ACK')]);
    out = t.server(0, port, { seq: S_ISN + 8, ack: C_ISN + 28, flags: ACK | PSH }, hex('616263 1f90'));
    // A name as BND.ADDR: SOCKS4 has no place for it, so 0.0.0.0 with the port.
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', '005a1f9000000000', 500)]);
    expect(t.conn()!.delta).to.equal((isn + 9 - (S_ISN + 13)) | 0);
  });

  it('bytes after the reply in the same segment (a banner) follow the translated reply at once', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    const banner = text('220 ready\r\n');
    const out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, Buffer.concat([REPLY5, banner]));
    expect(views(out)).to.deep.equal([
      toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4, 500),
      toClient(isn + 9, C_ISN + 28, 'ACK|PSH', banner.toString('hex'), 500),
    ]);
    const ack = t.client({ seq: C_ISN + 28, ack: isn + 9 + banner.length, flags: ACK });
    expect(views(ack)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 13 + banner.length, 'ACK', '', 502, false)]);
  });

  // The reply the appliance sends acknowledges what the server has of the client's early bytes.
  it('the translated reply acknowledges what the server acknowledged of the client\'s optimistic data', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    const get = t.client({ seq: C_ISN + 28, ack: isn + 1, flags: ACK | PSH }, text('GET /'));
    expect(views(get)).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 3, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
    const out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 33, flags: ACK | PSH }, REPLY5);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 33, 'ACK|PSH', REPLY4, 500)]);
  });

  // Batching (issue 15): the client already has the ACK of its request from the appliance.
  it('before the reply, the server\'s bare ACK of all it was sent is taken when the client has had that ACK; one that acknowledges forwarded early bytes passes', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK })), 'the ACK of the CONNECT').to.deep.equal([]);
    t.client({ seq: C_ISN + 28, ack: isn + 1, flags: ACK | PSH }, text('GET /'));
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 30, flags: ACK })), 'part of the early bytes: news to the client').to.deep.equal([toClient(isn + 1, C_ISN + 30, 'ACK', '', 500)]);
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 30, flags: ACK })), 'a duplicate ACK while bytes are outstanding').to.deep.equal([toClient(isn + 1, C_ISN + 30, 'ACK', '', 500)]);
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 33, flags: ACK })), 'the rest of them').to.deep.equal([toClient(isn + 1, C_ISN + 33, 'ACK', '', 500)]);
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 33, flags: ACK, window: 400 })), 'nothing new: only a window').to.deep.equal([]);
    const out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 33, flags: ACK | PSH }, REPLY5);
    expect(views(out), 'the reply carries the ACK and the window').to.deep.equal([toClient(isn + 1, C_ISN + 33, 'ACK|PSH', REPLY4, 500)]);
  });

  it('no server speaks a dialect that carries a name (SOCKS4 only): 00 5b at once, then the Refused linger', function () {
    const t = setup(ONLY4);
    const isn = open(t);
    const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4A);
    expect(views(out)).to.deep.equal([
      toClient(isn + 1, C_ISN + 28, 'ACK'),
      toClient(isn + 1, C_ISN + 28, 'ACK|PSH|FIN', '005b000000000000'),
    ]);
    expect(t.conn()!.state).to.equal(ConnState.Refused);
    // Refused x ClientFin: the client's FIN after ours is acknowledged (RFC 9293 3.10.7.4, eighth).
    expect(views(t.client({ seq: C_ISN + 28, ack: isn + 10, flags: ACK | FIN }))).to.deep.equal([toClient(isn + 10, C_ISN + 29, 'ACK')]);
    // Refused x Timer: the linger (twice LINGER) removes the entry.
    expect(t.tick(4.9)).to.deep.equal([]);
    expect(t.conn()!.state).to.equal(ConnState.Refused);
    expect(t.tick(5)).to.deep.equal([]);
    expect(t.conn()).to.equal(undefined);
  });
});

describe('flow/transitions: RFC 1929 credentials of the appliance\'s own toward the server', function () {
  const [sa, sb] = CREDS.servers;

  it('greeting 05 01 02; after 05 02 the sub-negotiation 01 01 "u" 02 "pw"; after 01 00 the CONNECT; data shifted by 6', function () {
    const t = setup(CREDS);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    let out = t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'ACK|PSH', '050102')]);
    out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0502'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', '01 01 75 02 7077'.replace(/ /g, ''))]);
    out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 10, flags: ACK | PSH }, hex('0100'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 10, S_ISN + 5, 'ACK|PSH', CONNECT_NAME)]);
    const c = t.conn()!;
    expect([c.state, c.upShift]).to.deep.equal([ConnState.Spliced, 3 + 6 + 24 - 27]);
    out = t.server(0, port, { seq: S_ISN + 5, ack: C_ISN + 34, flags: ACK | PSH }, REPLY5);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4, 500)]);
    out = t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK | PSH }, text('GET /'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 34, S_ISN + 15, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
    out = t.server(0, port, { seq: S_ISN + 15, ack: C_ISN + 39, flags: ACK | PSH }, text('HTTP'));
    expect(views(out)).to.deep.equal([toClient(isn + 9, C_ISN + 33, 'ACK|PSH', text('HTTP').toString('hex'), 500)]);
    expect(t.cap.failures).to.deep.equal([]);
  });

  it('01 01 (refused): the leg is reset, the failure recorded without the password, the next server gets a SYN; the client never sees it', function () {
    const t = setup(CREDS);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0502'));
    let out = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 10, flags: ACK | PSH }, hex('0101'));
    const port2 = out[1]?.tcp.srcPort;
    expect(views(out)).to.deep.equal([
      toServer(sa, port, C_ISN + 10, S_ISN + 5, 'RST|ACK', '', 0),
      toServer(sb, port2, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true }),
    ]);
    expect(t.cap.failures).to.deep.equal(['0: refused the appliance\'s username and password']);
    for (const f of t.cap.failures) {
      expect(f).to.not.include('pw');
      expect(f).to.not.include('7077');
    }
    expect([t.d.stats.credentialsRefused, t.d.stats.retried]).to.deep.equal([1, 1]);
    expect(t.d.table.lookupServer(0, port), 'sa\'s port given back').to.equal(undefined);
    // sb takes no credentials: the greeting offers no-auth; the rest as usual.
    out = t.server(1, port2, { seq: 0x9000, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(out)).to.deep.equal([toServer(sb, port2, C_ISN + 1, 0x9001, 'ACK|PSH', '050100')]);
    out = t.server(1, port2, { seq: 0x9001, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
    expect(views(out)).to.deep.equal([toServer(sb, port2, C_ISN + 4, 0x9003, 'ACK|PSH', CONNECT_NAME)]);
    out = t.server(1, port2, { seq: 0x9003, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH', REPLY4, 500)]);
  });
});

describe('flow/transitions: SOCKS5 clients in other dialects and with their own credentials', function () {
  it('a SOCKS5 client (ATYP 1) through a SOCKS4-only server: 04 01 port ip 00 at once, the 8-byte reply as 05 00 00 01 ip port, upShift -4', function () {
    const t = setup(ONLY4);
    const sa = ONLY4.servers[0];
    const isn = open(t);
    expect(views(t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050100')))).to.deep.equal([toClient(isn + 1, C_ISN + 4, 'ACK|PSH', '0500')]);
    let out = t.client({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, hex('05010001cb0071500050'));
    const port = out[1].tcp.srcPort;
    expect(views(out)).to.deep.equal([
      toClient(isn + 3, C_ISN + 14, 'ACK'),
      toServer(sa, port, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true }),
    ]);
    // No greeting in SOCKS4: the request is the whole replay, and the splice.
    out = t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'ACK|PSH', '04010050cb00715000')]);
    const c = t.conn()!;
    expect([c.state, c.upShift]).to.deep.equal([ConnState.Spliced, 9 - 13]);
    out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 10, flags: ACK | PSH }, hex(REPLY4));
    expect(views(out)).to.deep.equal([toClient(isn + 3, C_ISN + 14, 'ACK|PSH', '05000001cb0071501f90', 500)]);
    expect(t.d.stats.translated).to.equal(1);
    out = t.client({ seq: C_ISN + 14, ack: isn + 13, flags: ACK | PSH }, text('GET /'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 10, S_ISN + 9, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
    out = t.server(0, port, { seq: S_ISN + 9, ack: C_ISN + 15, flags: ACK | PSH }, text('HTTP'));
    expect(views(out)).to.deep.equal([toClient(isn + 13, C_ISN + 19, 'ACK|PSH', text('HTTP').toString('hex'), 500)]);
  });

  it('a SOCKS4 refusal (00 5b) reaches a SOCKS5 client as 05 01 (general failure)', function () {
    const t = setup(ONLY4);
    const isn = open(t);
    t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050100'));
    const port = t.client({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, hex('05010001cb0071500050'))[1].tcp.srcPort;
    // This server does not scale its window: 500 bytes are 3 in the client leg's scale of 7.
    t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460 });
    const out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 10, flags: ACK | PSH | FIN }, hex('005b000000000000'));
    expect(views(out)).to.deep.equal([toClient(isn + 3, C_ISN + 14, 'ACK|PSH|FIN', '05010001000000000000', 500 >> 7)]);
  });

  it('a SOCKS5 client\'s own username/password toward a server that gets the appliance\'s: the client\'s never sent, upShift -8', function () {
    const t = setup(CREDS);
    const sa = CREDS.servers[0];
    const isn = open(t);
    expect(views(t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050102')))).to.deep.equal([toClient(isn + 1, C_ISN + 4, 'ACK|PSH', '0502')]);
    const auth = Buffer.concat([hex('0105'), text('alice'), hex('06'), text('secret')]);
    // RFC 1929 success, given optimistically.
    expect(views(t.client({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, auth))).to.deep.equal([toClient(isn + 3, C_ISN + 18, 'ACK|PSH', '0100')]);
    const port = t.client({ seq: C_ISN + 18, ack: isn + 5, flags: ACK | PSH }, hex('05010001cb0071500050'))[1].tcp.srcPort;
    const toSa: string[] = [];
    const keep = (out: Out[]) => { for (const o of out) if (o.to === 'sa') toSa.push(o.payload.toString('hex')); return out; };
    keep(t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 }));
    keep(t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0502')));
    keep(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 10, flags: ACK | PSH }, hex('0100')));
    expect(toSa).to.deep.equal(['050102', '010175027077', '05010001cb0071500050']);
    expect(toSa.join('')).to.not.include(text('secret').toString('hex'));
    const c = t.conn()!;
    expect([c.state, c.upShift, c.delta]).to.deep.equal([ConnState.Spliced, 19 - 27, (isn + 5 - (S_ISN + 5)) | 0]);
    // SOCKS5 both ways: the reply as the server sent it.
    let out = t.server(0, port, { seq: S_ISN + 5, ack: C_ISN + 20, flags: ACK | PSH }, REPLY5);
    expect(views(out)).to.deep.equal([toClient(isn + 5, C_ISN + 28, 'ACK|PSH', REPLY5.toString('hex'), 500)]);
    expect(t.d.stats.translated).to.equal(0);
    out = t.client({ seq: C_ISN + 28, ack: isn + 15, flags: ACK | PSH }, text('GET /'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 20, S_ISN + 15, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
  });

  it('a SOCKS5 client with username/password and only a SOCKS4 server: its credentials cannot be carried, 05 04 and the close', function () {
    const t = setup(ONLY4);
    const isn = open(t);
    t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050102'));
    const auth = Buffer.concat([hex('0101'), text('u'), hex('01'), text('p')]);
    t.client({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, auth);
    const out = t.client({ seq: C_ISN + 9, ack: isn + 5, flags: ACK | PSH }, hex('05010001cb0071500050'));
    expect(views(out)).to.deep.equal([
      toClient(isn + 5, C_ISN + 19, 'ACK'),
      toClient(isn + 5, C_ISN + 19, 'ACK|PSH|FIN', '05040001000000000000'),
    ]);
    expect(t.conn()!.state).to.equal(ConnState.Refused);
  });
});

// ================================================================== the transition table, cell by cell

describe('flow/transitions: SYN-RECEIVED', function () {
  it('x ClientSyn: a retransmitted SYN gets the same SYN-ACK (RFC 9293 3.10.7.4)', function () {
    const t = setup(ONLY5);
    const syn = { seq: C_ISN, flags: SYN, mss: 1460, wscale: 7, sackPermitted: true };
    const first = views(t.client(syn));
    const isn = first[0].seq;
    expect(first).to.deep.equal([toClient(isn, C_ISN + 1, 'SYN|ACK', '', 65535, { mss: 1460, wscale: 7, sackOk: true })]);
    expect(views(t.client(syn))).to.deep.equal(first);
    expect([t.d.table.size, t.d.table.halfOpen, t.conn()!.state]).to.deep.equal([1, 1, ConnState.SynReceived]);
  });

  it('x ClientRst: the entry goes, nothing is sent', function () {
    const t = setup(ONLY5);
    t.client({ seq: C_ISN, flags: SYN });
    expect(t.client({ seq: C_ISN + 1, flags: RST })).to.deep.equal([]);
    expect([t.d.table.size, t.d.table.halfOpen, t.d.watching]).to.deep.equal([0, 0, 0]);
  });

  it('x Timer: half_open_timeout (10 s) resets the client and removes the entry', function () {
    const t = setup(ONLY5);
    const isn = t.client({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7 })[0].tcp.seq;
    expect(t.tick(10.99)).to.deep.equal([]);
    expect(views(t.tick(11))).to.deep.equal([toClient(isn + 1, C_ISN + 1, 'RST|ACK')]);
    expect([t.d.table.size, t.d.stats.handshakeTimeouts, t.d.table.stats.expiredHalfOpen]).to.deep.equal([0, 1, 1]);
  });

  it('x ClientFin, retransmitted: the FIN again, for no connection now, gets RFC 9293\'s RST', function () {
    const t = setup(ONLY5);
    const isn = t.client({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7 })[0].tcp.seq;
    t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | FIN });
    const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | FIN });
    expect(views(out)).to.deep.equal([{ ...toClient(isn + 1, C_ISN + 2, 'RST'), win: 0 }]);
    expect(t.conn()).to.equal(undefined);
  });

  // The segment that completes the handshake is handled again in Collecting: a FIN on it counts.
  it('x ClientFin: the FIN that comes with the handshake\'s ACK is answered at once', function () {
    const t = setup(ONLY5);
    const isn = t.client({ seq: C_ISN, flags: SYN, mss: 1460, wscale: 7 })[0].tcp.seq;
    const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | FIN });
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 2, 'RST|ACK')]);
    expect(t.conn()).to.equal(undefined);
  });
});

describe('flow/transitions: Collecting', function () {
  /** SYN, ACK, the SOCKS5 greeting (answered 05 00) and the first two bytes of the request. */
  function partial(t: Harness): number {
    const isn = open(t);
    expect(views(t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, hex('050100')))).to.deep.equal([toClient(isn + 1, C_ISN + 4, 'ACK|PSH', '0500')]);
    expect(views(t.client({ seq: C_ISN + 4, ack: isn + 3, flags: ACK | PSH }, hex('0501')))).to.deep.equal([toClient(isn + 3, C_ISN + 6, 'ACK')]);
    expect(t.conn()!.state).to.equal(ConnState.Collecting);
    return isn;
  }

  it('x ClientFin: the client left before its request: RST (acknowledging the FIN), the entry goes, no server is asked', function () {
    const t = setup(ONLY5);
    const isn = partial(t);
    expect(views(t.client({ seq: C_ISN + 6, ack: isn + 3, flags: ACK | FIN }))).to.deep.equal([toClient(isn + 3, C_ISN + 7, 'RST|ACK')]);
    expect([t.d.table.size, t.d.table.halfOpen, t.d.watching]).to.deep.equal([0, 0, 0]);
  });

  it('x ClientRst: the entry goes, nothing is sent', function () {
    const t = setup(ONLY5);
    partial(t);
    expect(t.client({ seq: C_ISN + 6, flags: RST })).to.deep.equal([]);
    expect([t.d.table.size, t.d.table.halfOpen]).to.deep.equal([0, 0]);
  });

  it('x Timer: half_open_timeout counts from the SYN: RST at our next and the client\'s next', function () {
    const t = setup(ONLY5);
    const isn = partial(t);
    expect(t.tick(10.99)).to.deep.equal([]);
    expect(views(t.tick(11))).to.deep.equal([toClient(isn + 3, C_ISN + 6, 'RST|ACK')]);
    expect(t.d.table.size).to.equal(0);
  });

  it('x Client: bytes that are no SOCKS version get no reply, only our FIN (then Refused)', function () {
    const t = setup(ONLY5);
    const isn = open(t);
    const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, text('GET / HTTP/1.1\r\n'));
    expect(views(out)).to.deep.equal([toClient(isn + 1, C_ISN + 17, 'ACK|PSH|FIN')]);
    expect(t.conn()!.state).to.equal(ConnState.Refused);
  });
});

describe('flow/transitions: Connecting', function () {
  const [sa, sb] = TWO5.servers;

  it('x Client, and Replaying x Client: early data is acknowledged, kept, and replayed after the CONNECT (shifted by upShift)', function () {
    const t = setup(ONLY5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A_USER); // 32 bytes; the server leg's CONNECT ends 5 earlier
    const reqEnd = C_ISN + 33;
    expect(views(t.client({ seq: reqEnd, ack: isn + 1, flags: ACK | PSH }, text('GET ')))).to.deep.equal([toClient(isn + 1, reqEnd + 4, 'ACK')]);
    t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(t.client({ seq: reqEnd + 4, ack: isn + 1, flags: ACK | PSH }, text('/')))).to.deep.equal([toClient(isn + 1, reqEnd + 5, 'ACK')]);
    expect(t.conn()!.state).to.equal(ConnState.Replaying);
    const out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
    expect(views(out)).to.deep.equal([
      toServer(ONLY5.servers[0], port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', CONNECT_NAME),
      toServer(ONLY5.servers[0], port, C_ISN + 28, S_ISN + 3, 'ACK|PSH', text('GET /').toString('hex')),
    ]);
    // The server acknowledges all 32 bytes of its leg with its reply; the client's next byte goes at 1033.
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 33, flags: ACK | PSH }, REPLY5))).to.deep.equal([toClient(isn + 1, reqEnd + 5, 'ACK|PSH', REPLY4, 500)]);
    const next = t.client({ seq: reqEnd + 5, ack: isn + 9, flags: ACK | PSH }, text(' HTTP/1.0'));
    expect(views(next)).to.deep.equal([toServer(ONLY5.servers[0], port, C_ISN + 33, S_ISN + 13, 'ACK|PSH', text(' HTTP/1.0').toString('hex'), 502, false)]);
  });

  it('x ClientFin: the client is reset, no RST to a leg not yet open; the server\'s late SYN-ACK gets RST <SEQ=SEG.ACK>', function () {
    const t = setup(TWO5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    expect(views(t.client({ seq: C_ISN + 28, ack: isn + 1, flags: ACK | FIN }))).to.deep.equal([toClient(isn + 1, C_ISN + 29, 'RST|ACK')]);
    expect([t.d.table.size, t.d.watching]).to.deep.equal([0, 0]);
    // RFC 9293 3.10.7.1: the SYN-ACK is for no connection now.
    const out = t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'RST', '', 0)]);
    expect(t.d.stats.unknownServerSegments).to.equal(1);
  });

  it('x ClientRst: the entry goes silently; the late SYN-ACK gets its RST', function () {
    const t = setup(TWO5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    expect(t.client({ seq: C_ISN + 28, flags: RST })).to.deep.equal([]);
    expect(t.d.table.size).to.equal(0);
    expect(views(t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK }))).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'RST', '', 0)]);
  });

  it('x Server: a RST whose ACK is not our SYN\'s, or without ACK, is ignored (RFC 9293 3.10.7.3)', function () {
    const t = setup(TWO5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    expect(t.server(0, port, { seq: 0, ack: C_ISN + 5, flags: RST | ACK })).to.deep.equal([]);
    expect(t.server(0, port, { seq: 0, flags: RST })).to.deep.equal([]);
    expect(t.conn()!.state).to.equal(ConnState.Connecting);
    expect(t.cap.failures).to.deep.equal([]);
  });

  it('x Server: a SYN-ACK acknowledging something else gets RST <SEQ=SEG.ACK>, and the SYN goes again', function () {
    const t = setup(TWO5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    const out = t.server(0, port, { seq: S_ISN, ack: 999, flags: SYN | ACK, mss: 1460 });
    expect(views(out)).to.deep.equal([
      toServer(sa, port, 999, S_ISN + 1, 'RST', '', 0),
      toServer(sa, port, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true }),
    ]);
    expect(t.conn()!.state).to.equal(ConnState.Connecting);
  });

  it('x Timer: the SYN again after 1 s, then 2 s; after connect_timeout the next server; none left: 00 5b; then the linger', function () {
    const t = setup(TWO5);
    const isn = open(t);
    const port = request(t, isn, REQ_4A); // at t = 1
    const synTo = (srv: ServerRecord, p: number) => toServer(srv, p, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true });
    expect(t.tick(1.99)).to.deep.equal([]);
    expect(views(t.tick(2))).to.deep.equal([synTo(sa, port)]);
    expect(t.tick(3.99)).to.deep.equal([]);
    expect(views(t.tick(4))).to.deep.equal([synTo(sa, port)]);
    // connect_timeout (5 s) has passed by the next deadline: sa is failed, sb gets the SYN.
    const out = t.tick(8);
    const port2 = out[0]?.tcp.srcPort;
    expect(views(out)).to.deep.equal([synTo(sb, port2)]);
    expect(t.cap.failures).to.deep.equal(['0: did not answer within 5 s']);
    expect(views(t.tick(9))).to.deep.equal([synTo(sb, port2)]);
    expect(views(t.tick(11))).to.deep.equal([synTo(sb, port2)]);
    // sb is silent too: no server left, the SOCKS4 client gets "rejected or failed" and our FIN.
    expect(views(t.tick(15))).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'ACK|PSH|FIN', '005b000000000000')]);
    expect(t.cap.failures).to.deep.equal(['0: did not answer within 5 s', '1: did not answer within 5 s']);
    expect(t.conn()!.state).to.equal(ConnState.Refused);
    expect(t.tick(18.99)).to.deep.equal([]);
    expect(t.tick(19)).to.deep.equal([]);
    expect([t.d.table.size, t.d.watching]).to.deep.equal([0, 0]);
  });

  // The SYN timer doubles (RFC 6298) but never past connect_timeout.
  it('x Timer: the next server is tried once connect_timeout has passed', function () {
    const t = setup(TWO5);
    const isn = open(t);
    request(t, isn, REQ_4A); // at t = 1
    t.tick(2);
    t.tick(4);
    const out = t.tick(6); // 5 s after the first SYN
    expect(out.map((o) => [o.to, flagNames(o.tcp.flags)])).to.deep.equal([['sb', 'SYN']]);
    expect(t.cap.failures).to.deep.equal(['0: did not answer within 5 s']);
  });
});

describe('flow/transitions: Replaying', function () {
  const [sa, sb] = TWO5.servers;

  /** Up to the greeting replayed to sa (SYN-ACK at t = 1). */
  function replaying(t: Harness) {
    const isn = open(t);
    const port = request(t, isn, REQ_4A);
    expect(views(t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 }))).to.deep.equal([toServer(sa, port, C_ISN + 1, S_ISN + 1, 'ACK|PSH', '050100')]);
    expect(t.conn()!.state).to.equal(ConnState.Replaying);
    return { isn, port };
  }

  it('x ClientFin: both legs are reset (the server\'s at what was replayed), the entry goes', function () {
    const t = setup(TWO5);
    const { isn, port } = replaying(t);
    expect(views(t.client({ seq: C_ISN + 28, ack: isn + 1, flags: ACK | FIN }))).to.deep.equal([
      toServer(sa, port, C_ISN + 4, S_ISN + 1, 'RST|ACK', '', 0),
      toClient(isn + 1, C_ISN + 29, 'RST|ACK'),
    ]);
    expect([t.d.table.size, t.d.watching, t.d.stats.resetsSent]).to.deep.equal([0, 0, 1]);
    expect(t.d.table.lookupServer(0, port)).to.equal(undefined);
  });

  it('x ClientRst: the server\'s leg is reset, the entry goes', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    expect(views(t.client({ seq: C_ISN + 28, flags: RST }))).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 1, 'RST|ACK', '', 0)]);
    expect(t.d.table.size).to.equal(0);
  });

  it('x Server: its SYN-ACK again (our ACK was lost) gets an ACK', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    expect(views(t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 }))).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 1, 'ACK')]);
  });

  it('x Server: a method other than the one offered (05 ff): reset, failed, the next server gets the SYN', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    const out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('05ff'));
    expect(views(out)).to.deep.equal([
      toServer(sa, port, C_ISN + 4, S_ISN + 3, 'RST|ACK', '', 0),
      toServer(sb, out[1]?.tcp.srcPort, C_ISN, 0, 'SYN', '', 65535, true, { mss: 1460, wscale: 7, sackOk: true }),
    ]);
    expect(t.cap.failures).to.deep.equal(['0: answered the SOCKS5 greeting with method 255, not 0']);
    expect(t.conn()!.state).to.equal(ConnState.Connecting);
  });

  it('x Server: a RST during the SOCKS handshake fails the server over (the leg is gone: no RST back)', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    const out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: RST | ACK });
    expect(out.map((o) => [o.to, flagNames(o.tcp.flags)])).to.deep.equal([['sb', 'SYN']]);
    expect(t.cap.failures).to.deep.equal(['0: reset the connection during the SOCKS handshake']);
  });

  it('x Timer: the greeting again after REPLAY_RTO (0.3 s), doubling; after 6 retransmissions the leg is reset and the next server tried', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    const greeting = toServer(sa, port, C_ISN + 1, S_ISN + 1, 'ACK|PSH', '050100');
    let at = 1;
    for (const gap of [0.3, 0.6, 1.2, 2.4, 4.8, 9.6, 19.2]) {
      expect(t.tick(at + gap - 0.01), `nothing before ${at + gap}`).to.deep.equal([]);
      at += gap + 0.001;
      if (gap < 19) expect(views(t.tick(at)), `the greeting again at ${at}`).to.deep.equal([greeting]);
    }
    const last = t.tick(at);
    expect(views(last.slice(0, 1))).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 1, 'RST|ACK', '', 0)]);
    expect(last.slice(1).map((o) => [o.to, o.tcp.flags]), 'the next server\'s SYN, nothing to the client').to.deep.equal([['sb', SYN]]);
    expect([t.d.stats.replayGaveUp, t.d.table.size]).to.deep.equal([1, 1]);
  });

  // Nothing of the server has reached the client yet: the next server, not a reset (README step 4).
  it('x Timer: when the replay is never acknowledged, the next server is tried', function () {
    const t = setup(TWO5);
    replaying(t);
    const out: Out[] = [];
    for (let now = 1.5; now <= 60 && !out.some((o) => o.to === 'sb'); now += 0.5) out.push(...t.tick(now));
    expect(views(out.filter((o) => o.to === 'client')), 'nothing to the client').to.deep.equal([]);
    expect(t.cap.failures.length, 'sa failed').to.equal(1);
    expect(out.some((o) => o.to === 'sb' && o.tcp.flags === SYN), 'a SYN to sb').to.equal(true);
  });

  it('x Timer: once the server acknowledges the greeting, it is not sent again', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    expect(t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK })).to.deep.equal([]);
    expect(t.tick(1.5)).to.deep.equal([]);
    expect(t.tick(3)).to.deep.equal([]);
  });

  // An answer to the greeting is awaited for connect_timeout, like the SYN-ACK.
  it('x Timer: a server that acknowledges the greeting and never answers is failed over after connect_timeout', function () {
    const t = setup(TWO5);
    const { port } = replaying(t);
    t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK });
    const out: Out[] = [];
    for (let now = 2; now <= 60 && !out.some((o) => o.to === 'sb'); now++) out.push(...t.tick(now));
    expect(views(out.filter((o) => o.to === 'client')), 'nothing to the client').to.deep.equal([]);
    expect(t.cap.failures.length, 'sa failed').to.equal(1);
    expect(out.some((o) => o.to === 'sb' && o.tcp.flags === SYN), 'a SYN to sb').to.equal(true);
  });
});

describe('flow/transitions: Spliced, with the handshake state still kept', function () {
  const sa = ONLY5.servers[0];

  it('x Timer: the CONNECT not acknowledged is sent again from what the server acknowledged (the greeting)', function () {
    const t = setup(ONLY5);
    const { port } = spliceVia5(t, REQ_4A);
    expect(t.tick(1.29)).to.deep.equal([]);
    expect(views(t.tick(1.31))).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', CONNECT_NAME)]);
    // Acknowledged with the reply: the timer stops.
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    expect(t.tick(5)).to.deep.equal([]);
  });

  // client-leg.ts `noteAck` (fixed in 4cabae6): an ACK covering the translated reply *and* server
  // bytes after it (the banner, or a delayed ACK of the reply and the next segment) used to be
  // ignored, so the handshake state was never dropped and the connection stayed off the fast path.
  it('an ACK of the reply and of the bytes after it settles the handshake: the fast path from then on', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    const banner = text('220 ready\r\n');
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, Buffer.concat([REPLY5, banner]));
    t.client({ seq: C_ISN + 28, ack: isn + 9 + banner.length, flags: ACK });
    expect(t.conn()!.hs, 'the handshake state dropped').to.equal(null);
    // The banner forwarded with the reply counts: the server's stream stands after it.
    expect(t.conn()!.downNext).to.equal(S_ISN + 13 + banner.length);
    expect(t.d.watching).to.equal(0);
  });

  it('x ClientRst: forwarded to the server (seq + upShift), the entry Closed; the linger removes it', function () {
    const t = setup(ONLY5);
    const { port } = spliceVia5(t, REQ_4A_USER);
    expect(views(t.client({ seq: C_ISN + 33, flags: RST, window: 0 }))).to.deep.equal([toServer(sa, port, C_ISN + 28, 0, 'RST', '', 0, false)]);
    expect(t.conn()!.state).to.equal(ConnState.Closed);
    expect(t.tick(2.99)).to.deep.equal([]);
    expect(t.conn()).to.not.equal(undefined);
    t.tick(3);
    expect([t.d.table.size, t.d.watching]).to.deep.equal([0, 0]);
  });

  it('x Server: a RST before the reply goes to the client in its sequence space', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    expect(views(t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: RST | ACK, window: 0 }))).to.deep.equal([toClient(isn + 1, C_ISN + 28, 'RST|ACK', '', 0)]);
    expect(t.conn()!.state).to.equal(ConnState.Closed);
  });
});

// ================================================================== the diverted-address table

describe('flow/transitions: a diverted destination (network-management patent, figure 3, for SOCKS)', function () {
  const sa = ONLY5.servers[0];
  /** SOCKS4 CONNECT 203.0.113.80:8080, empty USERID (9 bytes). */
  const REQ_4_8080 = hex('04 01 1f90 cb007150 00');

  it('a SOCKS4 request for 203.0.113.80:8080 diverted to 203.0.113.81: the server is asked for .81:8080; the client sees its own reply', function () {
    const t = setup(ONLY5);
    expect(t.d.diversions.add('203.0.113.80:8080', '203.0.113.81').ok).to.equal(true);
    const isn = open(t);
    const port = request(t, isn, REQ_4_8080);
    t.server(0, port, { seq: S_ISN, ack: C_ISN + 1, flags: SYN | ACK, mss: 1460, wscale: 7 });
    // The greeting (3 bytes), then after 05 00 the CONNECT naming the diverted address, port kept.
    const out = t.server(0, port, { seq: S_ISN + 1, ack: C_ISN + 4, flags: ACK | PSH }, hex('0500'));
    expect(views(out)).to.deep.equal([toServer(sa, port, C_ISN + 4, S_ISN + 3, 'ACK|PSH', '05010001cb0071511f90')]);
    expect(out[0].payload.toString('hex')).to.equal('05010001cb0071511f90');
    expect(t.conn()!.diverted).to.equal('203.0.113.81:8080');
    // The client's request is 9 bytes, what the server got 3 + 10: upShift 4.
    expect(t.conn()!.upShift).to.equal(4);
    const reply = t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 14, flags: ACK | PSH }, REPLY5);
    expect(views(reply)).to.deep.equal([toClient(isn + 1, C_ISN + 10, 'ACK|PSH', REPLY4, 500)]);
    // Client bytes after the request reach the server shifted by upShift.
    const data = t.client({ seq: C_ISN + 10, ack: isn + 9, flags: ACK | PSH }, text('GET /'));
    expect(data[0].tcp.seq).to.equal(C_ISN + 14);
    expect(t.d.stats.diverted).to.equal(1);
  });

  it('a name diverted to an address, an address to a name: the leg speaks what fits (SOCKS4 to a name needs 4a or 5)', function () {
    const t = setup(ONLY4);
    expect(t.d.diversions.add('203.0.113.80', 'mirror.socksalp.test').ok).to.equal(true);
    const isn = open(t);
    // A SOCKS4 client whose only server speaks SOCKS4: the diverted name cannot be carried.
    const out = t.client({ seq: C_ISN + 1, ack: isn + 1, flags: ACK | PSH }, REQ_4);
    expect(out.map((o) => [o.to, o.payload.toString('hex')]), 'the ACK of the request, then the refusal').to.deep.equal([['client', ''], ['client', '005b000000000000']]);
    const t5 = setup(ONLY5);
    expect(t5.d.diversions.add(NAME, '203.0.113.81').ok).to.equal(true);
    const port = spliceVia5(t5, REQ_4A).port;
    expect(port).to.be.greaterThan(0);
    expect(t5.conn()!.diverted).to.equal('203.0.113.81:80');
  });

  it('a connection established before an entry is added keeps its destination (drain)', function () {
    const t = setup(ONLY5);
    const { port } = spliceVia5(t, REQ_4A);
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    t.d.diversions.add(NAME, '203.0.113.81');
    expect(t.conn()!.diverted).to.equal('');
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
  });
});

// ================================================================== RFC 5961 on both legs

describe('flow/transitions: RFC 5961 on a spliced connection (blind resets and SYNs)', function () {
  const sa = ONLY5.servers[0];

  /**
   * Spliced and settled, then 100 bytes from the server: the client's next byte is C_ISN + 28,
   * the server's S_ISN + 113 (the client sees it as isn + 109); the client's window towards the
   * server is 502 << 7, the server's towards the client 500 << 7.
   */
  function settled() {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK });
    expect(t.conn()!.hs).to.equal(null);
    t.server(0, port, { seq: S_ISN + 13, ack: C_ISN + 28, flags: ACK | PSH }, Buffer.alloc(100, 0x61));
    return { t, isn, port };
  }

  it('a client RST inside the window gets a challenge ACK (where the appliance stands, the window the client had), not a reset', function () {
    const { t, isn } = settled();
    expect(views(t.client({ seq: C_ISN + 28 + 1000, flags: RST, window: 0 }))).to.deep.equal([toClient(isn + 109, C_ISN + 28, 'ACK', '', 500)]);
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
    // A second one within 0.5 s is only counted (Linux's tcp_invalid_ratelimit).
    expect(t.client({ seq: C_ISN + 28 + 2000, flags: RST | ACK, ack: isn + 109, window: 0 })).to.deep.equal([]);
    expect(t.d.guard.stats).to.include({ rstChallenged: 2, challengeAcks: 1, challengeAcksLimited: 1 });
    t.tick(2);
    expect(t.client({ seq: C_ISN + 28 + 3000, flags: RST, window: 0 })).to.have.length(1);
  });

  it('a client RST outside the window is dropped silently; the exact one resets the connection at once', function () {
    const { t, port } = settled();
    expect(t.client({ seq: C_ISN + 28 + (502 << 7), flags: RST, window: 0 })).to.deep.equal([]);
    expect(t.client({ seq: C_ISN + 27, flags: RST, window: 0 }), 'one byte before').to.deep.equal([]);
    expect(t.d.guard.stats.rstOutOfWindow).to.equal(2);
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
    expect(views(t.client({ seq: C_ISN + 28, flags: RST, window: 0 }))).to.deep.equal([toServer(sa, port, C_ISN + 28, 0, 'RST', '', 0, false)]);
    expect(t.conn()!.state).to.equal(ConnState.Closed);
  });

  it('a SYN from the client\'s address on a spliced connection gets a challenge ACK and changes nothing (RFC 5961 4.2)', function () {
    const { t, isn } = settled();
    expect(views(t.client({ seq: 0x7777, flags: SYN, mss: 1460 }))).to.deep.equal([toClient(isn + 109, C_ISN + 28, 'ACK', '', 500)]);
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
    expect(t.d.guard.stats.synChallenged).to.equal(1);
  });

  it('the server leg: a RST in the window gets a challenge ACK to the server, one outside is dropped, the exact one reaches the client', function () {
    const { t, isn, port } = settled();
    expect(views(t.server(0, port, { seq: S_ISN + 113 + 1000, flags: RST, window: 0 }))).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 113, 'ACK', '', 502)]);
    expect(t.server(0, port, { seq: S_ISN + 113 + (502 << 7) + 1, flags: RST, window: 0 })).to.deep.equal([]);
    t.tick(2);
    expect(views(t.server(0, port, { seq: 0x1234, flags: SYN | ACK, ack: C_ISN + 28, window: 0 }))).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 113, 'ACK', '', 502)]);
    expect(t.conn()!.state).to.equal(ConnState.Spliced);
    expect(views(t.server(0, port, { seq: S_ISN + 113, flags: RST, window: 0 }))).to.deep.equal([toClient(isn + 109, 0, 'RST', '', 0)]);
    expect(t.conn()!.state).to.equal(ConnState.Closed);
  });

  it('move resets both legs at the exact next sequence numbers, so that both ends take the RST', function () {
    const { t, isn, port } = settled();
    t.d.diversions.add(NAME, '203.0.113.81');
    expect(t.d.moveDiverted()).to.equal(1);
    expect(views(t.take())).to.deep.equal([
      toClient(isn + 109, C_ISN + 28, 'RST|ACK', '', 0),
      toServer(sa, port, C_ISN + 28, S_ISN + 113, 'RST|ACK', '', 0),
    ]);
    expect(t.conn()).to.equal(undefined);
  });
});

describe('flow/transitions: data outside the window on a spliced connection', function () {
  const sa = ONLY5.servers[0];

  it('blind data far ahead or far behind is dropped on both legs and moves nothing; data in the window passes', function () {
    const t = setup(ONLY5);
    const { isn, port } = spliceVia5(t, REQ_4A);
    t.server(0, port, { seq: S_ISN + 3, ack: C_ISN + 28, flags: ACK | PSH }, REPLY5);
    t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK });
    const c = t.conn()!;
    expect(c.hs).to.equal(null);
    // 502 << 7 bytes of window the client has: 2^24 ahead is no one's.
    expect(t.client({ seq: C_ISN + 28 + (1 << 24), ack: isn + 9, flags: ACK | PSH }, text('forged'))).to.deep.equal([]);
    expect(t.client({ seq: C_ISN + 28 - (1 << 31) + 10, ack: isn + 9, flags: ACK | PSH }, text('forged'))).to.deep.equal([]);
    expect(t.server(0, port, { seq: S_ISN + 13 + (1 << 24), ack: C_ISN + 28, flags: ACK | PSH }, text('forged'))).to.deep.equal([]);
    // A pure ACK or a bare FIN far ahead: no data, but it would move where the stream stands.
    expect(t.client({ seq: C_ISN + 28 + (1 << 30), ack: isn + 9, flags: ACK })).to.deep.equal([]);
    expect(t.server(0, port, { seq: S_ISN + 13 + (1 << 30), ack: C_ISN + 28, flags: ACK | FIN })).to.deep.equal([]);
    expect(t.d.guard.stats.dataOutOfWindow).to.equal(5);
    expect([c.upNext, c.downNext]).to.deep.equal([C_ISN + 28, S_ISN + 13]);
    // In the window, both ways: forwarded.
    expect(views(t.client({ seq: C_ISN + 28, ack: isn + 9, flags: ACK | PSH }, text('GET /')))).to.deep.equal([toServer(sa, port, C_ISN + 28, S_ISN + 13, 'ACK|PSH', text('GET /').toString('hex'), 502, false)]);
    expect(t.server(0, port, { seq: S_ISN + 13, ack: C_ISN + 33, flags: ACK | PSH }, text('200'))).to.have.length(1);
    expect([c.upNext, c.downNext]).to.deep.equal([C_ISN + 33, S_ISN + 16]);
  });
});
