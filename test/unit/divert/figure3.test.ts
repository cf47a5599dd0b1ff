import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { DivertedAddresses } from '../../../appliance/divert/table';
import { Diversion } from '../../../appliance/forward/diversion';
import { Drops } from '../../../appliance/forward/drops';
import type { Icmp } from '../../../appliance/forward/icmp';
import type { Neighbours } from '../../../appliance/forward/neighbours';
import type { Output } from '../../../appliance/forward/output';
import { Router } from '../../../appliance/forward/routes';
import type { Segment } from '../../../appliance/forward/segments';
import { Ipv4View } from '../../../appliance/wire/ipv4';
import { ACK, FIN, RST, SYN } from '../../../appliance/wire/tcp';
import { icmpError, ip, segment, tcpRepr, udpDatagram } from '../wire/packets';

/*
 * The network-management patent's figure 3, on the appliance's routed traffic: a client's
 * datagram to a diverted destination (event 1) leaves from the appliance's own address with a
 * port of its own towards the diverted one (event 3); the reply (event 4/5) reaches the client
 * from the address it sent to (events 6/7). Golden packets: the exact bytes out are built from
 * scratch as what a router that does this would send (TTL less one, checksums right).
 */

const CLIENT = ip('198.18.0.2');
const ORIGINAL = ip('203.0.113.80');
const MIRROR = ip('203.0.113.81');
const OWN = ip('198.19.1.1');
const GATEWAY = ip('198.19.1.2');
const DATA = Buffer.from('one datagram a second\n');

interface Sent {
  where: 'segment' | 'intranet';
  hop?: number;
  bytes: Buffer;
}

function harness(...entries: string[]) {
  const pool = new PacketPool(64, 1500, 4);
  const sent: Sent[] = [];
  const logs: string[] = [];
  const drops = new Drops(pool, (m) => logs.push(m));
  const copyOut = (slot: number, len: number) => Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + len));
  const neighbours = { sendTo: (_seg: number, slot: number, len: number, hop: number) => { sent.push({ where: 'segment', hop, bytes: copyOut(slot, len) }); pool.give(slot); } } as unknown as Neighbours;
  const output = { toIntranet: (slot: number, len: number) => { sent.push({ where: 'intranet', bytes: copyOut(slot, len) }); pool.give(slot); } } as unknown as Output;
  const icmp = { error: () => sent.push({ where: 'intranet', bytes: Buffer.from('icmp-error') }) } as unknown as Icmp;
  const segments = [{ tap: 'alp-sa', local: OWN, mac: new Uint8Array(6), servers: new Map(), hosts: new Map(), also: [], alsoMacs: [], also6: [], also6Macs: [] } as unknown as Segment];
  const router = new Router(segments, neighbours, icmp, output, drops);
  router.set([{ prefix: { address: ip('203.0.113.0'), length: 24 }, tap: 'alp-sa', gateway: GATEWAY }]);
  const d = new Diversion(pool, segments, router, neighbours, output, drops, { maxFlows: 8, udpTimeout: 30, tcpTimeout: 300, unrepliedTimeout: 10, dnsTtl: 30 }, (m) => logs.push(m));
  d.table = new DivertedAddresses();
  for (const e of entries) {
    const [o, t] = e.split(' = ');
    const r = d.table.add(o, t);
    if (!r.ok) throw new Error(r.message);
  }
  const view = new Ipv4View();
  /** Feeds one datagram in, from the intranet or from segment 0; returns whether the diversion took it. */
  const feed = (b: Buffer, from: 'intranet' | 'segment'): boolean => {
    const slot = pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    view.wrap(pool.buf, pool.ipOffset(slot), b.length);
    const taken = from === 'intranet' ? d.fromIntranet(slot, view) : d.fromSegment(0, slot, view);
    if (!taken) pool.give(slot);
    return taken;
  };
  return { d, sent, feed, drops, logs, pool };
}

