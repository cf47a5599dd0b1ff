import { expect } from 'chai';
import { Connection } from '../../../appliance/flow/connection';
import { rewriteToClient, rewriteToServer } from '../../../appliance/flow/splice';
import { Ipv4View, IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, PSH, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';

const CLIENT = ip('198.18.0.2');
const VIP = ip('198.18.0.100');
const LOCAL = ip('198.19.1.1');
const SERVER = ip('198.19.1.2');

function spliced(): Connection {
  const c = new Connection(CLIENT, 40000, VIP, 0);
  c.server = 0;
  c.allocPort = 1024;
  c.clientIsn = 1000;
  c.delta = 0x10000000 - 0x2000; // client leg ISN minus server leg ISN, as the splice saw it
  return c;
}

function run(b: Buffer, f: (ipv: Ipv4View, t: TcpView, o: TcpOptions) => void): Buffer {
  const ipv = new Ipv4View().wrap(b, 0, b.length);
  const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
  const o = new TcpOptions();
  expect(t.readOptions(o)).to.equal(true);
  f(ipv, t, o);
  return b;
}

const sack = (edges: number[]) => {
  const out = [0x01, 0x01, 0x05, 2 + edges.length * 4];
  for (const e of edges) out.push(e >>> 24, (e >>> 16) & 255, (e >>> 8) & 255, e & 255);
  return out;
};

/**
 * Golden tests in the manner of Katran's: an input datagram, and the exact datagram expected
 * out, built independently from scratch with fresh checksums. Equal bytes prove the
 * incremental (RFC 1624) updates right too.
 */
describe('flow/splice: golden rewrites', function () {
  it('client -> server: both addresses, both ports, ack and SACK edges - delta', function () {
    const c = spliced();
    const payload = Buffer.from('GET / HTTP/1.1\r\n');
    const input = segment(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 5000, ack: 0x10000100, flags: ACK | PSH, window: 502 }), payload, sack([0x10000200, 0x10000300]));
    const expected = segment(LOCAL, SERVER, tcpRepr({ srcPort: 1024, dstPort: 1080, seq: 5000, ack: 0x2100, flags: ACK | PSH, window: 502 }), payload, sack([0x2200, 0x2300]));
    const out = run(input, (v, t, o) => rewriteToServer(v, t, o, c, LOCAL, SERVER, 1080, 0));
    expect(out.toString('hex')).to.equal(expected.toString('hex'));
  });

  it('server -> client: addresses back to the VIP, seq + delta, window rescaled from scale 9 to 7', function () {
    const c = spliced();
    c.windowShiftToClient = 9 - 7;
    const payload = Buffer.from('HTTP/1.1 200 OK\r\n');
    const input = segment(SERVER, LOCAL, tcpRepr({ srcPort: 1080, dstPort: 1024, seq: 0x2000, ack: 5016, flags: ACK, window: 1000 }), payload, sack([7000, 8000]));
    const expected = segment(VIP, CLIENT, tcpRepr({ srcPort: 1080, dstPort: 40000, seq: 0x10000000, ack: 5016, flags: ACK, window: 4000 }), payload, sack([7000, 8000]));
    const out = run(input, (v, t, o) => rewriteToClient(v, t, o, c, 1080, 0));
    expect(out.toString('hex')).to.equal(expected.toString('hex'));
  });

  it('clamps a rescaled window, scales down the other way, and wraps sequence numbers', function () {
    const c = spliced();
    c.delta = -0x100;
    c.windowShiftToClient = 14;
    const input = segment(SERVER, LOCAL, tcpRepr({ srcPort: 1080, dstPort: 1024, seq: 0x80, ack: 1, flags: ACK, window: 10 }));
    const expected = segment(VIP, CLIENT, tcpRepr({ srcPort: 1080, dstPort: 40000, seq: 0xffffff80, ack: 1, flags: ACK, window: 0xffff }));
    expect(run(input, (v, t, o) => rewriteToClient(v, t, o, c, 1080, 0)).toString('hex')).to.equal(expected.toString('hex'));

    c.windowShiftToServer = -3;
    c.delta = 0;
    const up = segment(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 1, ack: 2, flags: ACK, window: 800 }));
    const upExpected = segment(LOCAL, SERVER, tcpRepr({ srcPort: 1024, dstPort: 1080, seq: 1, ack: 2, flags: ACK, window: 100 }));
    expect(run(up, (v, t, o) => rewriteToServer(v, t, o, c, LOCAL, SERVER, 1080, 0)).toString('hex')).to.equal(upExpected.toString('hex'));
  });

  it('strips a timestamp that appears anyway', function () {
    const c = spliced();
    c.delta = 0;
    const ts = [0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2];
    const input = segment(CLIENT, VIP, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 9, ack: 9, flags: ACK, window: 9 }), undefined, ts);
    const expected = segment(LOCAL, SERVER, tcpRepr({ srcPort: 1024, dstPort: 1080, seq: 9, ack: 9, flags: ACK, window: 9 }), undefined, new Array(12).fill(0x01));
    expect(run(input, (v, t, o) => rewriteToServer(v, t, o, c, LOCAL, SERVER, 1080, 0)).toString('hex')).to.equal(expected.toString('hex'));
  });
});
