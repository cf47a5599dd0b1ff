import { expect } from 'chai';
import { HealthStub } from './health-stub';
import { refChecksum, pseudo6 } from '../wire/packets6';
import { PacketPool } from '../../../appliance/device/packet-pool';
import type { Dispatcher, Sink } from '../../../appliance/flow/dispatcher';
import { formatIpv6 } from '../../../appliance/config/address';
import { Ipv4View } from '../../../appliance/wire/ipv4';
import { Ipv6Datagram } from '../../../appliance/wire/ip6-datagram';
import { parseTcp, TcpOptions, TcpView, type TcpRepr } from '../../../appliance/wire/tcp';

/**
 * The packet harness of the Dispatcher tests without devices: a sink that captures what the
 * dispatcher sends (each test file decodes it into its own shape), the feed of a datagram of
 * either family as the receive path gives it, and the reference decode of a datagram as it leaves.
 */

/** Where a datagram went: the intranet ('client') or server `n`. */
export type Dest = 'client' | number;

/**
 * A Sink (and Health: every server usable) that keeps what the dispatcher sends, a copy of each
 * datagram decoded by `decode`, and gives the slot back at once.
 */
export class Capture<T> extends HealthStub implements Sink {
  readonly pool: PacketPool;
  out: T[] = [];
  constructor(private readonly decode: (b: Buffer, to: Dest, own: boolean) => T, slots = 256) {
    super();
    this.pool = new PacketPool(slots, 1500);
  }
  private keep(slot: number, len: number, to: Dest, own: boolean): void {
    const at = this.pool.ipOffset(slot);
    this.out.push(this.decode(Buffer.from(this.pool.buf.subarray(at, at + len)), to, own));
    this.pool.give(slot);
  }
  toIntranet(slot: number, len: number): void { this.keep(slot, len, 'client', true); }
  toServer(s: number, slot: number, len: number, _alp: number, _prio: number, _de: boolean, own: boolean): void { this.keep(slot, len, s, own); }
  /** What was sent since the last take. */
  take(): T[] { const o = this.out; this.out = []; return o; }
}

/**
 * Gives `d` datagrams of either family as the receive path does: copied into a slot of the
 * capture's pool, the IPv6 header checked and its extension headers walked, the TCP options
 * read (the test's own segments must parse); returns what the dispatcher sent for it. One set
 * of views per family, re-pointed at each datagram as the data path's are.
 */
export class Feeder<T> {
  private readonly v4 = { ip: new Ipv4View(), tcp: new TcpView(), o: new TcpOptions() };
  private readonly v6 = { ip: new Ipv6Datagram(), tcp: new TcpView(), o: new TcpOptions() };
  constructor(private readonly d: Dispatcher, private readonly cap: Capture<T>) {}

  feed(from: Dest, b: Buffer): T[] {
    const { d, cap, v4, v6 } = this;
    const slot = cap.pool.take();
    const at = cap.pool.ipOffset(slot);
    cap.pool.buf.set(b, at);
    if (b[0] >> 4 === 6) {
      const x = v6.ip.wrap(cap.pool.buf, at, b.length);
      expect(x.check()).to.equal(0);
      x.readHeaders(x.headers);
      x.bind();
      const t = v6.tcp.wrap(cap.pool.buf, x.upperOffset, x.upperLength);
      expect(t.readOptions(v6.o)).to.equal(true);
      if (from === 'client') d.fromClient(slot, x, t, v6.o, b.length);
      else d.fromServer(from, slot, x, t, v6.o, b.length);
    } else {
      const x = v4.ip.wrap(cap.pool.buf, at, b.length);
      const t = v4.tcp.wrap(cap.pool.buf, x.payloadOffset, x.payloadLength);
      expect(t.readOptions(v4.o)).to.equal(true);
      if (from === 'client') d.fromClient(slot, x, t, v4.o, b.length);
      else d.fromServer(from, slot, x, t, v4.o, b.length);
    }
    return cap.take();
  }
}

/** A datagram as it left, either family: its addresses as text, its TCP header parsed. */
export interface Decoded { raw: Buffer; v6: boolean; src: string; dst: string; hopLimit: number; tcp: TcpRepr; payload: Buffer }

/**
 * The datagram `b` as it leaves, its lengths and both checksums checked by the reference sum
 * (packets6.ts, RFC 1071 over RFC 793's / RFC 8200 8.1's pseudo-header), not the library's.
 */
export function checkedDecode(b: Buffer): Decoded {
  const v6 = b[0] >> 4 === 6;
  const hl = v6 ? 40 : 20;
  const seg = b.subarray(hl);
  let pseudo: Buffer;
  if (v6) {
    expect(b.readUInt16BE(4), 'payload length').to.equal(seg.length);
    pseudo = pseudo6(b.subarray(8, 24), b.subarray(24, 40), 6, seg.length);
  } else {
    expect(refChecksum(b.subarray(0, 20)), 'IPv4 header checksum').to.equal(0);
    expect(b.readUInt16BE(2), 'total length').to.equal(b.length);
    pseudo = Buffer.concat([b.subarray(12, 20), Buffer.from([0, 6, seg.length >> 8, seg.length & 255])]);
  }
  expect(refChecksum(pseudo, seg), 'TCP checksum').to.equal(0);
  const t = new TcpView().wrap(b, hl, seg.length);
  const addr = (at: number) => (v6 ? formatIpv6(b, at) : `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`);
  return {
    raw: b, v6, src: addr(v6 ? 8 : 12), dst: addr(v6 ? 24 : 16), hopLimit: b[v6 ? 7 : 8],
    tcp: parseTcp(t, new TcpOptions()), payload: b.subarray(t.payloadOffset),
  };
}