describe('divert: figure 3 on routed traffic (current connections)', function () {
  it('events 1-7 for UDP: out from the own address and port to the mirror, the reply back from the original', function () {
    const h = harness('203.0.113.80:7 = 203.0.113.81');
    // Event 1: the client's datagram, as it sent it.
    expect(h.feed(udpDatagram(CLIENT, ORIGINAL, 40000, 7, DATA, { ttl: 64, id: 0x1234 }), 'intranet')).to.equal(true);
    expect(h.d.flows.size).to.equal(1);
    const own = h.d.flows.ownPort[0];
    expect(own).to.be.within(1024, 65535);
    // Event 3: (own, own port) -> (mirror, 7), TTL 63, the same identification and payload.
    expect(h.sent).to.have.length(1);
    expect(h.sent[0].where).to.equal('segment');
    expect(h.sent[0].hop).to.equal(GATEWAY);
    expect(h.sent[0].bytes.toString('hex')).to.equal(udpDatagram(OWN, MIRROR, own, 7, DATA, { ttl: 63, id: 0x1234 }).toString('hex'));
    // Events 4-5: the mirror's reply to the appliance; events 6-7: to the client, from the original.
    const reply = Buffer.from('mirror 203.0.113.81\n');
    expect(h.feed(udpDatagram(MIRROR, OWN, 7, own, reply, { ttl: 62, id: 9 }), 'segment')).to.equal(true);
    expect(h.sent[1].where).to.equal('intranet');
    expect(h.sent[1].bytes.toString('hex')).to.equal(udpDatagram(ORIGINAL, CLIENT, 7, 40000, reply, { ttl: 61, id: 9 }).toString('hex'));
    // The same flow again: the same row, the same own port.
    h.feed(udpDatagram(CLIENT, ORIGINAL, 40000, 7, DATA, { id: 0x1235 }), 'intranet');
    expect(h.d.flows.size).to.equal(1);
    expect(h.sent[2].bytes.toString('hex')).to.equal(udpDatagram(OWN, MIRROR, own, 7, DATA, { ttl: 63, id: 0x1235 }).toString('hex'));
  });

  it('a UDP datagram without a checksum keeps none; one not diverted, or a reply of no flow, is not taken', function () {
    const h = harness('203.0.113.80:7 = 203.0.113.81');
    h.feed(udpDatagram(CLIENT, ORIGINAL, 40001, 7, DATA, { checksum: false }), 'intranet');
    const own = h.d.flows.ownPort[0];
    expect(h.sent[0].bytes.toString('hex')).to.equal(udpDatagram(OWN, MIRROR, own, 7, DATA, { ttl: 63, checksum: false }).toString('hex'));
    expect(h.feed(udpDatagram(CLIENT, ORIGINAL, 40001, 8, DATA), 'intranet')).to.equal(false);
    expect(h.feed(udpDatagram(MIRROR, OWN, 7, own + 1 > 65535 ? 1024 : own + 1, DATA), 'segment')).to.equal(false);
    expect(h.feed(udpDatagram(ip('203.0.113.82'), OWN, 7, own, DATA), 'segment')).to.equal(false);
  });

  it('an ICMP port unreachable from the mirror reaches the client from the original, quoting what the client sent', function () {
    const h = harness('203.0.113.80 = 203.0.113.81');
    const sentByClient = udpDatagram(CLIENT, ORIGINAL, 40002, 9, DATA, { id: 77 });
    h.feed(sentByClient, 'intranet');
    const own = h.d.flows.ownPort[0];
    const out = h.sent[0].bytes;
    expect(h.feed(icmpError(MIRROR, OWN, 3, 3, out, 8 + DATA.length, 64), 'segment')).to.equal(true);
    // The quote as the client knows its datagram: its addresses and ports, the TTL it reached the mirror with.
    const asClientSent = udpDatagram(CLIENT, ORIGINAL, 40002, 9, DATA, { id: 77, ttl: 63 });
    expect(h.sent[1].bytes.toString('hex')).to.equal(icmpError(ORIGINAL, CLIENT, 3, 3, asClientSent, 8 + DATA.length, 63).toString('hex'));
    expect(own).to.be.above(0);
    expect(h.d.stats.icmpTranslated).to.equal(1);
  });

  it('TCP: diverted from the SYN only; the reply back; FINs both ways close the row after the linger', function () {
    const h = harness('203.0.113.80:8080 = 203.0.113.81:8080');
    const none = new Uint8Array(0);
    // A segment of a connection from before the diversion keeps its path (drain).
    expect(h.feed(segment(CLIENT, ORIGINAL, tcpRepr({ srcPort: 50000, dstPort: 8080, seq: 5, ack: 9, flags: ACK, window: 100 })), 'intranet')).to.equal(false);
    const syn = tcpRepr({ srcPort: 50001, dstPort: 8080, seq: 1000, flags: SYN, window: 100, mss: 1460 });
    expect(h.feed(segment(CLIENT, ORIGINAL, syn), 'intranet')).to.equal(true);
    const own = h.d.flows.ownPort[0];
    expect(h.sent[0].bytes.toString('hex')).to.equal(segment(OWN, MIRROR, { ...syn, srcPort: own }, none, [], 63).toString('hex'));
    const synAck = tcpRepr({ srcPort: 8080, dstPort: own, seq: 7000, ack: 1001, flags: SYN | ACK, window: 200, mss: 1460 });
    expect(h.feed(segment(MIRROR, OWN, synAck), 'segment')).to.equal(true);
    expect(h.sent[1].bytes.toString('hex')).to.equal(segment(ORIGINAL, CLIENT, { ...synAck, dstPort: 50001 }, none, [], 63).toString('hex'));
    h.feed(segment(CLIENT, ORIGINAL, tcpRepr({ srcPort: 50001, dstPort: 8080, seq: 1001, ack: 7001, flags: FIN | ACK, window: 100 })), 'intranet');
    h.feed(segment(MIRROR, OWN, tcpRepr({ srcPort: 8080, dstPort: own, seq: 7001, ack: 1002, flags: FIN | ACK, window: 200 })), 'segment');
    h.d.expire(5);
    expect(h.d.flows.size, 'lingering after both FINs').to.equal(1);
    h.d.expire(11);
    expect(h.d.flows.size).to.equal(0);
  });

  it('move: a UDP row follows the table at once; a TCP row is reset on both sides at the exact sequence numbers', function () {
    const h = harness('203.0.113.80 = 203.0.113.81');
    h.feed(udpDatagram(CLIENT, ORIGINAL, 40003, 7, DATA), 'intranet');
    h.feed(segment(CLIENT, ORIGINAL, tcpRepr({ srcPort: 50002, dstPort: 8080, seq: 1000, flags: SYN, window: 100 })), 'intranet');
    const tcpOwn = h.d.flows.ownPort[1];
    h.feed(segment(MIRROR, OWN, tcpRepr({ srcPort: 8080, dstPort: tcpOwn, seq: 7000, ack: 1001, flags: SYN | ACK, window: 200 })), 'segment');
    h.feed(segment(CLIENT, ORIGINAL, tcpRepr({ srcPort: 50002, dstPort: 8080, seq: 1001, ack: 7001, flags: ACK, window: 100 }), Buffer.from('GET /')), 'intranet');
    h.feed(segment(MIRROR, OWN, tcpRepr({ srcPort: 8080, dstPort: tcpOwn, seq: 7001, ack: 1006, flags: ACK, window: 200 }), Buffer.from('HTTP/1.1')), 'segment');
    h.sent.length = 0;
    // The monitor moves 203.0.113.80 back to itself: the table no longer diverts it.
    h.d.table.remove('203.0.113.80');
    expect(h.d.move()).to.deep.equal({ moved: 0, reset: 1, released: 1 });
    expect(h.d.flows.size).to.equal(0);
    // To the mirror: from the own port, at the client's next byte, acking all the mirror sent.
    const toMirror = h.sent[0].bytes;
    expect([toMirror.readUInt32BE(12), toMirror.readUInt32BE(16), toMirror.readUInt16BE(20), toMirror.readUInt16BE(22)]).to.deep.equal([OWN, MIRROR, tcpOwn, 8080]);
    expect([toMirror.readUInt32BE(24), toMirror.readUInt32BE(28), toMirror[33]]).to.deep.equal([1006, 7009, RST | ACK]);
    // To the client: from the original, at the mirror's next byte.
    const toClient = h.sent[1].bytes;
    expect([toClient.readUInt32BE(12), toClient.readUInt32BE(16), toClient.readUInt16BE(20), toClient.readUInt16BE(22)]).to.deep.equal([ORIGINAL, CLIENT, 8080, 50002]);
    expect([toClient.readUInt32BE(24), toClient.readUInt32BE(28), toClient[33]]).to.deep.equal([7009, 1006, RST | ACK]);
  });

  it('move retargets a UDP row: the next datagram goes to the new destination from the same own port', function () {
    const h = harness('203.0.113.80:7 = 203.0.113.81');
    h.feed(udpDatagram(CLIENT, ORIGINAL, 40004, 7, DATA), 'intranet');
    const own = h.d.flows.ownPort[0];
    h.d.table.add('203.0.113.80:7', '203.0.113.82:7');
    expect(h.d.move()).to.deep.equal({ moved: 1, reset: 0, released: 0 });
    h.feed(udpDatagram(CLIENT, ORIGINAL, 40004, 7, DATA), 'intranet');
    expect(h.sent[1].bytes.toString('hex')).to.equal(udpDatagram(OWN, ip('203.0.113.82'), own, 7, DATA, { ttl: 63 }).toString('hex'));
    // The old mirror's late reply belongs to no flow now.
    expect(h.feed(udpDatagram(MIRROR, OWN, 7, own, DATA), 'segment')).to.equal(false);
  });

  it('a full table refuses new diverted flows (counted), never the established ones', function () {
    const h = harness('203.0.113.80 = 203.0.113.81');
    for (let p = 0; p < 8; p++) h.feed(udpDatagram(CLIENT, ORIGINAL, 41000 + p, 7, DATA), 'intranet');
    expect(h.d.flows.size).to.equal(8);
    const before = h.sent.length;
    expect(h.feed(udpDatagram(CLIENT, ORIGINAL, 42000, 7, DATA), 'intranet')).to.equal(true);
    expect(h.sent.length, 'the refused datagram went nowhere').to.equal(before);
    expect(h.drops.byReason['diverted-flows-full']).to.equal(1);
    h.feed(udpDatagram(CLIENT, ORIGINAL, 41003, 7, DATA), 'intranet');
    expect(h.sent.length).to.equal(before + 1);
    // Rows leave by idle timeout (UDP: 30 s) and make room.
    h.d.expire(31);
    expect(h.d.flows.size).to.equal(0);
  });
});
