import { expect } from 'chai';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { PARAMETER_PROBLEM, REASSEMBLY6_DROPS, Reassembler6, type Reassembly6Drop } from '../../../appliance/forward/reassembly6';
import { PARAMETER_HEADER, PARAMETER_HEADER_CHAIN } from '../../../appliance/wire/icmpv6';
import {
  DESTINATION_OPTIONS, FRAGMENT, HOP_BY_HOP, Ipv6Error, Ipv6HeaderError, Ipv6Headers, Ipv6View, NO_NEXT_HEADER, PROTO_ICMPV6, ROUTING,
} from '../../../appliance/wire/ipv6';
import { a6, datagram6, ext } from '../wire/packets6';

const SRC = a6('2001:db8:0:1::2');
const DST = a6('2001:db8:0:2::100');
const UDP = 17;
const TCP = 6;
/** PadN of 4: the rest of an 8-byte options header. */
const PAD = [1, 4, 0, 0, 0, 0];

interface Spec {
  src?: Uint8Array;
  dst?: Uint8Array;
  id?: number;
  offset: number;
  more: boolean;
  data: Uint8Array;
  /** The fragment header's Next Header. */
  next?: number;
  /** Extension headers before the fragment header (the unfragmentable part), by type. */
  before?: number[];
}

/** The unfragmentable extension headers, options of PadN, the last naming `last`; and the type of the first. */
function chain(before: number[], last: number): { first: number; bytes: number[] } {
  let next = last;
  let bytes: number[] = [];
  for (let i = before.length - 1; i >= 0; i--) {
    bytes = [...ext(next, PAD), ...bytes];
    next = before[i];
  }
  return { first: next, bytes };
}

/** One fragment: the fixed header, `before`, the fragment header, `data`. */
function fragment(s: Spec): Buffer {
  const { first, bytes } = chain(s.before ?? [], FRAGMENT);
  const id = s.id ?? 0x12345678;
  const header = [s.next ?? UDP, 0, s.offset >> 8, (s.offset & 0xf8) | (s.more ? 1 : 0), id >>> 24, (id >> 16) & 255, (id >> 8) & 255, id & 255];
  return datagram6(s.src ?? SRC, s.dst ?? DST, first, Buffer.concat([Buffer.from(bytes), Buffer.from(header), s.data]));
}

/** The datagram `payload` makes unfragmented, and its fragments of `size` bytes (a multiple of 8). */
function fragments(payload: Buffer, size: number, o: Omit<Spec, 'offset' | 'more' | 'data'> = {}): { whole: Buffer; parts: Buffer[] } {
  const { first, bytes } = chain(o.before ?? [], o.next ?? UDP);
  const whole = datagram6(o.src ?? SRC, o.dst ?? DST, first, Buffer.concat([Buffer.from(bytes), payload]));
  const parts: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const end = Math.min(at + size, payload.length);
    parts.push(fragment({ ...o, offset: at, data: payload.subarray(at, end), more: end < payload.length }));
  }
  return { whole, parts };
}

/** `n` bytes that start with a UDP header (as RFC 7112 wants in a first fragment), then a pattern. */
function udp(n: number, seed: number): Buffer {
  const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed * 13) & 255));
  b.writeUInt16BE(n, 4);
  return b;
}

