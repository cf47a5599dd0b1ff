import { loadConfig } from '../../appliance/config/load';
import type { Config } from '../../appliance/config/tables';
import { ETH_HEADER } from '../../appliance/wire/ethernet';
import { ACK, FIN, PSH, RST, SYN } from '../../appliance/wire/tcp';
import { REPO } from '../lab/lab';
import { ip, segment, tcpRepr, udpDatagram } from '../unit/wire/packets';
import { InProcessAppliance, type MemoryDevice } from './harness';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The fuzzing harness (`npm run fuzz`): random and mutated packets through the whole data
 * path in process (wire views, validation, reassembly, ARP, ICMP, routes, the diversion and
 * its name server, the SOCKS parser and both legs of the connection path), with a peer that
 * answers what the appliance sends on both sides, so that mutations reach every state and not
 * only the first. Mutations: bit flips, bytes set to 0, 0xff or random, truncation, extension,
 * a length or count field changed, two packets spliced. Fails on an exception, on any of the
 * appliance's internal errors, and on what stays behind once every timer has run: entries in
 * the tables, fragments, pool slots.
 */

export interface FuzzResult {
  packets: number;
  conversations: number;
  internalErrors: number;
  problems: string[];
  logs: string[];
  /** Counters the run reached, to show what it covered. */
  covered: Record<string, number>;
}

const CLIENT = ip('198.18.0.2');
const VIP = ip('198.18.0.100');
const WEB = ip('203.0.113.80');
const DNS = ip('203.0.113.53');
const SERVER_MAC = Buffer.from('02aabbccdd01', 'hex');

/** A small, seeded PRNG (mulberry32): the same seed, the same run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dnsQuery(name: string, id: number, edns: boolean): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const opt = edns ? Buffer.from('0000291000000000000000', 'hex') : Buffer.alloc(0);
  return Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0]), ...labels, Buffer.from([0, 0, 1, 0, 1]), opt]);
}

/** The SOCKS requests a client may open with, one per dialect. */
const REQUESTS = [
  Buffer.from('04010050cb00715000', 'hex'),
  Buffer.concat([Buffer.from('0401005000000001', 'hex'), Buffer.from('\0web.socksalp.test\0', 'latin1')]),
  Buffer.from('050100', 'hex'),
  Buffer.from('0401005acb00715000', 'hex'),
  Buffer.from('050102', 'hex'),
];

/** The corpus's packets (test/fuzz/record-corpus.sh): each pcap is named after the device it was read from. */
export function readCorpus(dir = join(REPO, 'test', 'fuzz', 'corpus')): { device: string; bytes: Buffer }[] {
  if (!existsSync(dir)) return [];
  const seeds: { device: string; bytes: Buffer }[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.pcap')).sort()) {
    const b = readFileSync(join(dir, f));
    if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4) continue;
    for (let at = 24; at + 16 <= b.length;) {
      const n = b.readUInt32LE(at + 8);
      if (at + 16 + n > b.length) break;
      seeds.push({ device: f.slice(0, -5), bytes: Buffer.from(b.subarray(at + 16, at + 16 + n)) });
      at += 16 + n;
    }
  }
  return seeds;
}

