import { expect } from 'chai';
import { PacketPool, VNET_F_NEEDS_CSUM } from '../../../appliance/device/packet-pool';
import { FinMerge } from '../../../appliance/forward/fin-merge';
import { ACK, FIN, PSH, SYN } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr } from '../wire/packets';
import { a6, tcp6 } from '../wire/packets6';

/**
 * Batching (issue 15): a bare FIN behind the data segment it closes, in the TUN's queue, joins
 * it. Golden bytes: the joined datagram must be exactly the one the server would have sent with
 * data and FIN in one segment (checksum included), and everything else must stay as it was.
 */

const VIP = ip('198.18.0.100');
const CLIENT = ip('198.18.0.2');
const DATA = Buffer.from('HTTP/1.0 200 OK\r\n\r\nhello\n');
const at = (over: object) => tcpRepr({ srcPort: 1080, dstPort: 40000, seq: 5000, ack: 1065, flags: ACK | PSH, window: 500, ...over });

function rig() {
  const pool = new PacketPool(16, 1500);
  const merge = new FinMerge(pool);
  const put = (b: Buffer) => {
    const s = pool.take();
    pool.buf.set(b, pool.ipOffset(s));
    return s;
  };
  const bytes = (s: number, len: number) => Buffer.from(pool.buf.subarray(pool.ipOffset(s), pool.ipOffset(s) + len));
  return { pool, merge, put, bytes };
}

describe('forward/fin-merge: a bare FIN joins the data segment before it in the TUN\'s queue', function () {
  it('IPv4: data then FIN|ACK (a later ACK and window) become the one segment data|FIN with them, checksum whole', function () {
    const r = rig();
    const data = segment(VIP, CLIENT, at({}), DATA);
    const fin = segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, ack: 1066, flags: ACK | FIN, window: 501 }));
    const t = r.put(data);
    expect(r.merge.into(t, data.length, r.put(fin), fin.length)).to.equal(true);
    expect(r.bytes(t, data.length).toString('hex')).to.equal(segment(VIP, CLIENT, at({ ack: 1066, flags: ACK | PSH | FIN, window: 501 }), DATA).toString('hex'));
    expect(r.merge.merged).to.equal(1);
  });

  it('IPv6: the same', function () {
    const r = rig();
    const [vip, client] = [a6('2001:db8:18::100'), a6('2001:db8:18::2')];
    const data = tcp6(vip, client, at({ flags: ACK }), DATA);
    const fin = tcp6(vip, client, at({ seq: 5000 + DATA.length, flags: ACK | FIN | PSH }));
    const t = r.put(data);
    expect(r.merge.into(t, data.length, r.put(fin), fin.length)).to.equal(true);
    expect(r.bytes(t, data.length).toString('hex')).to.equal(tcp6(vip, client, at({ flags: ACK | PSH | FIN }), DATA).toString('hex'));
  });

  it('a partial (offloaded) checksum is left for the kernel to finish', function () {
    const r = rig();
    const data = segment(VIP, CLIENT, at({}), DATA);
    const fin = segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, ack: 1066, flags: ACK | FIN }));
    const t = r.put(data);
    r.pool.vnetFlags[t] = VNET_F_NEEDS_CSUM;
    expect(r.merge.into(t, data.length, r.put(fin), fin.length)).to.equal(true);
    const want = segment(VIP, CLIENT, at({ ack: 1066, flags: ACK | PSH | FIN }), DATA);
    want.set(data.subarray(36, 38), 36); // the checksum field as it came
    expect(r.bytes(t, data.length).toString('hex')).to.equal(want.toString('hex'));
  });

  const refused: [string, () => Buffer, () => Buffer, (pool: PacketPool, tail: number) => void][] = [
    ['another flow (port)', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ dstPort: 40001, seq: 5000 + DATA.length, flags: ACK | FIN })), () => undefined],
    ['another flow (address)', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, ip('198.18.0.3'), at({ seq: 5000 + DATA.length, flags: ACK | FIN })), () => undefined],
    ['a gap before the FIN', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ seq: 5001 + DATA.length, flags: ACK | FIN })), () => undefined],
    ['a FIN with data', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, flags: ACK | FIN }), Buffer.from('x')), () => undefined],
    ['a FIN whose ACK is older', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, ack: 1064, flags: ACK | FIN })), () => undefined],
    ['a FIN with options (SACK)', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, flags: ACK | FIN }), undefined, [1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]), () => undefined],
    ['a tail that is a bare ACK', () => segment(VIP, CLIENT, at({ flags: ACK })), () => segment(VIP, CLIENT, at({ flags: ACK | FIN })), () => undefined],
    ['a tail that has its FIN', () => segment(VIP, CLIENT, at({ flags: ACK | FIN }), DATA), () => segment(VIP, CLIENT, at({ seq: 5001 + DATA.length, flags: ACK | FIN })), () => undefined],
    ['a tail that is a SYN', () => segment(VIP, CLIENT, at({ flags: SYN | ACK }), DATA), () => segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, flags: ACK | FIN })), () => undefined],
    ['a GSO super-packet', () => segment(VIP, CLIENT, at({}), DATA), () => segment(VIP, CLIENT, at({ seq: 5000 + DATA.length, flags: ACK | FIN })), (pool, tail) => { pool.gsoType[tail] = 1; }],
  ];
  for (const [what, data, fin, prepare] of refused) {
    it(`not joined: ${what}; the queue's datagram is left as it was`, function () {
      const r = rig();
      const d = data();
      const f = fin();
      const t = r.put(d);
      prepare(r.pool, t);
      expect(r.merge.into(t, d.length, r.put(f), f.length)).to.equal(false);
      expect(r.bytes(t, d.length).toString('hex')).to.equal(d.toString('hex'));
      expect(r.merge.merged).to.equal(0);
    });
  }
});
