import { expect } from 'chai';
import { IpfixWriter, TEMPLATE_SET_ID, VARIABLE_LENGTH } from '../../../appliance/wire/ipfix';
import { FLOW_TEMPLATES, FLOW_TEMPLATE_ID } from '../../../appliance/export/template';
import { flowRecordLength, newReported, writeFlowRecord, type RecordContext } from '../../../appliance/export/flow-record';
import { FLOW_END_REASON } from '../../../appliance/export/end-reason';
import { Connection } from '../../../appliance/flow/connection';
import { EndReason } from '../../../appliance/stats/end-reason';
import { ip } from './packets';

/** Hex with spaces, as the golden bytes below are written. */
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');

/**
 * A message written by `body` into a buffer filled with 0xee at offset 10, its bytes. `tidy`:
 * nothing written past it (a string cut below 255 bytes leaves 2 bytes of the room it had).
 */
function message(body: (w: IpfixWriter) => void, exportTime = 0x5f5e1000, sequence = 0, domain = 7, tidy = true): Buffer {
  const b = Buffer.alloc(1500, 0xee);
  const w = new IpfixWriter();
  w.begin(b, 10, 1400);
  body(w);
  const n = w.finish(exportTime, sequence, domain);
  expect(b[9], 'nothing before the message').to.equal(0xee);
  if (tidy) expect(b[10 + n], 'nothing after the message').to.equal(0xee);
  return b.subarray(10, 10 + n);
}

