import type { Diversion6 } from '../../../appliance/forward/diversion6';
import { expect } from 'chai';
import { parseAddress } from '../../../appliance/addr/address';
import type { ServerRecord } from '../../../appliance/config/tables';
import type { PacketDevice } from '../../../appliance/device/device';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Demux6 } from '../../../appliance/forward/demux6';
import type { Icmp6 } from '../../../appliance/forward/icmp6';
import type { Router6 } from '../../../appliance/forward/routes6';
import { Drops } from '../../../appliance/forward/drops';
import type { ServerEgress } from '../../../appliance/forward/egress';
import { ServerHealth } from '../../../appliance/forward/health';
import { Neighbours } from '../../../appliance/forward/neighbours';
import type { Router } from '../../../appliance/forward/routes';
import { answerFor, type Segment } from '../../../appliance/forward/segments';
import { Reassembler6 } from '../../../appliance/forward/reassembly6';
import { Validator6 } from '../../../appliance/forward/validate6';
import { ETH_HEADER } from '../../../appliance/wire/ethernet';
import { ip } from '../wire/packets';
import { a6, datagram6, withChecksum } from '../wire/packets6';

const LOCAL6 = '2001:db8:19:3::1';
const SERVER6 = '2001:db8:19:3::2';
const L = a6(LOCAL6);
const S = a6(SERVER6);
const APP = Buffer.from('025341130301', 'hex');
const OLD = Buffer.from('52c0eb610e6f', 'hex');
const NEW = Buffer.from('020000000bad', 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** An ICMPv6 message from hex, its checksum set by the reference, in a datagram (hop limit 255 unless told). */
function icmp6(src: Uint8Array, dst: Uint8Array, message: string, hopLimit = 255): Buffer {
  return datagram6(src, dst, 58, withChecksum(src, dst, 58, Buffer.from(message.replace(/ /g, ''), 'hex'), 2), hopLimit);
}

function frame(dst: Uint8Array, src: Uint8Array, datagram: Uint8Array): Buffer {
  return Buffer.concat([dst, src, Buffer.from('86dd', 'hex'), datagram]);
}

/** Solicitation (135) and advertisement (136) bodies: flags byte, target, then any option. */
const ns = (target: Uint8Array, option = '') => `8700 0000 00000000 ${hex(target)} ${option}`;
const na = (flags: string, target: Uint8Array, option = '') => `8800 0000 ${flags}000000 ${hex(target)} ${option}`;
const sll = (mac: Uint8Array) => `0101${hex(mac)}`;
const tll = (mac: Uint8Array) => `0201${hex(mac)}`;
const SOLICITED_NODE_L = a6('ff02::1:ff00:1');
const SOLICITED_NODE_S = a6('ff02::1:ff00:2');
const ALL_NODES = a6('ff02::1');
/** What tshark decodes as "Neighbor Advertisement 2001:db8:19:3::1 (sol, ovr) is at 02:53:41:13:03:01", checksum 0x45b9 [correct]. */
const GOLDEN_NA = '52c0eb610e6f' + '025341130301' + '86dd' + '6000000000203aff' + '20010db8001900030000000000000001' + '20010db8001900030000000000000002'
  + '880045b9' + '60000000' + '20010db8001900030000000000000001' + '0201025341130301';

/**
 * One segment where the appliance is LOCAL6 at APP (and 198.19.3.1 when `v4`), its server
 * "sf" at SERVER6 (and "sc" at 198.19.3.2 when `v4`); frames go in through Demux6 and what the
 * appliance writes to the TAP is kept.
 */
function setup(o: { mac?: Uint8Array; v4?: boolean } = {}) {
  const pool = new PacketPool(16, 1500, 1);
  const written: Buffer[] = [];
  const device = {
    write: (slot: number, len: number) => {
      written.push(Buffer.from(pool.buf.subarray(pool.frameOffset(slot), pool.frameOffset(slot) + len)));
      return true;
    },
  } as unknown as PacketDevice;
  const logs: string[] = [];
  const drops = new Drops(pool, (m) => logs.push(m));
  const local6 = parseAddress(LOCAL6)!;
  const server6 = parseAddress(SERVER6)!;
  const record = (name: string, address: number, local: number, length: number, mac?: Uint8Array) =>
    ({ name, address, port: 1080, tap: 'alp-sc', local: { address: local, length }, mac }) as ServerRecord;
  const servers = [record('sf', server6, local6, 64, o.mac)];
  if (o.v4) servers.push(record('sc', ip('198.19.3.2'), ip('198.19.3.1'), 24));
  const seg: Segment = {
    tap: 'alp-sc', device, local: o.v4 ? ip('198.19.3.1') : -1, prefix: o.v4 ? servers[1].local : undefined,
    local6, prefix6: servers[0].local, mac: APP, servers: new Map(), hosts: new Map(servers.map((s, i) => [s.address, [i]])), also: [], alsoMacs: [], also6: [], also6Macs: [],
  };
  const health = new ServerHealth(servers.length, () => undefined, servers.map((s) => s.name));
  const sent = servers.map(() => ({ packetsOut: 0 }));
  const n = new Neighbours(pool, [seg], servers.map(() => 0), servers, health, drops, (m) => logs.push(m), sent);
  const demux = new Demux6(pool, [seg], new Validator6(pool, new Reassembler6(pool, 1 << 20), drops), {} as Router, {} as Router6, {} as Icmp6, {} as ServerEgress, drops, n, NO_DIVERSION);
  const inject = (f: Buffer) => {
    const slot = pool.take();
    pool.buf.set(f, pool.frameOffset(slot));
    demux.fromSegment(0, slot, f.length - ETH_HEADER);
  };
  const out = () => written.splice(0).map(hex);
  return { pool, n, out, drops: drops.byReason, health, sent, inject, logs, seg };
}

/** No diverted-address table: every datagram goes on to the rest of the demux. */
const NO_DIVERSION = { fromIntranet: () => false, fromSegment: () => false } as unknown as Diversion6;

describe('forward/ndp: Neighbor Discovery on a segment (RFC 4861)', function () {
  it('answers a solicitation for local6 to its solicited-node group: S and O set, target link-layer address, to the soliciter, hop limit 255', function () {
    const t = setup();
    t.inject(frame(Buffer.from('3333ff000001', 'hex'), OLD, icmp6(S, SOLICITED_NODE_L, ns(L, sll(OLD)))));
    const out = t.out();
    expect(out).to.deep.equal([hex(frame(OLD, APP, icmp6(L, S, na('60', L, tll(APP)))))]);
    // The golden frame, checksum and all.
    expect(out[0]).to.equal(GOLDEN_NA);
    expect(t.pool.available, 'every slot given back').to.equal(16);
  });

  it('answers for a silent ECMP peer\'s address taken over (sync/members.ts) at that address\'s MAC, and announces it; then no longer', function () {
    const t = setup();
    const peer = parseAddress('2001:db8:19:3::4')!;
    const P = a6('2001:db8:19:3::4');
    const PMAC = Buffer.from('025341000004', 'hex');
    const solicit = frame(Buffer.from('3333ff000004', 'hex'), OLD, icmp6(S, a6('ff02::1:ff00:4'), ns(P, sll(OLD))));
    expect(answerFor([t.seg], peer, true)).to.equal(0);
    t.inject(solicit);
    expect(t.out()).to.deep.equal([hex(frame(OLD, PMAC, icmp6(P, S, na('60', P, tll(PMAC)))))]);
    t.n.announceFor(0, peer, PMAC);
    expect(t.out()).to.deep.equal([hex(frame(Buffer.from('333300000001', 'hex'), PMAC, icmp6(P, ALL_NODES, na('20', P, tll(PMAC)))))]);
    answerFor([t.seg], peer, false);
    t.inject(solicit);
    expect(t.out()).to.deep.equal([]);
    expect(t.pool.available).to.equal(16);
  });

  it('answers one to its unicast address without a source link-layer option, to the frame\'s source MAC', function () {
    const t = setup();
    t.inject(frame(APP, OLD, icmp6(S, L, ns(L))));
    expect(t.out()).to.deep.equal([hex(frame(OLD, APP, icmp6(L, S, na('60', L, tll(APP)))))]);
  });

  it('duplicate address detection (from ::): the advertisement goes to all-nodes, ff02::1 at 33:33:00:00:00:01, override only (7.2.4)', function () {
    const t = setup();
    t.inject(frame(Buffer.from('3333ff000001', 'hex'), OLD, icmp6(a6('::'), SOLICITED_NODE_L, ns(L))));
    expect(t.out()).to.deep.equal([hex(frame(Buffer.from('333300000001', 'hex'), APP, icmp6(L, ALL_NODES, na('20', L, tll(APP)))))]);
  });

  it('drops what 7.1.1 says to discard, silently, counted: hop limit, checksum, code, length, multicast target, :: with a source option', function () {
    const t = setup();
    const bad: Buffer[] = [
      icmp6(S, SOLICITED_NODE_L, ns(L, sll(OLD)), 64),
      (() => { const d = icmp6(S, SOLICITED_NODE_L, ns(L, sll(OLD))); d[43] ^= 1; return d; })(),
      icmp6(S, SOLICITED_NODE_L, `8701 0000 00000000 ${hex(L)}`),
      icmp6(S, SOLICITED_NODE_L, `8700 0000 00000000 ${hex(L).slice(0, 30)}`),
      icmp6(S, SOLICITED_NODE_L, ns(SOLICITED_NODE_L)),
      icmp6(a6('::'), SOLICITED_NODE_L, ns(L, sll(OLD))),
      icmp6(a6('::'), L, ns(L)),
      icmp6(S, SOLICITED_NODE_L, ns(L, '0100' + '00'.repeat(6))),
    ];
    for (const d of bad) t.inject(frame(Buffer.from('3333ff000001', 'hex'), OLD, d));
    expect(t.out()).to.deep.equal([]);
    expect(t.drops['malformed-nd']).to.equal(bad.length);
    expect(t.n.serverMac[0], 'nothing learned').to.equal(undefined);
    expect(t.pool.available).to.equal(16);
  });

  it('drops a solicitation that came in fragments, or with an atomic fragment header (RFC 6980 5)', function () {
    const t = setup();
    const message = withChecksum(S, SOLICITED_NODE_L, 58, Buffer.from(ns(L, sll(OLD)).replace(/ /g, ''), 'hex'), 2);
    const fragment = (offset: number, more: boolean, part: Buffer) =>
      datagram6(S, SOLICITED_NODE_L, 44, Buffer.concat([Buffer.from([58, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0x12, 0x34]), part]), 255);
    const group = Buffer.from('3333ff000001', 'hex');
    t.inject(frame(group, OLD, fragment(0, true, message.subarray(0, 16))));
    t.inject(frame(group, OLD, fragment(16, false, message.subarray(16))));
    t.inject(frame(group, OLD, fragment(0, false, message)));
    expect(t.out()).to.deep.equal([]);
    expect(t.drops['malformed-nd']).to.equal(2);
    expect(t.pool.available).to.equal(16);
  });

  it('a solicitation for another host\'s address (flooded to every port) is neither answered nor counted', function () {
    const t = setup();
    t.inject(frame(Buffer.from('3333ff000002', 'hex'), NEW, icmp6(a6('2001:db8:19:3::9'), SOLICITED_NODE_S, ns(S, sll(NEW)))));
    expect(t.out()).to.deep.equal([]);
    expect(Object.values(t.drops).reduce((a, b) => a + b, 0)).to.equal(0);
    expect(t.pool.available).to.equal(16);
  });

  it('solicits an IPv6 server at its solicited-node group every second until answered; ARP is not used for it', function () {
    const t = setup({ v4: true });
    t.n.now = 1;
    t.n.resolve([]);
    const nsOut = hex(frame(Buffer.from('3333ff000002', 'hex'), APP, icmp6(L, SOLICITED_NODE_S, ns(S, sll(APP)))));
    const sent = t.out();
    expect(sent).to.have.length(2);
    expect(sent[0]).to.equal(nsOut);
    // The IPv4 server beside it: an ARP request from 198.19.3.1 for 198.19.3.2, broadcast.
    expect(sent[1]).to.equal(`ffffffffffff${hex(APP)}0806` + '0001080006040001' + hex(APP) + 'c6130301' + '000000000000' + 'c6130302');
    t.n.now = 1.5;
    t.n.resolve([]);
    expect(t.out()).to.deep.equal([]);
    t.n.now = 2;
    t.n.resolve([]);
    expect(t.out()).to.have.length(2);
  });

  it('learns the server from the advertisement answering it, then refreshes a minute later', function () {
    const t = setup();
    t.n.now = 1;
    t.n.resolve([]);
    t.out();
    t.inject(frame(APP, OLD, icmp6(S, L, na('60', S, tll(OLD)))));
    expect(hex(t.n.serverMac[0]!)).to.equal(hex(OLD));
    expect(t.health.resolved[0]).to.equal(true);
    expect(t.logs).to.include('server sf is at 52:c0:eb:61:0e:6f');
    t.n.now = 60;
    t.n.resolve([]);
    expect(t.out(), 'known: not asked before the refresh').to.deep.equal([]);
    t.n.now = 61.5;
    t.n.resolve([]);
    expect(t.out()).to.have.length(1);
    expect(t.pool.available).to.equal(16);
  });

  it('learns a server from the source link-layer option of its solicitation for local6', function () {
    const t = setup();
    t.inject(frame(Buffer.from('3333ff000001', 'hex'), OLD, icmp6(S, SOLICITED_NODE_L, ns(L, sll(OLD)))));
    expect(hex(t.n.serverMac[0]!)).to.equal(hex(OLD));
  });

  it('an unsolicited advertisement with another MAC for a server under traffic is verified, not believed; the old MAC answering keeps it', function () {
    const t = setup();
    t.n.now = 1;
    t.inject(frame(APP, OLD, icmp6(S, L, na('60', S, tll(OLD)))));
    t.out();
    t.n.now = 2;
    t.sent[0].packetsOut = 10;
    t.n.resolve([]);
    t.inject(frame(Buffer.from('333300000001', 'hex'), NEW, icmp6(S, ALL_NODES, na('20', S, tll(NEW)))));
    expect(hex(t.n.serverMac[0]!), 'not changed by the claim').to.equal(hex(OLD));
    expect(t.logs.join('\n')).to.match(/ND claims server sf is at 02:00:00:00:0b:ad, not 52:c0:eb:61:0e:6f; asking both/);
    t.n.now = 3;
    t.sent[0].packetsOut = 20;
    t.n.resolve([]);
    // Both MACs asked by unicast solicitations to the server's own address.
    expect(t.out()).to.deep.equal([
      hex(frame(OLD, APP, icmp6(L, S, ns(S, sll(APP))))),
      hex(frame(NEW, APP, icmp6(L, S, ns(S, sll(APP))))),
    ]);
    t.inject(frame(APP, OLD, icmp6(S, L, na('60', S, tll(OLD)))));
    t.n.now = 4;
    t.n.resolve([]);
    expect(hex(t.n.serverMac[0]!)).to.equal(hex(OLD));
    expect(t.logs.join('\n')).to.match(/still answers at 52:c0:eb:61:0e:6f: the claim for 02:00:00:00:0b:ad is refused/);
  });

  it('a solicited answer without the override flag does not change a known MAC; unsolicited ones, router messages are counted and not taken', function () {
    const t = setup();
    t.n.now = 1;
    t.inject(frame(APP, OLD, icmp6(S, L, na('60', S, tll(OLD)))));
    t.inject(frame(APP, NEW, icmp6(S, L, na('40', S, tll(NEW)))));
    expect(hex(t.n.serverMac[0]!)).to.equal(hex(OLD));
    // Unsolicited for an unknown address, and a router advertisement: not learned, counted.
    t.inject(frame(Buffer.from('333300000001', 'hex'), NEW, icmp6(a6('2001:db8:19:3::9'), ALL_NODES, na('20', a6('2001:db8:19:3::9'), tll(NEW)))));
    t.inject(frame(Buffer.from('333300000001', 'hex'), NEW, icmp6(a6('fe80::1'), ALL_NODES, '8600 0000 40000708 00000000 00000000')));
    expect(t.drops.unsupported).to.equal(3);
    expect(t.out()).to.deep.equal([]);
    expect(t.pool.available).to.equal(16);
  });

  it('a solicited flag to a multicast group is malformed (7.1.2)', function () {
    const t = setup();
    t.inject(frame(Buffer.from('333300000001', 'hex'), OLD, icmp6(S, ALL_NODES, na('60', S, tll(OLD)))));
    expect(t.drops['malformed-nd']).to.equal(1);
    expect(t.n.serverMac[0]).to.equal(undefined);
  });

  it('a server with a mac in servers.ini is never solicited', function () {
    const t = setup({ mac: OLD });
    for (let now = 1; now < 100; now += 10) {
      t.n.now = now;
      t.n.resolve([]);
    }
    expect(t.out()).to.deep.equal([]);
    expect(t.health.resolved[0]).to.equal(true);
  });

  it('sendTo6 frames a routed datagram for a resolved next hop; an unresolved one is dropped (no-ndp) and solicited', function () {
    const t = setup();
    const gateway = parseAddress('2001:db8:19:3::fe')!;
    const datagram = datagram6(a6('2001:db8:1::5'), a6('2001:db8:99::1'), 17, Buffer.alloc(8));
    const send = () => {
      const slot = t.pool.take();
      t.pool.buf.set(datagram, t.pool.ipOffset(slot));
      t.n.sendTo6(0, slot, datagram.length, gateway);
    };
    t.n.now = 1;
    send();
    expect(t.drops['no-ndp']).to.equal(1);
    expect(t.out()).to.deep.equal([hex(frame(Buffer.from('3333ff0000fe', 'hex'), APP, icmp6(L, a6('ff02::1:ff00:fe'), ns(a6('2001:db8:19:3::fe'), sll(APP)))))]);
    const GW = Buffer.from('0200000000fe', 'hex');
    t.inject(frame(APP, GW, icmp6(a6('2001:db8:19:3::fe'), L, na('60', a6('2001:db8:19:3::fe'), tll(GW)))));
    send();
    expect(t.out()).to.deep.equal([hex(frame(GW, APP, datagram))]);
    expect(t.pool.available).to.equal(16);
  });
});
