import koffi from 'koffi';
import * as libc from './libc';

/**
 * Queue steering for multi-queue TUN/TAP devices: a tiny eBPF program (TUNSETSTEERINGEBPF)
 * whose return value, modulo the number of queues, is the queue a datagram from the kernel
 * lands on. It returns a TCP or UDP port:
 *
 * - on the TUN (datagrams from the intranet): the source port, the client's;
 * - on a TAP (frames from a server segment): the destination port, the one the appliance
 *   allocated for the server leg (or the client's own, for routed replies);
 *
 * mixed (`steeredQueue`). So a worker k that owns the client ports p with steeredQueue(p, N) =
 * k, and allocates server-leg ports of the same kind, receives both legs of every connection it holds, and both directions of a routed flow, with
 * no flow table to age out (the kernel's automatic steering remembers 4096 flows for 3 s,
 * tun.c MAX_TAP_FLOWS / TUN_FLOW_EXPIRE: an idle connection's server leg would move). What
 * has no port (ICMP, ARP, ND, a fragment after the first) goes to queue 0, the first worker.
 */

const BPF_PROG_LOAD = 5;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const SYS_BPF = 321; // x86_64
const TUNSETSTEERINGEBPF = 0x800454e0;

// eBPF opcodes used below (linux/bpf.h, bpf_common.h).
const LD_ABS_B = 0x30;
const LD_ABS_H = 0x28;
const LD_IND_H = 0x48;
const MOV64_X = 0xbf;
const MOV64_K = 0xb7;
const AND64_K = 0x57;
const LSH64_K = 0x67;
const RSH64_K = 0x77;
const MUL32_K = 0x24;
const RSH32_K = 0x74;
const JEQ_K = 0x15;
const JNE_K = 0x55;
const EXIT = 0x95;

type Insn = [op: number, dst: number, src: number, off: number, imm: number];

/**
 * The port is mixed before the kernel takes it modulo the queues: Linux gives connect() even
 * ephemeral ports (and bind() odd ones), so the port itself would put every client on the
 * same worker of two. Fibonacci hashing: the high half of port * 2^32/phi, in 32 bits.
 */
const GOLDEN = 0x9e3779b1;

/** What the steering program returns for `port`: the worker is this modulo the workers. */
export function steeredQueue(port: number, queues: number): number {
  return (Math.imul(port, GOLDEN) >>> 16) % queues;
}

function mix(): Insn[] {
  return [[MUL32_K, 0, 0, 0, GOLDEN | 0], [RSH32_K, 0, 0, 0, 16]];
}

/**
 * The program for a device whose datagrams start `l2` bytes in (14 for a TAP's Ethernet
 * header, 0 for the TUN), returning the port at `portAt` within the transport header
 * (0: source, 2: destination). r6 holds the context, as LD_ABS/LD_IND require.
 */
