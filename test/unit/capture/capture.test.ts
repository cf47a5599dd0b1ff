import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commentAt, writeEpbHead, writeEpbTail, writeIdb, writeShb } from '../../../appliance/capture/pcapng';
import { DropCapture } from '../../../appliance/capture/drop-capture';
import { PacketPool } from '../../../appliance/device/packet-pool';
import { Drops } from '../../../appliance/forward/drops';
import { Reassembler } from '../../../appliance/forward/reassembly';
import { PARAMETER_PROBLEM, Reassembler6 } from '../../../appliance/forward/reassembly6';
import { ServerEgress } from '../../../appliance/forward/egress';
import type { ServerRecord } from '../../../appliance/config/tables';
import { emitIpv4, Ipv4View, PROTO_TCP } from '../../../appliance/wire/ipv4';
import { FRAGMENT, Ipv6HeaderError, Ipv6Headers, Ipv6View } from '../../../appliance/wire/ipv6';
import { ip } from '../wire/packets';
import { a6, datagram6 } from '../wire/packets6';
import { readRing } from './read-ring';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const MIB = 1 << 20;

describe('capture/pcapng: the blocks, byte for byte', function () {
  it('a Section Header Block: little-endian magic, version 1.0, section length -1, shb_userappl, lengths at both ends', function () {
    const b = Buffer.alloc(64, 0xee);
    expect(writeShb(b, 0, Buffer.from('socksalp'))).to.equal(44);
    expect(b.subarray(0, 44)).to.deep.equal(hex(`
      0a0d0d0a 2c000000 4d3c2b1a 0100 0000 ffffffff ffffffff
      0400 0800 736f636b73616c70
      00000000 2c000000`));
  });

  it('an Interface Description Block: link type, snap length, if_name padded to 32 bits with zeros', function () {
    const b = Buffer.alloc(64, 0xee);
    expect(writeIdb(b, 4, 1, 256, Buffer.from('alp-sa'))).to.equal(4 + 36);
    expect(b.subarray(4, 40)).to.deep.equal(hex(`
      01000000 24000000 0100 0000 00010000
      0200 0600 616c702d7361 0000
      00000000 24000000`));
  });

  it('an Enhanced Packet Block: interface, 64-bit microseconds, lengths, packet and comment each padded', function () {
    const b = Buffer.alloc(80, 0xee);
    const data = hex('0102030405');
    const comment = Buffer.from('drop: x');
    writeEpbHead(b, 0, 1, 5 * 2 ** 32 + 7, data.length, 9, comment.length);
    data.copy(b, 28);
    comment.copy(b, commentAt(0, data.length));
    expect(writeEpbTail(b, 0, data.length, comment.length)).to.equal(56);
    expect(b.subarray(0, 56)).to.deep.equal(hex(`
      06000000 38000000 01000000 05000000 07000000 05000000 09000000
      0102030405 000000
      0100 0700 64726f703a2078 00
      00000000 38000000`));
  });
});

/** A TCP/IP datagram of `len` bytes (header checked, payload a pattern) at `slot`'s IP place. */
function datagram(pool: PacketPool, slot: number, len: number, seed = 1): void {
  const at = pool.ipOffset(slot);
  emitIpv4({ src: ip('198.18.0.2'), dst: ip('203.0.113.10'), protocol: PROTO_TCP, payloadLength: len - 20, ttl: 64, identification: seed, dontFragment: true }, pool.buf, at);
  for (let i = 20; i < len; i++) pool.buf[at + i] = (i + seed) & 255;
}

