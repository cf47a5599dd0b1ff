import { expect } from 'chai';
import { encodeProgram, steeredQueue, steeringProgram } from '../../../appliance/device/steering';

/**
 * The steering program run by a small interpreter of the eBPF instructions it uses (as the
 * kernel's would run them on an skb whose data starts at the frame), on frames built here:
 * it must name the port steeredQueue names, and queue 0 for what has no port.
 */
function run(bytes: Uint8Array, frame: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Array<number>(11).fill(0);
  const load = (at: number, size: number) => {
    if (at + size > frame.length) throw new Error('out of the packet: the kernel ends the program with 0');
    return size === 1 ? frame[at] : (frame[at] << 8) | frame[at + 1];
  };
  for (let pc = 0; pc < bytes.length / 8; pc++) {
    const op = v.getUint8(pc * 8);
    const dst = v.getUint8(pc * 8 + 1) & 0x0f;
    const src = v.getUint8(pc * 8 + 1) >> 4;
    const off = v.getInt16(pc * 8 + 2, true);
    const imm = v.getInt32(pc * 8 + 4, true);
    switch (op) {
      case 0xbf: r[dst] = r[src]; break;
      case 0xb7: r[dst] = imm; break;
      case 0x30: r[0] = load(imm, 1); break;
      case 0x28: r[0] = load(imm, 2); break;
      case 0x48: r[0] = load(r[src] + imm, 2); break;
      case 0x57: r[dst] &= imm; break;
      case 0x67: r[dst] <<= imm; break;
      case 0x77: r[dst] >>>= imm; break;
      case 0x24: r[dst] = Math.imul(r[dst], imm) >>> 0; break;
      case 0x74: r[dst] = r[dst] >>> imm; break;
      case 0x15: if (r[dst] === imm) pc += off; break;
      case 0x55: if (r[dst] !== imm) pc += off; break;
      case 0x95: return r[0];
      default: throw new Error(`opcode ${op.toString(16)} not expected`);
    }
  }
  throw new Error('ran off the end');
}

function ipv4(proto: number, sport: number, dport: number, o: { options?: number; fragOffset?: number } = {}): Uint8Array {
  const ihl = 20 + (o.options ?? 0);
  const b = new Uint8Array(ihl + 20);
  b[0] = 0x40 | (ihl / 4);
  b[6] = (o.fragOffset ?? 0) >> 8;
  b[7] = (o.fragOffset ?? 0) & 0xff;
  b[9] = proto;
  b[ihl] = sport >> 8; b[ihl + 1] = sport & 0xff;
  b[ihl + 2] = dport >> 8; b[ihl + 3] = dport & 0xff;
  return b;
}

function ipv6(nh: number, sport: number, dport: number): Uint8Array {
  const b = new Uint8Array(60);
  b[0] = 0x60;
  b[6] = nh;
  b[40] = sport >> 8; b[41] = sport & 0xff;
  b[42] = dport >> 8; b[43] = dport & 0xff;
  return b;
}

function ether(type: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(14 + payload.length);
  b[12] = type >> 8;
  b[13] = type & 0xff;
  b.set(payload, 14);
  return b;
}

describe('device: the steering program of multi-queue devices', function () {
  const tun = encodeProgram(steeringProgram(0, 0));
  const tap = encodeProgram(steeringProgram(14, 2));
  const queue = (ret: number, n: number) => ret % n;

  it('encodes each instruction in 8 bytes: opcode, registers, offset, immediate (little-endian)', function () {
    expect([...encodeProgram([[0x48, 0, 7, -2, 16]])]).to.deep.equal([0x48, 0x70, 0xfe, 0xff, 16, 0, 0, 0]);
  });

  it('steers a datagram from the TUN by its source port: the client\'s, over IPv4 (options too) and IPv6', function () {
    for (const sport of [40000, 40002, 51234, 1024, 65535]) {
      for (const n of [2, 3, 4]) {
        expect(queue(run(tun, ipv4(6, sport, 1080)), n)).to.equal(steeredQueue(sport, n));
        expect(queue(run(tun, ipv4(17, sport, 53, { options: 8 })), n)).to.equal(steeredQueue(sport, n));
        expect(queue(run(tun, ipv6(6, sport, 1080)), n)).to.equal(steeredQueue(sport, n));
      }
    }
  });

  it('steers a frame from a TAP by its destination port: the server leg\'s allocated one', function () {
    for (const dport of [1024, 2048, 33333, 65534]) {
      expect(queue(run(tap, ether(0x0800, ipv4(6, 1080, dport, { options: 12 }))), 2)).to.equal(steeredQueue(dport, 2));
      expect(queue(run(tap, ether(0x86dd, ipv6(6, 1080, dport))), 3)).to.equal(steeredQueue(dport, 3));
    }
  });

  it('sends what has no port to queue 0: ARP, ICMP, ICMPv6, fragments (the first too), IPv6 extension headers', function () {
    expect(run(tap, ether(0x0806, new Uint8Array(28)))).to.equal(0);
    expect(run(tap, ether(0x0800, ipv4(1, 0x1234, 0x5678)))).to.equal(0);
    expect(run(tun, ipv6(58, 0x8000, 0))).to.equal(0);
    expect(run(tun, ipv4(6, 40000, 1080, { fragOffset: 185 }))).to.equal(0);
    expect(run(tun, ipv4(6, 40002, 1080, { fragOffset: 0x2000 })), 'a first fragment (MF): with the others').to.equal(0);
    expect(run(tun, ipv6(44, 40000, 1080))).to.equal(0);
  });

  it('spreads the even ports Linux gives connect() over every worker', function () {
    for (const n of [2, 3, 4]) {
      const counts = new Array<number>(n).fill(0);
      for (let p = 32768; p < 61000; p += 2) counts[steeredQueue(p, n)]++;
      const even = 14116 / n;
      for (const c of counts) expect(Math.abs(c - even) / even).to.be.lessThan(0.05);
    }
  });
});