export function steeringProgram(l2: number, portAt: number): Insn[] {
  const ip = l2;
  // Jump offsets are counted in instructions after the jumping one; ZERO is the last pair.
  const p: Insn[] = [
    [MOV64_X, 6, 1, 0, 0],
  ];
  if (l2 === 14) {
    p.push(
      [LD_ABS_H, 0, 0, 0, 12], // EtherType
      [JEQ_K, 0, 0, 0, 0x86dd], // -> V6 (patched)
      [JNE_K, 0, 0, 0, 0x0800], // -> ZERO (patched)
    );
  } else {
    p.push(
      [LD_ABS_B, 0, 0, 0, ip], // version nibble
      [RSH64_K, 0, 0, 0, 4],
      [JEQ_K, 0, 0, 0, 6], // -> V6
      [JNE_K, 0, 0, 0, 4], // -> ZERO
    );
  }
  const toV6 = p.length - 2;
  const toZero4 = p.length - 1;
  p.push(
    [LD_ABS_H, 0, 0, 0, ip + 6], // flags and fragment offset: every fragment to queue 0, the
    [AND64_K, 0, 0, 0, 0x3fff], //   first too (MF), so that they are reassembled in one place
    [JNE_K, 0, 0, 0, 0], // -> ZERO
    [LD_ABS_B, 0, 0, 0, ip + 9], // protocol
    [JEQ_K, 0, 0, 1, 6], // TCP: over the UDP test
    [JNE_K, 0, 0, 0, 17], // -> ZERO
    [LD_ABS_B, 0, 0, 0, ip], // IHL, in 32-bit words
    [AND64_K, 0, 0, 0, 0x0f],
    [LSH64_K, 0, 0, 0, 2],
    [MOV64_X, 7, 0, 0, 0],
    [LD_IND_H, 0, 7, 0, ip + portAt], // the port, past the options
    ...mix(),
    [EXIT, 0, 0, 0, 0],
  );
  const fragZero = p.length - 12;
  const udpZero = p.length - 9;
  const v6 = p.length;
  p.push(
    [LD_ABS_B, 0, 0, 0, ip + 6], // next header; extension headers are not walked: queue 0
    [JEQ_K, 0, 0, 1, 6],
    [JNE_K, 0, 0, 0, 17], // -> ZERO
    [LD_ABS_H, 0, 0, 0, ip + 40 + portAt],
    ...mix(),
    [EXIT, 0, 0, 0, 0],
  );
  const v6Zero = p.length - 5;
  const zero = p.length;
  p.push([MOV64_K, 0, 0, 0, 0], [EXIT, 0, 0, 0, 0]);
  const jump = (at: number, to: number) => { p[at][3] = to - at - 1; };
  jump(toV6, v6);
  jump(toZero4, zero);
  jump(fragZero, zero);
  jump(udpZero, zero);
  jump(v6Zero, zero);
  return p;
}

/** The instructions as the kernel takes them: 8 bytes each (op, dst|src<<4, off, imm). */
export function encodeProgram(p: Insn[]): Uint8Array {
  const out = new Uint8Array(p.length * 8);
  const v = new DataView(out.buffer);
  p.forEach(([op, dst, src, off, imm], i) => {
    v.setUint8(i * 8, op);
    v.setUint8(i * 8 + 1, (src << 4) | dst);
    v.setInt16(i * 8 + 2, off, true);
    v.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}

// The first fields of union bpf_attr for BPF_PROG_LOAD; the kernel zeroes what a shorter attr leaves out.
const ProgLoadAttr = koffi.struct('socksalp_bpf_prog_load', {
  prog_type: 'uint32_t',
  insn_cnt: 'uint32_t',
  insns: 'uint8_t *',
  license: 'const char *',
  log_level: 'uint32_t',
  log_size: 'uint32_t',
  log_buf: 'uint8_t *',
  kern_version: 'uint32_t',
  prog_flags: 'uint32_t',
});
const bpf = koffi.load('libc.so.6').func('long syscall(long number, int cmd, socksalp_bpf_prog_load *attr, unsigned int size)') as
  (n: number, cmd: number, attr: object, size: number) => number;

/** Loads the program; returns its descriptor (which the device keeps referenced once attached). */
function load(p: Insn[]): number {
  const insns = encodeProgram(p);
  const attr = { prog_type: BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt: p.length, insns, license: 'GPL', log_level: 0, log_size: 0, log_buf: null, kern_version: 0, prog_flags: 0 };
  const fd = bpf(SYS_BPF, BPF_PROG_LOAD, attr, koffi.sizeof(ProgLoadAttr));
  if (fd < 0) throw new Error(`bpf(BPF_PROG_LOAD): ${libc.strerror(libc.errno())}`);
  return fd;
}

/**
 * Sets the steering program on the multi-queue device behind `fd` (the whole device, every
 * queue), `tap` choosing the frame layout and the port. Throws with the reason.
 */
export function steerByPort(fd: number, tap: boolean): void {
  const prog = load(steeringProgram(tap ? 14 : 0, tap ? 2 : 0));
  const arg = new Uint8Array(4);
  new DataView(arg.buffer).setInt32(0, prog, true);
  const r = libc.ioctlPtr(fd, TUNSETSTEERINGEBPF, arg);
  const e = libc.errno();
  libc.close(prog); // the device holds its own reference
  if (r < 0) throw new Error(`TUNSETSTEERINGEBPF: ${libc.strerror(e)}`);
}
