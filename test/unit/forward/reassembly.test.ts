import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { MAX_FRAGMENTS, REASSEMBLY_DROPS, Reassembler, type ReassemblyDrop } from '../../../appliance/forward/reassembly';
import { emitIpv4, Ipv4Error, Ipv4View, IPV4_MIN_HEADER, PROTO_TCP } from '../../../appliance/wire/ipv4';
import { ip } from '../wire/packets';

const SRC = ip('198.18.0.2');
const DST = ip('198.18.0.100');
/** NOP, NOP, NOP, end of options: not copied into fragments after the first (RFC 791). */
const OPTIONS = Buffer.from([1, 1, 1, 0]);

interface Spec {
  src?: number;
  id?: number;
  offset: number;
  data: Buffer;
  more: boolean;
  options?: Buffer;
}

/** One datagram or fragment of it, checksum filled; offset 0 with `more` false is the whole datagram. */
function packet(s: Spec): Buffer {
  const hl = IPV4_MIN_HEADER + (s.options?.length ?? 0);
  const b = Buffer.alloc(hl + s.data.length);
  emitIpv4({ src: s.src ?? SRC, dst: DST, protocol: PROTO_TCP, payloadLength: 0, ttl: 64, identification: s.id ?? 0x4242, dontFragment: false }, b, 0);
  b[0] = 0x40 | (hl / 4);
  b.writeUInt16BE(b.length, 2);
  s.options?.copy(b, IPV4_MIN_HEADER);
  b[6] = (s.more ? 0x20 : 0) | ((s.offset / 8) >> 8);
  b[7] = (s.offset / 8) & 0xff;
  s.data.copy(b, hl);
  new Ipv4View().wrap(b, 0, b.length).fillChecksum();
  return b;
}

/** The whole datagram, and its fragments of `size` payload bytes (a multiple of 8); options go in the first. */
function fragments(payload: Buffer, size: number, o: { src?: number; id?: number; options?: Buffer } = {}): { whole: Buffer; parts: Buffer[] } {
  const whole = packet({ ...o, offset: 0, data: payload, more: false });
  const parts: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const end = Math.min(at + size, payload.length);
    parts.push(packet({ ...o, options: at === 0 ? o.options : undefined, offset: at, data: payload.subarray(at, end), more: end < payload.length }));
  }
  return { whole, parts };
}