describe('forward/reassembly6', function () {
  const payload = udp(1000, 0);

  /** `b` in a slot of `pool`, checked and walked as the validator would. */
  function load(pool: PacketPool, b: Buffer): { slot: number; v: Ipv6View; h: Ipv6Headers } {
    const slot = pool.take();
    expect(slot).to.be.greaterThanOrEqual(0);
    pool.buf.set(b, pool.ipOffset(slot));
    const v = new Ipv6View().wrap(pool.buf, pool.ipOffset(slot), b.length);
    expect(v.check()).to.equal(Ipv6Error.None);
    const h = new Ipv6Headers();
    expect(v.readHeaders(h)).to.equal(Ipv6HeaderError.None);
    return { slot, v, h };
  }

  function feed(r: Reassembler6, pool: PacketPool, b: Buffer, now = 0): number {
    const { slot, v, h } = load(pool, b);
    return r.add(slot, v, h, now);
  }

  /** Feeds a fragment `add` refuses, whose slot is still ours, unchanged (to be quoted); returns [code, pointer]. */
  function refused(r: Reassembler6, pool: PacketPool, b: Buffer): [number, number] {
    const { slot, v, h } = load(pool, b);
    expect(r.add(slot, v, h, 0)).to.equal(PARAMETER_PROBLEM);
    expect(take(pool, slot, b.length)).to.equal(b.toString('hex'));
    return [r.problemCode, r.problemPointer];
  }

  /** The datagram in `slot` (then given back), as hex. */
  function take(pool: PacketPool, slot: number, length: number): string {
    expect(slot).to.be.greaterThanOrEqual(0);
    const out = Buffer.from(pool.buf.subarray(pool.ipOffset(slot), pool.ipOffset(slot) + length)).toString('hex');
    pool.give(slot);
    return out;
  }

  function dropped(r: Reassembler6): Partial<Record<Reassembly6Drop, number>> {
    return Object.fromEntries(REASSEMBLY6_DROPS.filter((k) => r.drops[k] !== 0).map((k) => [k, r.drops[k]]));
  }

  it('rebuilds the datagram from fragments in order and out of order, fragment header removed', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const { whole, parts } = fragments(payload, 400);
    expect(parts).to.have.length(3);
    expect(feed(r, pool, parts[0])).to.equal(-1);
    expect(feed(r, pool, parts[1])).to.equal(-1);
    expect(take(pool, feed(r, pool, parts[2]), r.lastLength)).to.equal(whole.toString('hex'));
    expect(r.lastLength).to.equal(40 + 1000);
    for (const order of [[2, 0, 1], [1, 2, 0], [2, 1, 0]]) {
      expect(feed(r, pool, parts[order[0]])).to.equal(-1);
      expect(feed(r, pool, parts[order[1]])).to.equal(-1);
      expect(r.pending).to.equal(1);
      expect(take(pool, feed(r, pool, parts[order[2]]), r.lastLength)).to.equal(whole.toString('hex'));
    }
    expect(r.completed).to.equal(4);
    expect(r.pending).to.equal(0);
    expect(pool.available).to.equal(16);
    expect(dropped(r)).to.deep.equal({});
  });

  it('gives the golden bytes: hop-by-hop and destination options kept, Next Header and payload length rewritten', function () {
    const pool = new PacketPool(4, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const data = Buffer.from('04d2162e0018abcd' + '00112233445566778899aabbccddeeff', 'hex'); // UDP 1234 -> 5678, 24 bytes
    const o = { before: [HOP_BY_HOP, DESTINATION_OPTIONS], id: 0xcafe0001 };
    const last = fragment({ ...o, offset: 16, more: false, data: data.subarray(16) });
    expect(last.toString('hex')).to.equal(
      '6000000000200040' + '20010db8000000010000000000000002' + '20010db8000000020000000000000100'
      + '3c00010400000000' + '2c00010400000000' + '11000010cafe0001' + '8899aabbccddeeff',
    );
    expect(feed(r, pool, last)).to.equal(-1);
    const slot = feed(r, pool, fragment({ ...o, offset: 0, more: true, data: data.subarray(0, 16) }));
    expect(take(pool, slot, r.lastLength)).to.equal(
      '6000000000280040' + '20010db8000000010000000000000002' + '20010db8000000020000000000000100'
      + '3c00010400000000' + '1100010400000000' + '04d2162e0018abcd' + '00112233445566778899aabbccddeeff',
    );
    expect(r.lastLength).to.equal(40 + 16 + 24);
  });

  it('keeps the first fragment\'s unfragmentable part whatever the others carry, and a 1500-byte datagram', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const a = fragments(payload, 400, { before: [HOP_BY_HOP, DESTINATION_OPTIONS] });
    // The later fragments without the extension headers: the first one's are the datagram's.
    const plain = fragments(payload, 400);
    expect(feed(r, pool, plain.parts[1])).to.equal(-1);
    expect(feed(r, pool, plain.parts[2])).to.equal(-1);
    expect(take(pool, feed(r, pool, a.parts[0]), r.lastLength)).to.equal(a.whole.toString('hex'));
    // 1460 bytes of payload: 1500 with the header, in fragments of 1232 (the 1280 MTU's).
    const b = fragments(udp(1460, 1), 1232, { id: 7 });
    expect(feed(r, pool, b.parts[1])).to.equal(-1);
    expect(take(pool, feed(r, pool, b.parts[0]), r.lastLength)).to.equal(b.whole.toString('hex'));
    expect(pool.available).to.equal(16);
  });

  it('tells datagrams apart by source, destination and identification', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    // The same identification; one source differs only in its last bit, one destination in its second word, one source in its /64.
    const xs = [
      fragments(udp(600, 1), 304),
      fragments(udp(600, 2), 304, { src: a6('2001:db8:0:1::3') }),
      fragments(udp(600, 3), 304, { dst: a6('2001:db8:1:2::100') }),
      fragments(udp(600, 4), 304, { src: a6('2001:db8:0:3::2') }),
    ];
    for (const x of xs) expect(feed(r, pool, x.parts[0])).to.equal(-1);
    expect(r.pending).to.equal(4);
    for (const x of xs.reverse()) expect(take(pool, feed(r, pool, x.parts[1]), r.lastLength)).to.equal(x.whole.toString('hex'));
    expect(dropped(r)).to.deep.equal({});
    expect(pool.available).to.equal(16);
  });

  it('drops the whole datagram on an overlap, and discards the rest of it until its 60 s are over (RFC 5722)', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const { whole, parts } = fragments(payload, 400);
    expect(feed(r, pool, parts[0], 0)).to.equal(-1);
    expect(feed(r, pool, fragment({ offset: 200, data: Buffer.alloc(400, 0xee), more: true }), 1)).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ overlap: 1 });
    expect(r.pending).to.equal(0);
    expect(pool.available).to.equal(16);
    for (const p of [parts[1], parts[2], parts[0]]) expect(feed(r, pool, p, 30)).to.equal(-1);
    r.expire(59.9);
    for (const p of [parts[1], parts[2], parts[0]]) expect(feed(r, pool, p, 59.9)).to.equal(-1);
    expect(r.completed).to.equal(0);
    expect(dropped(r)).to.deep.equal({ overlap: 1 });
    r.expire(60);
    expect(dropped(r)).to.deep.equal({ overlap: 1 }); // the marker goes, counted once
    for (const p of [parts[1], parts[2]]) expect(feed(r, pool, p, 61)).to.equal(-1);
    expect(take(pool, feed(r, pool, parts[0], 61), r.lastLength)).to.equal(whole.toString('hex'));
    expect(pool.available).to.equal(16);
  });

  it('discards an exact repeat alone; other bytes in the same place, or a first fragment naming another header, are overlaps', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const { whole, parts } = fragments(payload, 400);
    for (const i of [1, 1, 0, 0]) expect(feed(r, pool, parts[i])).to.equal(-1);
    expect(r.duplicates).to.equal(2);
    expect(take(pool, feed(r, pool, parts[2]), r.lastLength)).to.equal(whole.toString('hex'));

    const b = fragments(payload, 400, { id: 2 });
    feed(r, pool, b.parts[1]);
    const changed = Buffer.from(b.parts[1]);
    changed[changed.length - 1] ^= 1;
    expect(feed(r, pool, changed)).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ overlap: 1 });

    const c = fragments(payload, 400, { id: 3 });
    feed(r, pool, c.parts[0]);
    feed(r, pool, fragment({ id: 3, offset: 0, more: true, data: payload.subarray(0, 400), next: TCP }));
    expect(dropped(r)).to.deep.equal({ overlap: 2 });
    for (const p of [b.parts[0], b.parts[2], c.parts[1], c.parts[2]]) expect(feed(r, pool, p)).to.equal(-1);
    expect(r.completed).to.equal(1);
    expect(pool.available).to.equal(16);
  });

  it('hands an atomic fragment back as it came, outside the tables (RFC 6946)', function () {
    const pool = new PacketPool(4, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const atomic = fragment({ offset: 0, more: false, data: udp(100, 5), before: [HOP_BY_HOP] });
    const slot = feed(r, pool, atomic);
    expect(slot).to.be.greaterThanOrEqual(0);
    expect(r.lastLength).to.equal(atomic.length);
    expect(take(pool, slot, r.lastLength)).to.equal(atomic.toString('hex'));
    expect(r.atomic).to.equal(1);
    expect([r.pending, r.completed]).to.deep.equal([0, 0]);
    // Not a fragment of any datagram: one with the same identification reassembles apart.
    const { whole, parts } = fragments(payload, 400);
    for (const p of parts.slice(0, 2)) expect(feed(r, pool, p)).to.equal(-1);
    expect(take(pool, feed(r, pool, parts[2]), r.lastLength)).to.equal(whole.toString('hex'));
    expect(pool.available).to.equal(4);
  });

  it('refuses a fragment with more after it whose length is not a multiple of 8: Parameter Problem 0 at the payload length', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const { whole, parts } = fragments(payload, 400);
    feed(r, pool, parts[0]);
    expect(refused(r, pool, fragment({ offset: 400, more: true, data: Buffer.alloc(12) }))).to.deep.equal([PARAMETER_HEADER, 4]);
    expect(dropped(r)).to.deep.equal({ unaligned: 1 });
    // The datagram goes on without it; and a last fragment may be of any length.
    feed(r, pool, parts[1]);
    expect(take(pool, feed(r, pool, parts[2]), r.lastLength)).to.equal(whole.toString('hex'));
    const odd = fragments(udp(1003, 2), 400, { id: 2 });
    for (const p of odd.parts.slice(1)) feed(r, pool, p);
    expect(take(pool, feed(r, pool, odd.parts[0]), r.lastLength)).to.equal(odd.whole.toString('hex'));
    expect(dropped(r)).to.deep.equal({ unaligned: 1 });
    expect(pool.available).to.equal(16);
  });

  it('refuses a fragment past 65,535 bytes of payload: Parameter Problem 0 at its Fragment Offset field', function () {
    const pool = new PacketPool(4, 65575, 1);
    const r = new Reassembler6(pool, 1 << 22);
    // Offset 65528 and 7 bytes: a payload of 65,535, the largest (held, in a slot that fits it).
    expect(feed(r, pool, fragment({ offset: 65528, more: false, data: Buffer.alloc(7) }))).to.equal(-1);
    expect(r.pending).to.equal(1);
    expect(refused(r, pool, fragment({ id: 2, offset: 65528, more: false, data: Buffer.alloc(8) }))).to.deep.equal([PARAMETER_HEADER, 40 + 2]);
    // Counted with the fragment's own unfragmentable part: 16 bytes of options push 65,520 over.
    expect(refused(r, pool, fragment({ id: 3, offset: 65512, more: false, data: Buffer.alloc(8), before: [HOP_BY_HOP, DESTINATION_OPTIONS] })))
      .to.deep.equal([PARAMETER_HEADER, 56 + 2]);
    expect(dropped(r)).to.deep.equal({ 'too-long': 2 });
    expect(r.pending).to.equal(1);
  });

  it('drops, without a Parameter Problem, a datagram that does not fit a slot', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    // The slot made for 1500 bytes holds 1512 (rounding): 1472 bytes of payload after 40 fit, 1480 do not.
    expect(feed(r, pool, fragment({ offset: 1464, more: false, data: Buffer.alloc(8) }))).to.equal(-1);
    expect(feed(r, pool, fragment({ id: 2, offset: 1472, more: false, data: Buffer.alloc(8) }))).to.equal(-1);
    expect(dropped(r)).to.deep.equal({ 'too-big': 1 });
    // Options in fragment 0 that push the datagram over.
    feed(r, pool, fragment({ id: 3, offset: 1464, more: false, data: Buffer.alloc(8) }));
    feed(r, pool, fragment({ id: 3, offset: 0, more: true, data: udp(1464, 0), before: [HOP_BY_HOP] }));
    expect(dropped(r)).to.deep.equal({ 'too-big': 2 });
    expect(r.pending).to.equal(1);
  });

  it('refuses a first fragment without the whole header chain: Parameter Problem 3 at 0 (RFC 7112)', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const first = (id: number, next: number, data: number[]) => fragment({ id, offset: 0, more: true, next, data: Buffer.from(data) });
    // TCP with a data offset of 8 words (32 bytes, options included): 24 of them here.
    const tcp24 = [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const incomplete = [
      first(1, DESTINATION_OPTIONS, ext(UDP, PAD)), // options, then nothing of UDP
      first(2, TCP, tcp24),
      first(3, ROUTING, [UDP, 2, 0, 0, 0, 0, 0, 0]), // a routing header of 24 bytes, 8 here
      first(4, HOP_BY_HOP, [...ext(DESTINATION_OPTIONS, PAD), ...ext(PROTO_ICMPV6, PAD)]), // two options headers, no ICMPv6
      first(5, DESTINATION_OPTIONS, ext(UDP, [1, 12, ...new Array(12).fill(0)])), // 16 bytes of options, then nothing
    ];
    for (const f of incomplete) expect(refused(r, pool, f)).to.deep.equal([PARAMETER_HEADER_CHAIN, 0]);
    expect(dropped(r)).to.deep.equal({ 'incomplete-chain': 5 });
    expect(r.pending).to.equal(0);
    const complete = [
      first(1, UDP, [0, 1, 0, 2, 0, 8, 0, 0]),
      first(2, TCP, [...tcp24, 0, 0, 0, 0, 0, 0, 0, 0]),
      first(3, DESTINATION_OPTIONS, [...ext(UDP, PAD), 0, 1, 0, 2, 0, 8, 0, 0]),
      first(4, ROUTING, [PROTO_ICMPV6, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0]), // no segments left, then echo
      first(5, NO_NEXT_HEADER, [0, 0, 0, 0, 0, 0, 0, 0]),
      first(8, DESTINATION_OPTIONS, ext(NO_NEXT_HEADER, PAD)), // nothing after, and nothing needed
      first(6, 50, [0, 0, 0, 1, 0, 0, 0, 1]), // ESP: an upper layer here, as for readHeaders
      // A later fragment is not looked at: it holds no header.
      fragment({ id: 7, offset: 8, more: true, next: DESTINATION_OPTIONS, data: Buffer.alloc(8) }),
    ];
    for (const f of complete) expect(feed(r, pool, f)).to.equal(-1);
    expect(r.pending).to.equal(8);
    expect(dropped(r)).to.deep.equal({ 'incomplete-chain': 5 });
  });

  it('after 60 s hands the first fragment, rebuilt as it came, for a Time Exceeded; without it, nothing', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const got: string[] = [];
    r.timeExceeded = (slot, length) => got.push(take(pool, slot, length));
    const a = fragments(payload, 400, { before: [HOP_BY_HOP, DESTINATION_OPTIONS] });
    const b = fragments(payload, 400, { id: 2 });
    feed(r, pool, a.parts[2], 0);
    feed(r, pool, a.parts[0], 10); // moves the payload held up behind the unfragmentable part
    feed(r, pool, b.parts[1], 5);
    feed(r, pool, b.parts[2], 5);
    r.expire(59.9);
    expect([got.length, r.pending]).to.deep.equal([0, 2]);
    r.expire(60);
    expect(got).to.deep.equal([a.parts[0].toString('hex')]);
    expect([r.pending, r.drops.timeout]).to.deep.equal([1, 1]);
    r.expire(65);
    expect(got).to.have.length(1);
    expect(dropped(r)).to.deep.equal({ timeout: 2 });
    expect(pool.available).to.equal(16);
    // A first fragment that fills its slot: the quote is cut to what the slot holds with the fragment header back in.
    const full = fragment({ id: 3, offset: 0, more: true, data: udp(1472, 3) });
    expect(40 + 8 + 1472).to.equal(full.length);
    feed(r, pool, full, 70);
    r.expire(130);
    expect(got[1]).to.equal(full.subarray(0, pool.ipRoom(0)).toString('hex'));
    expect(pool.ipRoom(0)).to.equal(1512);
    // No one to tell: the slot goes back.
    r.timeExceeded = undefined;
    feed(r, pool, a.parts[0], 100);
    r.expire(160);
    expect(dropped(r)).to.deep.equal({ timeout: 4 });
    expect(got).to.have.length(2);
    expect(pool.available).to.equal(16);
  });

  it('bounds each /64: two addresses of one share its bound, another /64 has its own', function () {
    const pool = new PacketPool(32, 1500);
    const r = new Reassembler6(pool, 8 * pool.smallSize, 60, 2 * pool.smallSize);
    const [x1, x2, y] = ['2001:db8:0:1::2', '2001:db8:0:1:8000::9', '2001:db8:0:5::2'].map(a6);
    const d = [x1, x2, x1, y].map((src, i) => fragments(udp(1000, i), 400, { src, id: i }));
    for (const x of d) feed(r, pool, x.parts[0]);
    expect(dropped(r)).to.deep.equal({ 'per-source': 1 }); // x1's first, for x1's second
    expect(r.pending).to.equal(3);
    for (const x of d.slice(1)) {
      feed(r, pool, x.parts[1]);
      expect(take(pool, feed(r, pool, x.parts[2]), r.lastLength)).to.equal(x.whole.toString('hex'));
    }
    feed(r, pool, d[0].parts[1]);
    expect(feed(r, pool, d[0].parts[2])).to.equal(-1);
    expect(r.completed).to.equal(3);
  });

  it('completes another /64\'s datagrams under a flood from every address of one /64, the flood within its bound', function () {
    const POOL = 256;
    const pool = new PacketPool(POOL, 1500);
    const r = new Reassembler6(pool, 64 * pool.smallSize); // a /64's bound: 8
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const legit = Array.from({ length: 100 }, (_, i) => fragments(udp(600 + (i % 5) * 128, i), 256, { id: i }));
    let most = 0;
    let now = 0;
    let flood = 0;
    for (const x of legit) {
      const parts = [...x.parts].sort(() => rand() - 0.5);
      for (const [k, part] of parts.entries()) {
        for (let n = 0; n < 10; n++, flood++) {
          // A new address of 2001:db8:0:66::/64 and a new identification each time; never completes.
          const iid = [rand(), rand(), rand()].map((x) => Math.floor(x * 0x10000).toString(16));
          const src = a6(`2001:db8:0:66:${iid.join(':')}:${(flood & 0xffff).toString(16)}`);
          feed(r, pool, fragment({ src, id: flood, offset: 8 * Math.floor(rand() * 100), more: true, data: Buffer.alloc(64, 0xff) }), now);
        }
        const slot = feed(r, pool, part, now);
        if (k === parts.length - 1) expect(take(pool, slot, r.lastLength)).to.equal(x.whole.toString('hex'));
        else expect(slot).to.equal(-1);
        most = Math.max(most, POOL - pool.available);
        now += 0.001;
      }
    }
    expect(r.completed).to.equal(legit.length);
    expect(most).to.be.at.most(8 + 1);
    expect(r.pending).to.equal(8);
    expect(dropped(r)).to.deep.equal({ 'per-source': flood - 8 });
  });

  it('at the total bound, takes from the /64 holding the most', function () {
    const pool = new PacketPool(32, 1500);
    const r = new Reassembler6(pool, 4 * pool.smallSize, 60, 2 * pool.smallSize);
    const [A, B, C, D] = ['2001:db8:1::1', '2001:db8:2::1', '2001:db8:3::1', '2001:db8:4::1'].map(a6);
    const a1 = fragments(udp(1000, 1), 400, { src: A, id: 1 });
    const a2 = fragments(udp(1000, 2), 400, { src: A, id: 2 });
    const b = fragments(udp(1000, 3), 400, { src: B, id: 1 });
    const c = fragments(udp(1000, 4), 400, { src: C, id: 1 });
    const d = fragments(udp(1000, 5), 400, { src: D, id: 1 });
    for (const x of [a1, b, a2, c]) feed(r, pool, x.parts[0]);
    expect(dropped(r)).to.deep.equal({});
    feed(r, pool, d.parts[0]);
    expect(dropped(r)).to.deep.equal({ 'over-cap': 1 });
    for (const x of [a2, b, c, d]) {
      feed(r, pool, x.parts[1]);
      expect(take(pool, feed(r, pool, x.parts[2]), r.lastLength)).to.equal(x.whole.toString('hex'));
    }
    feed(r, pool, a1.parts[1]);
    expect(feed(r, pool, a1.parts[2])).to.equal(-1);
    expect(pool.available).to.equal(31);
  });

  it('drops fragments that disagree on the end, and counts a datagram refused for want of a slot', function () {
    const pool = new PacketPool(16, 1500);
    const r = new Reassembler6(pool, 1 << 20);
    const { parts } = fragments(payload, 400);
    feed(r, pool, parts[2]); // ends at 1000
    expect(feed(r, pool, fragment({ offset: 1000, more: false, data: Buffer.alloc(8) }))).to.equal(-1);
    // A fragment past the end a last fragment gave, and one with no data and more after it.
    feed(r, pool, fragment({ id: 2, offset: 400, more: false, data: Buffer.alloc(8) }));
    feed(r, pool, fragment({ id: 2, offset: 400, more: true, data: Buffer.alloc(16) }));
    feed(r, pool, fragment({ id: 3, offset: 8, more: true, data: Buffer.alloc(0) }));
    expect(dropped(r)).to.deep.equal({ inconsistent: 3 });
    expect(pool.available).to.equal(16);

    const small = new PacketPool(2, 1500);
    const s = new Reassembler6(small, 1 << 20);
    const held = small.take();
    expect(feed(s, small, parts[0])).to.equal(-1);
    expect(dropped(s)).to.deep.equal({ 'pool-exhausted': 1 });
    small.give(held);
    expect(small.available).to.equal(2);
  });
});