describe('wire/ipfix: the encoder (RFC 7011)', function () {
  it('writes the message header (3.1), a template set (3.3.2) and a template record with enterprise elements (3.2, 3.4.1)', function () {
    const got = message((w) => {
      w.openSet(TEMPLATE_SET_ID);
      w.templateRecord(256, [
        { id: 8, length: 4, enterprise: 0 },
        { id: 1, length: 8, enterprise: 29305 },
        { id: 9, length: VARIABLE_LENGTH, enterprise: 32473 },
      ]);
      w.closeSet();
    }, 0x5f5e1000, 0x01020304, 7);
    expect(got.toString('hex')).to.equal(hex(
      '000a 002c', // version 10, length 44
      '5f5e1000', // export time
      '01020304', // sequence number
      '00000007', // observation domain
      '0002 001c', // set ID 2 (template set), length 28
      '0100 0003', // template 256, 3 fields
      '0008 0004', // sourceIPv4Address, 4 bytes
      '8001 0008 00007279', // E bit | octetDeltaCount, 8 bytes, PEN 29305 (RFC 5103 reverse)
      '8009 ffff 00007ed9', // E bit | 9, variable length (RFC 7011 7), PEN 32473
    ).toString('hex'));
  });

  it('writes the all-IPv4 flow template field by field', function () {
    const got = message((w) => {
      w.openSet(TEMPLATE_SET_ID);
      w.templateRecord(FLOW_TEMPLATE_ID, FLOW_TEMPLATES[0]);
      w.closeSet();
    });
    const record = hex(
      '0100 0020', // template 256, 32 fields
      '0008 0004 000c 0004 0007 0002 000b 0002 0004 0001', // sourceIPv4Address, destinationIPv4Address, sourceTransportPort, destinationTransportPort, protocolIdentifier
      '00e1 0004 00e2 0004 00e3 0002 00e4 0002', // postNATSourceIPv4Address, postNATDestinationIPv4Address, postNAPTSourceTransportPort, postNAPTDestinationTransportPort
      '0001 0008 0002 0008', // octetDeltaCount, packetDeltaCount
      '8001 0008 00007279 8002 0008 00007279', // their reverses (RFC 5103)
      '0098 0008 0099 0008', // flowStartMilliseconds, flowEndMilliseconds
      '0006 0002 8006 0002 00007279', // tcpControlBits and its reverse
      '0088 0001', // flowEndReason
      '800d 0002 00007ed9 800e 0002 00007ed9', // smallest and largest IP total length, both directions (not IANA's 25, 26: forward only in a biflow)
      '8001 0001 00007ed9', // priority
      '8002 0004 00007ed9 8003 0004 00007ed9', // handshake, SOCKS reply (µs)
      '8004 0004 00007ed9 8005 0004 00007ed9', // RTT client leg, server leg (µs)
      '8006 0004 00007ed9 8007 0004 00007ed9', // retransmissions from the client, from the server
      '8008 0001 00007ed9', // the appliance's end reason
      '8009 ffff 00007ed9 800a ffff 00007ed9 800b ffff 00007ed9 800c ffff 00007ed9', // ALP, server, destination, diverted
    );
    expect(got.subarray(16).toString('hex')).to.equal(Buffer.concat([hex('0002', (record.length + 4).toString(16).padStart(4, '0')), record]).toString('hex'));
  });

  it('writes one connection as a data record: both legs, counts, times, flags, the appliance\'s elements', function () {
    const c = new Connection(ip('198.18.0.2'), 40000, ip('198.18.0.100'), 1.5);
    Object.assign(c, {
      lastSeen: 3.25, server: 0, allocPort: 50001, alp: 1, priority: 7, destination: 'web.socksalp.test:80', diverted: '',
      bytesIn: 1000, packetsIn: 10, bytesOut: 70000, packetsOut: 50, flagsIn: 0x1b, flagsOut: 0x1a, minLength: 40, maxLength: 1500,
      handshakeUs: 812, replyUs: 1790, rttClientUs: -1, rttServerUs: 420, retransIn: 0, retransOut: 2, endReason: EndReason.Fin,
    });
    const ctx: RecordContext = {
      started: 1_700_000_000_000,
      socksPort: 1080,
      servers: [{ name: 'sa', address: ip('198.19.1.2'), port: 1080, local: { address: ip('198.19.1.1'), length: 24 } }],
      alpNames: ['ftp', 'http'],
    };
    const got = message((w) => {
      w.openSet(FLOW_TEMPLATE_ID);
      writeFlowRecord(w, c, ctx, 0, undefined, FLOW_END_REASON[c.endReason]);
      w.closeSet();
    }, 0x65000000, 41, 7);
    const record = hex(
      'c6120002 c6120064 9c40 0438 06', // 198.18.0.2 -> 198.18.0.100, 40000 -> 1080, TCP
      'c6130101 c6130102 c351 0438', // post-NAT: 198.19.1.1:50001 -> 198.19.1.2:1080
      '00000000000003e8 000000000000000a', // 1000 octets, 10 packets from the client
      '0000000000011170 0000000000000032', // 70000 octets, 50 packets from the server
      '0000018bcfe56ddc 0000018bcfe574b2', // 1700000001500 ms, 1700000003250 ms
      '001b 001a', // FIN SYN PSH ACK from the client; SYN PSH ACK from the server
      '03', // flowEndReason: end of flow detected
      '0028 05dc', // 40 to 1500 bytes, either direction
      '07', // priority 7
      '0000032c 000006fe', // 812 µs handshake, 1790 µs to the SOCKS reply
      'ffffffff 000001a4', // no RTT on the client leg, 420 µs on the server leg
      '00000000 00000002', // retransmissions
      '01', // EndReason.Fin
      '04 68747470', // "http"
      '02 7361', // "sa"
      '14 7765622e736f636b73616c702e746573743a3830', // "web.socksalp.test:80"
      '00', // not diverted
    );
    expect(flowRecordLength(c, ctx, 0)).to.equal(record.length);
    expect(got.toString('hex')).to.equal(Buffer.concat([
      hex('000a', (16 + 4 + record.length).toString(16).padStart(4, '0'), '65000000 00000029 00000007'),
      hex('0100', (4 + record.length).toString(16).padStart(4, '0')),
      record,
    ]).toString('hex'));
  });

  it('writes deltas after an earlier record of the connection, and zeros for a connection that never had a server', function () {
    const c = new Connection(ip('198.18.0.2'), 40001, ip('198.18.0.100'), 0);
    Object.assign(c, { bytesIn: 500, packetsIn: 5, bytesOut: 900, packetsOut: 4 });
    const ctx: RecordContext = { started: 0, socksPort: 1080, servers: [], alpNames: [] };
    const r = newReported();
    r.set([200, 2, 100, 1]);
    const got = message((w) => {
      w.openSet(FLOW_TEMPLATE_ID);
      writeFlowRecord(w, c, ctx, 0, r, 2);
    });
    const body = got.subarray(20);
    expect(body.subarray(13, 25).toString('hex'), 'no server leg').to.equal('0'.repeat(24));
    expect(body.subarray(25, 57).toString('hex')).to.equal(hex('000000000000012c 0000000000000003 0000000000000320 0000000000000003').toString('hex'));
    expect([...r]).to.deep.equal([500, 5, 900, 4]);
    expect(body[77], 'flowEndReason').to.equal(2);
    expect(body.subarray(78, 82).toString('hex'), 'no datagram sized: 0 and 0').to.equal('00000000');
    expect(body.subarray(-4).toString('hex'), 'four empty strings').to.equal('00000000');
  });

  it('prefixes strings of 255 bytes or more with 255 and a 16-bit length, and cuts long ones at a character (7, 6.1.6)', function () {
    const s254 = 'a'.repeat(254);
    const s255 = 'b'.repeat(255);
    const got = message((w) => {
      w.openSet(256);
      w.string(s254, 300);
      w.string(s255, 300);
      w.string('abcdef', 4);
      w.string('ééé', 5);
      w.string('', 10);
    });
    const body = got.subarray(20);
    expect(body.subarray(0, 1).toString('hex')).to.equal('fe');
    expect(body.subarray(1, 255).toString()).to.equal(s254);
    expect(body.subarray(255, 258).toString('hex')).to.equal('ff00ff');
    expect(body.subarray(258, 513).toString()).to.equal(s255);
    expect(body.subarray(513).toString('hex')).to.equal(hex('04 61626364', '04 c3a9c3a9', '00').toString('hex'));
  });

  it('gives a string cut below 255 bytes the 1-byte prefix, in the room the 3-byte one would take', function () {
    const got = message((w) => {
      w.openSet(256);
      w.string('é'.repeat(128), 255); // 256 bytes, at most 255: cut to 254, between two characters
      w.u8(0x42);
    }, 0, 0, 0, false);
    const body = got.subarray(20);
    expect(body.length).to.equal(1 + 254 + 1);
    expect(body[0]).to.equal(254);
    expect(body.subarray(1, 255).toString()).to.equal('é'.repeat(127));
    expect(body[255]).to.equal(0x42);
  });

  it('maps every end reason to an IANA flowEndReason', function () {
    expect(FLOW_END_REASON[EndReason.Fin]).to.equal(3);
    expect(FLOW_END_REASON[EndReason.ClientReset]).to.equal(3);
    expect(FLOW_END_REASON[EndReason.IdleTimeout]).to.equal(1);
    expect(FLOW_END_REASON[EndReason.HandshakeTimeout]).to.equal(1);
    expect(FLOW_END_REASON[EndReason.Moved]).to.equal(4);
    expect(FLOW_END_REASON[EndReason.Shutdown]).to.equal(4);
    expect(FLOW_END_REASON.length).to.equal(EndReason.Shutdown + 1);
    expect([...FLOW_END_REASON].every((v) => v >= 1 && v <= 5)).to.equal(true);
  });
});