function bytes(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed * 13) & 255));
}

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('forward/reassembly', function () {
  const payload = bytes(1000, 0);

  function feed(r: Reassembler, pool: PacketPool, b: Buffer, now = 0): number {
    const slot = pool.take();
    expect(slot).to.be.greaterThanOrEqual(0);
    pool.buf.set(b, pool.ipOffset(slot));
    const v = new Ipv4View().wrap(pool.buf, pool.ipOffset(slot), b.length);
    expect(v.check()).to.equal(Ipv4Error.None);
    expect(v.isFragment).to.equal(true);
    return r.add(slot, v, now);
  }

  /** The datagram in `slot` (then given back), as bytes. */
  function take(r: Reassembler, pool: PacketPool, slot: number): string {
    expect(slot).to.be.greaterThanOrEqual(0);
    const out = Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + r.lastLength)).toString('hex');
    pool.give(slot);
    return out;
  }

  /** The drops that are not zero. */
  function dropped(r: Reassembler): Partial<Record<ReassemblyDrop, number>> {
    return Object.fromEntries(REASSEMBLY_DROPS.filter((k) => r.drops[k] !== 0).map((k) => [k, r.drops[k]]));
  }

  it('rebuilds the datagram from fragments in any order, header fixed', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { whole, parts } = fragments(payload, 400);
    expect(parts).to.have.length(3);
    expect(feed(r, pool, parts[2])).to.equal(-1);
    expect(feed(r, pool, parts[0])).to.equal(-1);
    expect(r.pending).to.equal(1);
    expect(take(r, pool, feed(r, pool, parts[1]))).to.equal(whole.toString('hex'));
    expect(pool.available).to.equal(16);
    expect(r.completed).to.equal(1);
    expect(r.pending).to.equal(0);
    expect(dropped(r)).to.deep.equal({});
  });

  it('takes the first fragment\'s header and options, even when it comes last, and a full 1500-byte datagram', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const a = fragments(payload, 400, { options: OPTIONS });
    expect(feed(r, pool, a.parts[1])).to.equal(-1);
    expect(feed(r, pool, a.parts[2])).to.equal(-1);
    expect(take(r, pool, feed(r, pool, a.parts[0]))).to.equal(a.whole.toString('hex'));
    // 1480 bytes of payload: the largest that fits a 1500-byte slot with a plain header.
    const b = fragments(bytes(1480, 1), 576, { id: 7 });
    expect(feed(r, pool, b.parts[2])).to.equal(-1);
    expect(feed(r, pool, b.parts[1])).to.equal(-1);
    expect(take(r, pool, feed(r, pool, b.parts[0]))).to.equal(b.whole.toString('hex'));
    expect(pool.available).to.equal(16);
  });

  it('drops the whole datagram on an overlap, and discards the rest of it until its timeout', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { whole, parts } = fragments(payload, 400);
    expect(feed(r, pool, parts[0], 0)).to.equal(-1);
    // Bytes 200..600: half of what fragment 0 holds, half of fragment 1's place.
    expect(feed(r, pool, packet({ offset: 200, data: Buffer.alloc(400, 0xee), more: true }), 1)).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ overlap: 1 });
    expect(r.pending).to.equal(0);
    expect(pool.available).to.equal(16); // the slot is back, only the entry stays
    for (const p of [parts[1], parts[2], parts[0]]) expect(feed(r, pool, p, 2)).to.equal(-1);
    expect(r.completed).to.equal(0);
    expect(dropped(r)).to.deep.equal({ overlap: 1 }); // one datagram, counted once
    r.expire(30);
    // The same fragments once the entry has expired: a datagram of their own.
    for (const p of [parts[1], parts[2]]) expect(feed(r, pool, p, 31)).to.equal(-1);
    expect(take(r, pool, feed(r, pool, parts[0], 31))).to.equal(whole.toString('hex'));
    expect(pool.available).to.equal(16);
  });

  it('treats a fragment in the same place with other bytes as an overlap, an exact repeat as a duplicate', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { whole, parts } = fragments(payload, 400);
    feed(r, pool, parts[1]);
    expect(feed(r, pool, parts[1])).to.equal(-1);
    expect(r.duplicates).to.equal(1);
    feed(r, pool, parts[2]);
    expect(take(r, pool, feed(r, pool, parts[0]))).to.equal(whole.toString('hex'));

    const b = fragments(payload, 400, { id: 2 });
    feed(r, pool, b.parts[1]);
    const changed = Buffer.from(b.parts[1]);
    changed[changed.length - 1] ^= 1;
    new Ipv4View().wrap(changed, 0, changed.length).fillChecksum();
    expect(feed(r, pool, changed)).to.equal(-1);
    feed(r, pool, b.parts[0]);
    expect(feed(r, pool, b.parts[2])).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ overlap: 1 });
    expect(r.completed).to.equal(1);
    expect(pool.available).to.equal(16);
  });

  it('drops fragments that disagree on the end, or are not the last and not a multiple of 8 bytes', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { parts } = fragments(payload, 400);
    feed(r, pool, parts[2]); // ends at 1000
    expect(feed(r, pool, packet({ offset: 1000, data: Buffer.alloc(8), more: false }))).to.equal(-1); // ends at 1008
    feed(r, pool, parts[0]);
    expect(feed(r, pool, parts[1])).to.equal(-1);
    // A fragment running past the end a last fragment gave.
    feed(r, pool, packet({ id: 2, offset: 400, data: Buffer.alloc(8), more: false }));
    feed(r, pool, packet({ id: 2, offset: 400, data: Buffer.alloc(16), more: true }));
    // 12 bytes in a fragment that has more after it.
    feed(r, pool, packet({ id: 3, offset: 0, data: Buffer.alloc(12), more: true }));
    expect(dropped(r)).to.deep.equal({ inconsistent: 3 });
    expect(r.completed).to.equal(0);
    expect(pool.available).to.equal(16);
  });

  it('drops a datagram larger than a slot, or than IP allows', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    // The slot made for 1500 bytes holds 1512 (rounding): 1488 bytes of payload after a
    // 20-byte header fit, 1496 do not.
    expect(feed(r, pool, packet({ offset: 1480, data: Buffer.alloc(8), more: false }))).to.equal(-1);
    expect(r.pending).to.equal(1);
    expect(feed(r, pool, packet({ id: 2, offset: 1488, data: Buffer.alloc(8), more: false }))).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ 'too-big': 1 });
    // Options in fragment 0 that push the datagram over.
    feed(r, pool, packet({ id: 3, offset: 1480, data: Buffer.alloc(8), more: false }));
    feed(r, pool, packet({ id: 3, offset: 0, data: Buffer.alloc(1480), more: true, options: Buffer.alloc(12, 1) }));
    expect(dropped(r)).to.deep.equal({ 'too-big': 2 });

    const jumbo = new PacketPool(2, 65535, 1);
    const j = new Reassembler(jumbo, 1 << 20, 30);
    // Offset 65528 and 8 bytes: 65556 with the header, the ping of death.
    expect(feed(j, jumbo, packet({ offset: 65528, data: Buffer.alloc(8), more: false }))).to.equal(-1);
    expect(dropped(j)).to.deep.equal({ 'too-big': 1 });
  });

  it(`drops a datagram in more than ${MAX_FRAGMENTS} fragments`, function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { parts } = fragments(bytes(8 * (MAX_FRAGMENTS + 2), 3), 8);
    for (let i = 1; i <= MAX_FRAGMENTS; i++) expect(feed(r, pool, parts[i])).to.equal(-1);
    expect(dropped(r)).to.deep.equal({});
    expect(feed(r, pool, parts[MAX_FRAGMENTS + 1])).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ 'too-many-fragments': 1 });
    expect(feed(r, pool, parts[0])).to.equal(-1);
    expect(r.completed).to.equal(0);
  });

  it('drops an incomplete datagram after the timeout', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const { parts } = fragments(payload, 400);
    feed(r, pool, parts[0], 0);
    feed(r, pool, parts[1], 20);
    r.expire(29.9);
    expect(r.pending).to.equal(1);
    r.expire(30);
    expect(dropped(r)).to.deep.equal({ timeout: 1 });
    expect(r.pending).to.equal(0);
    expect(pool.available).to.equal(16);
  });

  it('bounds each source: the oldest datagram of a source at its bound makes room', function () {
    const pool = new PacketPool(32, 1500);
    const r = new Reassembler(pool, 8 * pool.smallSize, 30, 2 * pool.smallSize);
    const d = [1, 2, 3].map((id) => fragments(bytes(1000, id), 400, { id }));
    for (const x of d) feed(r, pool, x.parts[0]);
    expect(dropped(r)).to.deep.equal({ 'per-source': 1 });
    expect(r.pending).to.equal(2);
    for (const x of d.slice(1)) feed(r, pool, x.parts[1]);
    expect(take(r, pool, feed(r, pool, d[1].parts[2]))).to.equal(d[1].whole.toString('hex'));
    expect(take(r, pool, feed(r, pool, d[2].parts[2]))).to.equal(d[2].whole.toString('hex'));
    // The evicted one lost fragment 0: its other fragments alone never complete.
    feed(r, pool, d[0].parts[1]);
    expect(feed(r, pool, d[0].parts[2])).to.equal(-1);
    expect(r.completed).to.equal(2);
  });

  it('at the total bound, takes from the source holding the most', function () {
    const pool = new PacketPool(32, 1500);
    const r = new Reassembler(pool, 4 * pool.smallSize, 30, 2 * pool.smallSize);
    const [A, B, C, D] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map(ip);
    const a1 = fragments(bytes(1000, 1), 400, { src: A, id: 1 });
    const a2 = fragments(bytes(1000, 2), 400, { src: A, id: 2 });
    const b = fragments(bytes(1000, 3), 400, { src: B, id: 1 });
    const c = fragments(bytes(1000, 4), 400, { src: C, id: 1 });
    const d = fragments(bytes(1000, 5), 400, { src: D, id: 1 });
    for (const x of [a1, b, a2, c]) feed(r, pool, x.parts[0]);
    expect(dropped(r)).to.deep.equal({});
    feed(r, pool, d.parts[0]); // full: A holds two, and gives up a1
    expect(dropped(r)).to.deep.equal({ 'over-cap': 1 });
    for (const x of [a2, b, c, d]) {
      feed(r, pool, x.parts[1]);
      expect(take(r, pool, feed(r, pool, x.parts[2]))).to.equal(x.whole.toString('hex'));
    }
    feed(r, pool, a1.parts[1]);
    expect(feed(r, pool, a1.parts[2])).to.equal(-1);
    expect(pool.available).to.equal(31);
  });

  it('counts a datagram refused for want of a slot', function () {
    const pool = new PacketPool(2, 1500);
    const r = new Reassembler(pool, 1 << 20, 30);
    const held = pool.take();
    expect(feed(r, pool, fragments(payload, 400).parts[0])).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ 'pool-exhausted': 1 });
    pool.give(held);
    expect(pool.available).to.equal(2);
  });

  for (const flooders of [1, 12]) {
    it(`completes another source's datagrams byte for byte under a flood from ${flooders} source(s), the flood within its bound`, function () {
      const POOL = 1024;
      const pool = new PacketPool(POOL, 1500);
      const r = new Reassembler(pool, 64 * pool.smallSize, 30); // a source's bound: 8
      const rand = random(flooders);
      const sources = Array.from({ length: flooders }, (_, i) => ip(`203.0.113.${i + 1}`));
      const LEGIT = 300;
      const FLOOD = 6000;
      // Two legitimate datagrams in flight at a time, their fragments in a random order,
      // a random number of flood fragments between any two of them.
      const legit = Array.from({ length: LEGIT }, (_, i) => fragments(bytes(600 + (i % 7) * 128, i), 256, { id: i }));
      const queue: Buffer[] = [];
      for (let i = 0; i < LEGIT; i += 2) {
        queue.push(...[...legit[i].parts, ...legit[i + 1].parts].sort(() => rand() - 0.5));
      }
      const got: string[] = [];
      let flood = 0;
      let most = 0;
      let now = 0;
      const floodOne = () => {
        // Never completes: a fragment with more after it, at a random place, a new id each time.
        const src = sources[flood % flooders];
        const id = Math.floor(flood / flooders);
        const offset = 8 * Math.floor(rand() * 100);
        feed(r, pool, packet({ src, id, offset, data: Buffer.alloc(8 * (1 + Math.floor(rand() * 60)), 0xff), more: true }), now);
        flood++;
      };
      for (const part of queue) {
        const n = Math.floor(rand() * (2 * FLOOD / queue.length));
        for (let k = 0; k < n && flood < FLOOD; k++) floodOne();
        const slot = feed(r, pool, part, now);
        if (slot >= 0) got.push(take(r, pool, slot));
        most = Math.max(most, POOL - pool.available);
        now += 0.001;
        r.expire(now);
      }
      while (flood < FLOOD) floodOne();
      most = Math.max(most, POOL - pool.available);
      // Each pair completes in either order.
      expect(got.sort()).to.deep.equal(legit.map((x) => x.whole.toString('hex')).sort());
      expect(r.completed).to.equal(LEGIT);
      // The flood held at most its bound (8 slots for one source, 64 for all), plus the two
      // legitimate datagrams in flight; every flood datagram is dropped or still held.
      expect(most).to.be.at.most(flooders === 1 ? 8 + 2 : 64);
      expect(r.pending).to.equal(flooders === 1 ? 8 : 64);
      expect(r.drops['per-source'] + r.drops['over-cap'] + r.pending).to.equal(FLOOD);
      expect(Object.keys(dropped(r)).sort()).to.deep.equal(flooders === 1 ? ['per-source'] : ['over-cap', 'per-source'].filter((k) => r.drops[k as ReassemblyDrop] > 0));
      expect(pool.available).to.equal(POOL - r.pending);
    });
  }
});