export function runFuzz(opts: { seed: number; count: number; seconds?: number }): FuzzResult {
  const rand = prng(opts.seed);
  const int = (n: number) => Math.floor(rand() * n);
  const config: Config = loadConfig(join(REPO, 'conf'));
  const cfg: Config = {
    ...config,
    diverted: { path: '/nonexistent/diverted.ini', present: false, entries: [] },
  };
  const pending: [number, Buffer][] = [];
  let conversations = 0;
  const app = new InProcessAppliance(cfg, (d, bytes) => answer(d, bytes));
  const t = app.dispatcher.diversions;
  t.add('203.0.113.80:7', '203.0.113.81');
  t.add('web.socksalp.test', '203.0.113.81');
  t.add('203.0.113.80:8080', '203.0.113.81:8080');
  const segDevice = (server: number) => 1 + app.forwarder.serverSegment[server];
  /** The device index of a TAP (device i + 1 is segment i), -1 for a TAP the configuration has not. */
  const deviceOfTap = (tap: string) => {
    const i = app.forwarder.segments.findIndex((g) => g.tap === tap);
    return i < 0 ? -1 : i + 1;
  };
  // Captured seeds, each for the device it was read from (the TUN is device 0).
  const corpus = readCorpus()
    .map((c) => ({ dev: c.device === cfg.intranet.tun ? 0 : deviceOfTap(c.device), bytes: c.bytes }))
    .filter((c) => c.dev >= 0);

  /** Mutations, at the byte, field and length level. */
  const mutate = (b: Buffer): Buffer => {
    let m = Buffer.from(b);
    const n = 1 + int(4);
    for (let k = 0; k < n; k++) {
      const at = int(Math.max(1, m.length));
      switch (int(8)) {
        case 0: m[at] ^= 1 << int(8); break;
        case 1: m[at] = 0; break;
        case 2: m[at] = 0xff; break;
        case 3: m[at] = int(256); break;
        case 4: m = m.subarray(0, int(m.length + 1)); break;
        case 5: m = Buffer.concat([m, Buffer.alloc(int(64), int(256))]); break;
        // IPv4 total length, IHL, TCP data offset, UDP length: the fields that say how long things are.
        case 6: if (m.length > 40) { const f = [2, 3, 0, 32, 24, 25][int(6)]; m[f] = int(256); } break;
        default: if (m.length > 20) m = Buffer.concat([m.subarray(0, 20 + int(m.length - 20)), b.subarray(int(b.length))]);
      }
    }
    return m;
  };
  const toTun = (b: Buffer) => pending.push([0, rand() < 0.08 ? mutate(b) : b]);
  const toTap = (dev: number, dst: Buffer, ipBytes: Buffer, type = 0x0800) => {
    const frame = Buffer.concat([dst, SERVER_MAC, Buffer.from([type >> 8, type & 255]), ipBytes]);
    pending.push([dev, rand() < 0.08 ? mutate(frame) : frame]);
  };

  /** The peer on both sides: answers what the appliance sent as a client or a server would, mostly. */
  function answer(d: MemoryDevice, bytes: Buffer): void {
    if (rand() < 0.05) return; // lost
    const dev = app.devices.indexOf(d);
    const l2 = d.kind === 'tap' ? ETH_HEADER : 0;
    if (d.kind === 'tap' && bytes.length >= 42 && bytes.readUInt16BE(12) === 0x0806) {
      // ARP request: the server answers with its MAC.
      const target = bytes.subarray(38, 42);
      const arp = Buffer.concat([Buffer.from('0001080006040002', 'hex'), SERVER_MAC, target, bytes.subarray(22, 28), bytes.subarray(28, 32)]);
      toTap(dev, bytes.subarray(6, 12), arp, 0x0806);
      return;
    }
    const p = bytes.subarray(l2);
    if (p.length < 40 || p[9] !== 6) return;
    const hl = (p[0] & 15) * 4;
    const src = p.readUInt32BE(12);
    const dst = p.readUInt32BE(16);
    const tcp = p.subarray(hl);
    const sport = tcp.readUInt16BE(0);
    const dport = tcp.readUInt16BE(2);
    const seq = tcp.readUInt32BE(4);
    const ack = tcp.readUInt32BE(8);
    const flags = tcp[13];
    const data = tcp.subarray((tcp[12] >> 4) * 4, p.readUInt16BE(2) - hl);
    if (flags & RST) return;
    const next = (seq + data.length + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    let reply: Buffer = Buffer.alloc(0);
    let rflags = ACK;
    if (d.kind === 'tun') {
      // The appliance spoke to a client.
      if (flags & SYN) reply = REQUESTS[int(REQUESTS.length)];
      else if (data.length === 2 && data[0] === 5) reply = data[1] === 2 ? Buffer.from('0101750270', 'hex') : Buffer.from('05010001cb0071501f90', 'hex');
      else if (data.length > 0 && rand() < 0.5) reply = Buffer.from('GET / HTTP/1.0\r\n\r\n');
      if (flags & FIN || rand() < 0.05) rflags |= FIN;
      const r = segment(dst, src, tcpRepr({ srcPort: dport, dstPort: sport, seq: ack, ack: next, flags: rflags | (reply.length ? PSH : 0), window: 502 }), reply);
      toTun(r);
      return;
    }
    // The appliance spoke to a server.
    if ((flags & (SYN | ACK)) === SYN) {
      rflags = SYN | ACK;
      const r = segment(dst, src, tcpRepr({ srcPort: dport, dstPort: sport, seq: int(0xffffffff), ack: next, flags: rflags, window: 500, mss: 1460, wscale: int(2) ? 7 : -1 }));
      toTap(dev, bytes.subarray(6, 12), r);
      return;
    }
    if (data.length >= 3 && data[0] === 5 && data[1] === data.length - 2) reply = Buffer.from([5, data[2]]);
    else if (data.length > 3 && data[0] === 1) reply = Buffer.from('0100', 'hex');
    else if (data.length > 3 && data[0] === 5) reply = Buffer.from('05000001cb0071501f90', 'hex');
    else if (data.length >= 8 && data[0] === 4) reply = Buffer.from('005a1f90cb007150', 'hex');
    else if (data.length > 0) reply = Buffer.from('HTTP/1.0 200 OK\r\n\r\nhello');
    if (flags & FIN || rand() < 0.03) rflags |= FIN;
    const r = segment(dst, src, tcpRepr({ srcPort: dport, dstPort: sport, seq: ack, ack: next, flags: rflags | (reply.length ? PSH : 0), window: 500 }), reply);
    toTap(dev, bytes.subarray(6, 12), r);
  }

  /** What a client or an attacker starts: a new conversation, or a datagram of another kind. */
  const start = () => {
    const port = 1024 + int(60000);
    switch (int(10)) {
      case 0: case 1: case 2: case 3:
        conversations++;
        toTun(segment(CLIENT, VIP, tcpRepr({ srcPort: port, dstPort: 1080, seq: int(0xffffffff), flags: SYN, window: 502, mss: 1460, wscale: int(2) ? 7 : -1, sackPermitted: true })));
        break;
      case 4: toTun(udpDatagram(CLIENT, DNS, port, 53, dnsQuery(['web.socksalp.test', 'mirror.socksalp.test', 'WEB.socksalp.TEST'][int(3)], int(65536), rand() < 0.5))); break;
      case 5: toTun(udpDatagram(CLIENT, WEB, port, 7, Buffer.from('ping'))); break;
      case 6: toTun(segment(CLIENT, WEB, tcpRepr({ srcPort: port, dstPort: 8080, seq: int(0xffffffff), flags: SYN, window: 502 }))); break;
      case 7: {
        // A UDP datagram in two fragments, sometimes overlapping.
        const whole = udpDatagram(CLIENT, WEB, port, 7, Buffer.alloc(64, 0x41));
        const id = int(65536);
        const frag = (off: number, end: number, more: boolean) => {
          const body = whole.subarray(20 + off, 20 + end);
          const h = Buffer.from(whole.subarray(0, 20));
          h.writeUInt16BE(20 + body.length, 2);
          h.writeUInt16BE(id, 4);
          h.writeUInt16BE((more ? 0x2000 : 0) | (off / 8), 6);
          h.writeUInt16BE(0, 10);
          let s = 0;
          for (let i = 0; i < 20; i += 2) s += h.readUInt16BE(i);
          while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
          h.writeUInt16BE(~s & 0xffff, 10);
          return Buffer.concat([h, body]);
        };
        toTun(frag(0, 40, true));
        toTun(frag(int(2) ? 40 : 32, 72, false));
        break;
      }
      case 8: toTun(Buffer.alloc(int(80), int(256))); break;
      default: {
        // Random TCP at a live port of the appliance, from a server's segment.
        const s = int(cfg.servers.length);
        const srv = cfg.servers[s];
        toTap(segDevice(s), Buffer.from([0x02, 0x53, 0x41, (srv.local.address >>> 16) & 255, (srv.local.address >>> 8) & 255, srv.local.address & 255]),
          segment(srv.address, srv.local.address, tcpRepr({ srcPort: srv.port, dstPort: 1024 + int(64512), seq: int(0xffffffff), ack: int(0xffffffff), flags: [RST, SYN, ACK, SYN | ACK, FIN | ACK][int(5)], window: 500 })));
      }
    }
  };

  const problems: string[] = [];
  // With --expose-gc: the heap once the run is under way, against the heap once every timer ran.
  const gc = (globalThis as { gc?: () => void }).gc;
  let heapEarly = -1;
  const deadline = opts.seconds === undefined ? Infinity : Date.now() + opts.seconds * 1000;
  let packets = 0;
  while (packets < opts.count && Date.now() < deadline) {
    if (corpus.length > 0 && rand() < 0.15) {
      const c = corpus[int(corpus.length)];
      pending.push([c.dev, rand() < 0.5 ? mutate(c.bytes) : c.bytes]);
    }
    if (pending.length === 0 || rand() < 0.2) start();
    const [dev, bytes] = pending.splice(int(Math.min(pending.length, 4)), 1)[0] ?? [0, Buffer.alloc(0)];
    try {
      app.deliver(dev, bytes);
      if (rand() < 0.02) app.advance(rand() * 2);
    } catch (e) {
      problems.push(`exception: ${(e as Error).stack}`);
      break;
    }
    packets++;
    if (gc !== undefined && packets === 2000) {
      gc();
      heapEarly = process.memoryUsage().heapUsed;
    }
    if (pending.length > 10_000) pending.length = 0;
  }
  // Every timer, then nothing may be left: entries, fragments, slots.
  pending.length = 0;
  for (let i = 0; i < 100; i++) app.advance(60);
  const covered: Record<string, number> = {
    ...app.dispatcher.stats, ...app.dispatcher.guard.stats,
    flowsCreated: app.forwarder.diversion.flows.stats.created,
    dnsAnswered: app.forwarder.diversion.ens.counters.answered,
    reassembled: app.forwarder.reassembler.completed,
  };
  const left = {
    connections: app.dispatcher.table.size,
    flows: app.forwarder.diversion.flows.size,
    fragments: app.forwarder.reassembler.pending,
    slots: app.pool.smallSlots - app.freeSlots,
  };
  for (const [what, n] of Object.entries(left)) if (n !== 0) problems.push(`${n} ${what} left after every timer ran`);
  if (gc !== undefined && heapEarly >= 0) {
    gc();
    const grown = process.memoryUsage().heapUsed - heapEarly;
    if (grown > 32 << 20) problems.push(`the heap grew by ${(grown / 1048576).toFixed(1)} MiB though nothing is left in the tables`);
  }
  const internalErrors = app.forwarder.internalErrors;
  if (internalErrors > 0) problems.push(`${internalErrors} internal error(s): ${app.logs.filter((l) => l.startsWith('internal')).join('; ')}`);
  covered.corpusSeeds = corpus.length;
  return { packets, conversations, internalErrors, problems, logs: app.logs, covered };
}

/** `npm run fuzz -- [--seed N] [--count N] [--seconds N]`. */
function main(argv: string[]): number {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: npm run fuzz -- [--seed N] [--count PACKETS] [--seconds S]\n\nFeeds random and mutated packets through the whole data path in process; exits 1 on an exception, an internal error or anything left behind.\n');
    return 0;
  }
  const seed = arg('--seed', Date.now() % 1e9);
  const seconds = arg('--seconds', 60);
  const r = runFuzz({ seed, count: arg('--count', Infinity), seconds });
  process.stdout.write(`fuzz: seed ${seed}, ${r.packets} packets, ${r.conversations} conversations in ${seconds} s at most\n`);
  process.stdout.write(`covered: ${Object.entries(r.covered).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
  for (const p of r.problems) process.stdout.write(`PROBLEM ${p}\n`);
  return r.problems.length === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
