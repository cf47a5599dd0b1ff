import { expect } from 'chai';
import { IPV4_MIN_HEADER } from '../../../appliance/wire/ipv4';
import { ACK, parseTcp, SYN, TcpError, TcpOptions, TcpView } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from './packets';

const C = ip('198.18.0.2');
const V = ip('198.18.0.100');

// A Linux client's SYN: MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
const LINUX_SYN_OPTIONS = [0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0, 0, 0x30, 0x39, 0, 0, 0, 0, 0x01, 0x03, 0x03, 0x07];

describe('wire/tcp', function () {
  it('deconstructs a SYN with Linux options', function () {
    const b = segment(C, V, tcpRepr({ srcPort: 40000, dstPort: 1080, seq: 0xdeadbeef, flags: SYN, window: 64240 }), undefined, LINUX_SYN_OPTIONS);
    const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
    const o = new TcpOptions();
    expect(t.check()).to.equal(TcpError.None);
    expect(t.checksumValid(C, V)).to.equal(true);
    expect(t.srcPort).to.equal(40000);
    expect(t.dstPort).to.equal(1080);
    expect(t.seq).to.equal(0xdeadbeef);
    expect(t.flags).to.equal(SYN);
    expect(t.headerLength).to.equal(40);
    expect(t.seqLength).to.equal(1);
    expect(t.readOptions(o)).to.equal(true);
    expect(o.mss).to.equal(1460);
    expect(o.sackPermitted).to.equal(true);
    expect(o.wscale).to.equal(7);
    expect(o.timestampOffset).to.equal(IPV4_MIN_HEADER + 20 + 6);
    expect(o.sackBlocks).to.equal(0);
  });

  it('constructs a SYN-ACK and parses back what it emitted', function () {
    const r = tcpRepr({ srcPort: 1080, dstPort: 40000, seq: 1, ack: 0xdeadbef0, flags: SYN | ACK, window: 65535, mss: 1460, wscale: 7, sackPermitted: true });
    const b = segment(V, C, r);
    expect(b.subarray(IPV4_MIN_HEADER + 20).toString('hex')).to.equal('020405b4' + '01030307' + '01010402');
    const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
    expect(t.checksumValid(V, C)).to.equal(true);
    expect(parseTcp(t, new TcpOptions())).to.deep.equal(r);
  });

  it('finds SACK blocks', function () {
    const sack = [0x01, 0x01, 0x05, 0x12, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40];
    const b = segment(C, V, tcpRepr({ flags: ACK }), undefined, sack);
    const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
    const o = new TcpOptions();
    expect(t.readOptions(o)).to.equal(true);
    expect(o.sackBlocks).to.equal(2);
    expect(o.sackOffset).to.equal(IPV4_MIN_HEADER + 24);
    t.shiftSack(o, 5);
    expect(t.checksumValid(C, V)).to.equal(true);
    expect(b.readUInt32BE(o.sackOffset)).to.equal(15);
    expect(b.readUInt32BE(o.sackOffset + 12)).to.equal(45);
  });

  it('rejects truncated and inconsistent options', function () {
    const o = new TcpOptions();
    for (const bad of [[0x01, 0x01, 0x01, 0x02], [0x01, 0x01, 0x02, 0x04], [0x02, 0x05, 0, 0], [0x03, 0x02, 0, 0], [0x05, 0x06, 0, 0, 0, 0, 0, 0], [0x08, 0x0a, 0, 0]]) {
      const padded = [...bad, ...new Array((4 - (bad.length % 4)) % 4).fill(0)];
      const b = segment(C, V, tcpRepr({ flags: ACK }), undefined, padded);
      const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
      expect(t.readOptions(o), bad.join(',')).to.equal(false);
    }
  });

  it('rejects a bad data offset and notices a bad checksum', function () {
    const b = segment(C, V, tcpRepr({ flags: ACK }), Buffer.from('hello'));
    const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
    expect(t.payloadLength).to.equal(5);
    b[IPV4_MIN_HEADER + 12] = 0x40;
    expect(t.check()).to.equal(TcpError.DataOffset);
    b[IPV4_MIN_HEADER + 12] = 0xf0;
    expect(t.check()).to.equal(TcpError.DataOffset);
    b[IPV4_MIN_HEADER + 12] = 0x50;
    b[b.length - 1] ^= 0xff;
    expect(t.checksumValid(C, V)).to.equal(false);
    expect(new TcpView().wrap(b, IPV4_MIN_HEADER, 19).check()).to.equal(TcpError.Truncated);
  });

  it('NOPs out a timestamp keeping the checksum right, at odd and even positions', function () {
    for (const lead of [[], [0x01]]) {
      const opts = [...lead, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8];
      const padded = [...opts, ...new Array((4 - (opts.length % 4)) % 4).fill(0)];
      const b = segment(C, V, tcpRepr({ flags: ACK }), Buffer.from('x'), padded);
      const t = new TcpView().wrap(b, IPV4_MIN_HEADER, b.length - IPV4_MIN_HEADER);
      const o = new TcpOptions();
      t.readOptions(o);
      t.nopOut(o.timestampOffset, 10);
      expect(t.checksumValid(C, V)).to.equal(true);
      t.readOptions(o);
      expect(o.timestampOffset).to.equal(-1);
    }
  });
});
