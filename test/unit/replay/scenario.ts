import { ACK, FIN, PSH, RST, SYN, type TcpRepr } from '../../../appliance/wire/tcp';
import { ip, segment, tcpRepr, udpDatagram } from '../wire/packets';
import { a6, tcp6 } from '../wire/packets6';
import type { Frame } from './capture-writer';

export const CLIENT = ip('198.18.0.2');
export const VIP = ip('198.18.0.100');
const T0 = 1_700_000_000;

/** A client and the VIP it talks to: the datagrams each way (IPv4 or IPv6). */
export interface Ends {
  up(t: TcpRepr, payload?: Buffer): Buffer;
  down(t: TcpRepr, payload?: Buffer): Buffer;
}

export const V4: Ends = { up: (t, p) => segment(CLIENT, VIP, t, p), down: (t, p) => segment(VIP, CLIENT, t, p) };

/** An IPv6 client and VIP (the test builds the datagrams itself, wire/packets6.ts). */
export function ends6(client: string, vip: string): Ends {
  const [c, v] = [a6(client), a6(vip)];
  return { up: (t, p) => tcp6(c, v, t, p), down: (t, p) => tcp6(v, c, t, p) };
}

/** A client's connection to the VIP's SOCKS port, packet by packet, on a clock of its own. */
export class Talk {
  private next: number;
  constructor(private readonly frames: Frame[], readonly port: number, private readonly isn: number, private readonly ends: Ends = V4) {
    this.next = isn + 1;
  }

  /** The client's SYN, the appliance's SYN-ACK and the client's ACK. */
  open(t: number): this {
    this.push(t, true, this.isn, SYN);
    this.push(t + 0.0001, false, 9000, SYN | ACK);
    this.push(t + 0.0002, true, this.next, ACK);
    return this;
  }

  /** Client bytes at stream offset `at` (default: next in order). */
  send(t: number, bytes: number[] | Buffer, at?: number): this {
    const b = Buffer.from(bytes);
    const seq = this.isn + 1 + (at ?? this.next - this.isn - 1);
    this.push(t, true, seq, PSH | ACK, b);
    if (at === undefined) this.next += b.length;
    return this;
  }

  /** Offset of the next byte in order. */
  get offset(): number {
    return this.next - this.isn - 1;
  }

  skip(n: number): this {
    this.next += n;
    return this;
  }

  finFromAppliance(t: number): this {
    this.push(t, false, 9001, FIN | ACK);
    return this;
  }

  fin(t: number): this {
    this.push(t, true, this.next, FIN | ACK);
    return this;
  }

  rst(t: number): this {
    this.push(t, true, this.next, RST | ACK);
    return this;
  }

  /** A segment from the client (`up`) or from the VIP. */
  private push(t: number, up: boolean, seq: number, flags: number, payload?: Buffer): void {
    const [srcPort, dstPort] = up ? [this.port, 1080] : [1080, this.port];
    const r = tcpRepr({ srcPort, dstPort, seq: seq >>> 0, ack: 1, flags, window: 65535 });
    this.frames.push({ time: T0 + t, ip: up ? this.ends.up(r, payload) : this.ends.down(r, payload) });
  }
}

/** As a capture has them (each Talk writes its own packets together). */
export function inTimeOrder(f: Frame[]): Frame[] {
  return f.sort((x, y) => x.time - y.time);
}

export const greeting = [5, 1, 0];
export function socks5(cmd: number, host: string, port: number): number[] {
  const p = [port >> 8, port & 255];
  if (host.includes(':')) return [5, cmd, 0, 4, ...a6(host), ...p];
  if (/^[\d.]+$/.test(host)) return [5, cmd, 0, 1, ...host.split('.').map(Number), ...p];
  return [5, cmd, 0, 3, host.length, ...Buffer.from(host), ...p];
}
export function socks4(host: string, port: number): number[] {
  const p = [port >> 8, port & 255];
  if (/^[\d.]+$/.test(host)) return [4, 1, ...p, ...host.split('.').map(Number), ...Buffer.from('lab\0')];
  return [4, 1, ...p, 0, 0, 0, 1, ...Buffer.from('lab\0'), ...Buffer.from(host + '\0')];
}

/**
 * The golden capture: SOCKS5 with a retransmitted greeting and a request in two overlapping
 * segments that arrive in the wrong order; SOCKS4a, SOCKS4 and SOCKS5 with a host name; a BIND;
 * a handshake that stops after the greeting; bytes that are no SOCKS; a connection without its
 * SYN; a routed UDP datagram and its answer. `ends`: the connections' client and VIP (the
 * routed datagrams are IPv4's whatever they are).
 */
export function golden(ends: Ends = V4): Frame[] {
  const f: Frame[] = [];
  const a = new Talk(f, 40001, 0xfffffff0, ends).open(0); // the ISN wraps through 2^32
  a.send(0.003, greeting).send(0.004, greeting, 0);
  const req = socks5(1, '203.0.113.80', 80);
  a.send(0.005, req.slice(3), 3 + 3).send(0.006, req.slice(0, 4), 3).skip(req.length);
  a.send(0.007, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
  a.finFromAppliance(0.5).fin(0.501);
  new Talk(f, 40002, 1000, ends).open(0.01).send(0.012, socks4('web.socksalp.test', 21));
  new Talk(f, 40003, 2000, ends).open(0.02).send(0.022, socks4('203.0.113.80', 70)).rst(0.3);
  new Talk(f, 40004, 3000, ends).open(0.03).send(0.032, greeting).send(0.033, socks5(1, 'files.socksalp.test', 9999));
  new Talk(f, 40005, 4000, ends).open(0.04).send(0.042, [...greeting, ...socks5(2, '203.0.113.80', 80)]);
  new Talk(f, 40006, 5000, ends).open(0.05).send(0.052, greeting);
  new Talk(f, 40007, 6000, ends).open(0.06).send(0.062, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
  new Talk(f, 40008, 7000, ends).send(0.07, [1, 2, 3]);
  f.push({ time: T0 + 0.08, ip: udpDatagram(CLIENT, ip('203.0.113.80'), 5353, 7, Buffer.from('ping')) });
  f.push({ time: T0 + 0.081, ip: udpDatagram(ip('203.0.113.80'), CLIENT, 7, 5353, Buffer.from('ping')) });
  return inTimeOrder(f);
}
