import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Reassembler } from '../../../appliance/forward/reassembly';
import { emitIpv4, Ipv4Error, Ipv4View, IPV4_MIN_HEADER, PROTO_TCP } from '../../../appliance/wire/ipv4';
import { ip } from '../wire/packets';

const SRC = ip('198.18.0.2');
const DST = ip('198.18.0.100');

/** The whole datagram, and its fragments of `size` payload bytes (a multiple of 8). */
function fragments(payload: Buffer, size: number): { whole: Buffer; parts: Buffer[] } {
  const whole = Buffer.alloc(IPV4_MIN_HEADER + payload.length);
  emitIpv4({ src: SRC, dst: DST, protocol: PROTO_TCP, payloadLength: payload.length, ttl: 64, identification: 0x4242, dontFragment: false }, whole, 0);
  payload.copy(whole, IPV4_MIN_HEADER);
  const parts: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const n = Math.min(size, payload.length - at);
    const b = Buffer.alloc(IPV4_MIN_HEADER + n);
    emitIpv4({ src: SRC, dst: DST, protocol: PROTO_TCP, payloadLength: n, ttl: 64, identification: 0x4242, dontFragment: false }, b, 0);
    const more = at + n < payload.length ? 0x20 : 0;
    b[6] = more | ((at / 8) >> 8);
    b[7] = (at / 8) & 0xff;
    new Ipv4View().wrap(b, 0, b.length).fillChecksum();
    payload.copy(b, IPV4_MIN_HEADER, at, at + n);
    parts.push(b);
  }
  return { whole, parts };
}

describe('forward/reassembly', function () {
  const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 255));

  function feed(r: Reassembler, pool: PacketPool, b: Buffer, now = 0): number {
    const slot = pool.take();
    pool.buf.set(b, pool.ipOffset(slot));
    const v = new Ipv4View().wrap(pool.buf, pool.ipOffset(slot), b.length);
    expect(v.check()).to.equal(Ipv4Error.None);
    expect(v.isFragment).to.equal(true);
    return r.add(slot, v, now);
  }

  it('rebuilds the datagram from fragments in any order, header fixed', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { whole, parts } = fragments(payload, 400);
    expect(parts).to.have.length(3);
    expect(feed(r, pool, parts[2])).to.equal(-1);
    expect(feed(r, pool, parts[0])).to.equal(-1);
    const slot = feed(r, pool, parts[1]);
    expect(slot).to.be.greaterThanOrEqual(0);
    const out = pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + r.lastLength);
    expect(out.toString('hex')).to.equal(whole.toString('hex'));
    pool.give(slot);
    expect(pool.available).to.equal(16);
    expect(r.stats.completed).to.equal(1);
  });

  it('drops an incomplete datagram after the timeout, and refuses past the memory cap', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, pool.smallSize, 30);
    const { parts } = fragments(payload, 400);
    feed(r, pool, parts[0], 0);
    const other = fragments(Buffer.alloc(16), 8).parts[0];
    other[5] = 0x43; // another datagram id
    new Ipv4View().wrap(other, 0, other.length).fillChecksum();
    expect(feed(r, pool, other, 1)).to.equal(-1);
    expect(r.stats.dropped).to.equal(1); // the cap holds one datagram
    r.expire(31);
    expect(r.stats.timedOut).to.equal(1);
    expect(pool.available).to.equal(16);
  });
});
