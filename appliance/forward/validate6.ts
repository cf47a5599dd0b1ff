import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, type PacketPool } from '../device/packet-pool';
import { pseudoHeaderSum6 } from '../wire/checksum';
import { Ipv6Datagram } from '../wire/ip6-datagram';
import { Ipv6Error, Ipv6HeaderError } from '../wire/ipv6';
import { TcpOptions, TcpView } from '../wire/tcp';
import type { Drops } from './drops';
import { PARAMETER_PROBLEM, type Reassembler6 } from './reassembly6';

/**
 * validate.ts for IPv6: every IPv6 datagram is checked once, here. The fixed header (RFC 8200
 * 3: version, payload length within what was read), the extension headers walked to the
 * upper layer (4), fragments through reassembly (reassembly6.ts), the addresses looked up as
 * numbers; then TCP (data offset, options, and the
 * checksum over the IPv6 pseudo-header, 8.1) on the datagrams that go on as TCP.
 */
export class Validator6 {
  readonly ip = new Ipv6Datagram();
  readonly tcp = new TcpView();
  readonly opts = new TcpOptions();

  now = 0;
  /** The datagram checked last came in fragments: no Neighbor Discovery message may (RFC 6980 5). */
  reassembled = false;
  /**
   * A fragment refused with a Parameter Problem (reassembly6.ts: code, pointer): the slot is
   * the callee's (icmp6 answers it, or gives it back).
   */
  problem: (slot: number, code: number, pointer: number) => void = (slot) => this.pool.give(slot);

  constructor(private readonly pool: PacketPool, private readonly reassembler: Reassembler6, private readonly drops: Drops) {}

  /**
   * Points `ip` at the datagram of `slot` (`n` bytes) and checks it. Returns the slot, or -1
   * when it was dropped (counted).
   */
  checkIp(slot: number, n: number): number {
    const ip = this.ip.wrap(this.pool.buf, this.pool.ipOffset(slot), n);
    this.reassembled = false;
    if (ip.check() !== Ipv6Error.None) {
      this.drops.dropRead(slot, 'malformed-ipv6', n);
      return -1;
    }
    const err = ip.readHeaders(ip.headers);
    if (err !== Ipv6HeaderError.None) {
      this.drops.dropRead(slot, 'malformed-ipv6', n);
      return -1;
    }
    if (ip.headers.isFragment) {
      // RFC 8200 4.5: the whole datagram, its fragment header gone, walked again.
      const r = this.reassembler;
      const whole = r.add(slot, ip, ip.headers, this.now);
      if (whole === PARAMETER_PROBLEM) {
        this.problem(slot, r.problemCode, r.problemPointer);
        return -1;
      }
      if (whole < 0) return -1;
      ip.wrap(this.pool.buf, this.pool.ipOffset(whole), r.lastLength);
      if (ip.readHeaders(ip.headers) !== Ipv6HeaderError.None) {
        this.drops.drop(whole, 'malformed-ipv6');
        return -1;
      }
      slot = whole;
      this.reassembled = true;
    }
    ip.bind();
    return slot;
  }

  /** Points `tcp` and `opts` at the segment in `ip` and checks it; undefined when dropped (counted). */
  checkTcp(slot: number): TcpView | undefined {
    const ip = this.ip;
    const tcp = this.tcp.wrap(this.pool.buf, ip.upperOffset, ip.upperLength, this.pool.checksumPartial(slot));
    if (tcp.check() !== 0 || !tcp.readOptions(this.opts)) {
      this.drops.drop(slot, 'malformed-tcp');
      return undefined;
    }
    if ((this.pool.vnetFlags[slot] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) === 0
      && !tcp.checksumValid6(pseudoHeaderSum6(ip.buf, ip.srcOffset, ip.buf, ip.dstOffset, 6, tcp.len))) {
      this.drops.drop(slot, 'bad-tcp-checksum');
      return undefined;
    }
    return tcp;
  }
}