describe('capture/drop-capture: the ring of dropped datagrams', function () {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'socksalp-capture-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function capture(file: string, maxBytes: number, snaplen: number, log: (m: string) => void = () => undefined): DropCapture {
    const c = new DropCapture({ drops: file, maxBytes, snaplen }, ['alp0', 'alp-sa'], ['sa', 'sb'], [1, 1], ['http', 'bulk'], log);
    c.start();
    return c;
  }

  it('writes each drop with its reason: a TUN datagram gets an Ethernet header of zero MACs, a TAP frame is kept as it came, a long one is cut at snaplen', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(8, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 128);
    const a = pool.take();
    datagram(pool, a, 60);
    const sentA = Buffer.from(pool.buf.subarray(pool.ipOffset(a), pool.ipOffset(a) + 60));
    drops.device = 0;
    drops.drop(a, 'bad-tcp-checksum');
    const b = pool.take();
    datagram(pool, b, 1000, 2);
    pool.buf.set(hex('02534101010a 020000000102 0800'), pool.frameOffset(b));
    const sentB = Buffer.from(pool.buf.subarray(pool.frameOffset(b), pool.frameOffset(b) + 128));
    drops.device = 1;
    drops.drop(b, 'rp-filter');
    const runt = pool.take();
    drops.dropRead(runt, 'malformed-ethernet', 8 - 14);
    const d = pool.take();
    datagram(pool, d, 40, 3);
    drops.dropOut(d, 'no-arp', 1, 40, false);
    expect(pool.available, 'every slot given back').to.equal(8);
    await c.close();
    const r = readRing(file);
    expect(r.interfaces).to.deep.equal([{ linkType: 1, snaplen: 128, name: 'alp0' }, { linkType: 1, snaplen: 128, name: 'alp-sa' }]);
    expect(r.packets.map((p) => [p.iface, p.captured, p.original, p.comment])).to.deep.equal([
      [0, 74, 74, 'drop: bad-tcp-checksum'],
      [1, 128, 1014, 'drop: rp-filter'],
      [1, 8, 8, 'drop: malformed-ethernet'],
      [1, 54, 54, 'drop: no-arp'],
    ]);
    const [tun, tap, , out] = r.packets;
    expect(tun.data.subarray(0, 14)).to.deep.equal(hex('000000000000 000000000000 0800'));
    expect(tun.data.subarray(14)).to.deep.equal(sentA);
    expect(tap.data).to.deep.equal(sentB);
    expect(out.data.subarray(0, 14)).to.deep.equal(hex('000000000000 000000000000 0800'));
    const now = Date.now() * 1000;
    expect(tun.micros).to.be.within(now - 10e6, now);
    expect(c.status()).to.include({ captured: 4, lost: 0, errors: 0, rotations: 0, bytes: statSync(file).size });
  });

  it('names the server, ALP and priority of a congestion discard, the priority written digit by digit', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(4, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 256);
    const s = pool.take();
    datagram(pool, s, 100);
    for (const [alp, prio] of [[1, 7], [0, 42], [1, 255], [5, 0]]) drops.discarded(1, s, 114, alp, prio);
    await c.close();
    const r = readRing(file);
    expect(r.packets.map((p) => [p.iface, p.captured, p.comment])).to.deep.equal([
      [1, 114, 'discard: congestion server=sb alp=bulk priority=7'],
      [1, 114, 'discard: congestion server=sb alp=http priority=42'],
      [1, 114, 'discard: congestion server=sb alp=bulk priority=255'],
      [1, 114, 'discard: congestion server=sb alp=5 priority=0'],
    ]);
  });

  it('never grows past max_bytes: FILE and FILE.1, each a whole pcapng of at most half, rotated as they fill', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(4, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 1514);
    const per = 40 + 1516 + 16; // EPB overhead, 1514 bytes padded, the comment padded
    let sent = 0;
    for (let round = 0; round < 24; round++) {
      for (let i = 0; i < 100; i++) {
        const s = pool.take();
        datagram(pool, s, 1500, sent++);
        drops.device = 1;
        drops.drop(s, 'no-route');
      }
      await c.written();
    }
    await c.close();
    expect(sent * per, 'more than the bound was written').to.be.above(3 * MIB);
    const st = c.status();
    expect(st.lost).to.equal(0);
    expect(st.captured).to.equal(sent);
    expect(st.rotations).to.be.at.least(5);
    const newer = statSync(file).size;
    const older = statSync(`${file}.1`).size;
    expect(newer).to.be.at.most(MIB / 2);
    expect(older).to.be.at.most(MIB / 2);
    expect(older, 'a file is rotated only once full to within a block').to.be.above(MIB / 2 - per);
    const a = readRing(`${file}.1`);
    const b = readRing(file);
    expect(a.interfaces.length).to.equal(2);
    expect(b.interfaces.length).to.equal(2);
    // The newest drops are all there, in order, the last one last.
    const ids = [...a.packets, ...b.packets].map((p) => p.data.readUInt16BE(14 + 4));
    expect(ids[ids.length - 1]).to.equal((sent - 1) & 0xffff);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).to.equal(ids[i - 1] + 1);
  });

  it('encodes the ALPs\' names at start and when the registry grows, never while discarding', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(4, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const names = ['http', 'bulk'];
    const c = drops.capture = new DropCapture({ drops: file, maxBytes: MIB, snaplen: 256 }, ['alp0', 'alp-sa'], ['sa'], [1], names, () => undefined);
    c.start();
    const s = pool.take();
    datagram(pool, s, 60);
    const from = Buffer.from;
    let encoded = 0;
    const discard = (alp: number) => {
      (Buffer as { from: unknown }).from = (...args: unknown[]) => { encoded++; return (from as (...a: unknown[]) => Buffer)(...args); };
      try {
        drops.discarded(0, s, 74, alp, 3);
      } finally {
        Buffer.from = from;
      }
    };
    discard(1);
    names.push('video'); // a reload named a new ALP
    discard(2);
    c.growAlps();
    discard(2);
    expect(encoded, 'Buffer.from calls on the discard path').to.equal(0);
    await c.close();
    expect(readRing(file).packets.map((p) => p.comment)).to.deep.equal([
      'discard: congestion server=sa alp=bulk priority=3',
      'discard: congestion server=sa alp=2 priority=3',
      'discard: congestion server=sa alp=video priority=3',
    ]);
  });

  it('congestion control\'s discards (patent figure 9) reach the capture with the server, ALP and priority', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(8, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 256);
    const egress = new ServerEgress([{ queueLimit: 2 }, { queueLimit: 2 }] as ServerRecord[], pool, 2);
    egress.lost = drops;
    for (const [alp, prio, eligible] of [[0, 7, false], [1, 1, true], [1, 1, true]] as const) {
      const slot = pool.take();
      datagram(pool, slot, 60, prio);
      expect(egress.enqueue(0, slot, 74, alp, prio, eligible, false)).to.equal(true);
    }
    expect(egress.queues[0].length).to.equal(1);
    expect(egress.discardsByPriority[0][1]).to.equal(2);
    await c.close();
    const got = readRing(file).packets;
    expect(got.map((p) => [p.iface, p.captured, p.comment])).to.deep.equal([
      [1, 74, 'discard: congestion server=sa alp=bulk priority=1'],
      [1, 74, 'discard: congestion server=sa alp=bulk priority=1'],
    ]);
  });

  it('reassembly: the fragment that overlaps is kept with its reason, and the later fragments of its datagram', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(8, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 256);
    const r = new Reassembler(pool, MIB, 30);
    r.lost = drops;
    drops.device = 0;
    const sent: Buffer[] = [];
    for (const [offset, more] of [[0, true], [8, true], [24, false]] as const) {
      const slot = pool.take();
      const at = pool.ipOffset(slot);
      emitIpv4({ src: ip('198.18.0.2'), dst: ip('203.0.113.10'), protocol: PROTO_TCP, payloadLength: 16, ttl: 64, identification: 77, dontFragment: false }, pool.buf, at);
      pool.buf[at + 6] = (more ? 0x20 : 0) | ((offset / 8) >> 8);
      pool.buf[at + 7] = (offset / 8) & 0xff;
      const v = new Ipv4View().wrap(pool.buf, at, 36);
      v.fillChecksum();
      sent.push(Buffer.from(pool.buf.subarray(at, at + 36)));
      expect(r.add(slot, v, 0)).to.equal(-1);
    }
    expect(r.drops.overlap).to.equal(1);
    expect(pool.available).to.equal(8);
    await c.close();
    const got = readRing(file).packets;
    expect(got.map((p) => p.comment)).to.deep.equal(['drop: reassembly-overlap', 'drop: reassembly-rest-of-dropped']);
    expect(got[0].data.subarray(14)).to.deep.equal(sent[1]);
    expect(got[1].data.subarray(14)).to.deep.equal(sent[2]);
  });

  it('IPv6 reassembly: an overlap, the rest of its datagram and a refused fragment are kept whole with their reasons', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(8, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, MIB, 256);
    const r = new Reassembler6(pool, MIB);
    r.lost = drops;
    drops.device = 0;
    const sent: Buffer[] = [];
    const results: number[] = [];
    // Offset 0 and 8 overlap (16 bytes each); 24 is the rest; the last one is 12 bytes with M set.
    for (const [offset, more, length] of [[0, true, 16], [8, true, 16], [24, false, 8], [32, true, 12]] as const) {
      const header = [17, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0, 77];
      const b = datagram6(a6('2001:db8::2'), a6('2001:db8:1::10'), FRAGMENT, Buffer.concat([Buffer.from(header), Buffer.alloc(length, offset + 1)]));
      sent.push(b);
      const slot = pool.take();
      pool.buf.set(b, pool.ipOffset(slot));
      const v = new Ipv6View().wrap(pool.buf, pool.ipOffset(slot), b.length);
      const h = new Ipv6Headers();
      expect(v.readHeaders(h)).to.equal(Ipv6HeaderError.None);
      results.push(r.add(slot, v, h, 0));
      if (results.at(-1) === PARAMETER_PROBLEM) pool.give(slot);
    }
    expect(results).to.deep.equal([-1, -1, -1, PARAMETER_PROBLEM]);
    expect([r.drops.overlap, r.drops.unaligned]).to.deep.equal([1, 1]);
    expect(pool.available).to.equal(8);
    await c.close();
    const got = readRing(file).packets;
    expect(got.map((p) => p.comment)).to.deep.equal(['drop: reassembly-overlap', 'drop: reassembly-rest-of-dropped', 'drop: reassembly-unaligned']);
    for (const [i, p] of got.entries()) {
      expect(p.data.readUInt16BE(12)).to.equal(0x86dd);
      expect(p.data.subarray(14)).to.deep.equal(sent[i + 1]);
    }
  });

  it('a full staging buffer counts the drop lost instead of growing, and goes on once written', async function () {
    const file = join(dir, 'drops.pcapng');
    const pool = new PacketPool(4, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(file, 4 * MIB, 1514); // room for a whole staging buffer in FILE
    await c.written();
    const per = 40 + 1516 + 16;
    const fits = Math.floor(MIB / per);
    // In one turn of the event loop nothing is written: one buffer fills, the rest is lost.
    for (let i = 0; i < 1000; i++) {
      const s = pool.take();
      datagram(pool, s, 1500, i);
      drops.device = 1;
      drops.drop(s, 'no-route');
    }
    expect(c.lost).to.equal(1000 - fits);
    expect(drops.byReason['no-route'], 'every drop counted by reason all the same').to.equal(1000);
    await c.written();
    const s = pool.take();
    datagram(pool, s, 100, 7);
    drops.drop(s, 'ttl-exceeded');
    await c.close();
    const r = readRing(file);
    expect(r.packets.length).to.equal(fits + 1);
    expect(r.packets[fits].comment).to.equal('drop: ttl-exceeded');
    expect(c.status()).to.include({ captured: fits + 1, lost: 1000 - fits });
  });

  it('a file it cannot write is counted and logged once, and the appliance goes on; an earlier run\'s file becomes FILE.1', async function () {
    const logs: string[] = [];
    const pool = new PacketPool(4, 1500, 1);
    const drops = new Drops(pool, () => undefined);
    const c = drops.capture = capture(join(dir, 'missing', 'drops.pcapng'), MIB, 256, (m) => logs.push(m));
    for (let i = 0; i < 3; i++) {
      const s = pool.take();
      datagram(pool, s, 60);
      drops.drop(s, 'no-route');
      await c.written();
    }
    await c.close();
    expect(c.status()).to.include({ captured: 0, lost: 3 });
    expect(c.status().errors).to.be.at.least(3);
    expect(logs.length).to.equal(1);
    expect(logs[0]).to.match(/^capture .*missing\/drops\.pcapng: ENOENT.*logged once; the appliance goes on\)$/);

    const file = join(dir, 'drops.pcapng');
    writeFileSync(file, 'the last run');
    writeFileSync(`${file}.1`, 'the run before');
    const again = capture(file, MIB, 256);
    await again.close();
    expect(readFileSync(`${file}.1`, 'utf8')).to.equal('the last run');
    expect(readRing(file).packets).to.deep.equal([]);
    expect(existsSync(file)).to.equal(true);
  });
});
