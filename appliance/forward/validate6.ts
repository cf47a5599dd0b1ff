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
 * upper layer (4), fragments to the appliance through reassembly (reassembly6.ts), the addresses looked up as
 * numbers; then TCP (data offset, options, and the
 * checksum over the IPv6 pseudo-header, 8.1) on the datagrams that go on as TCP.
 */
export class Validator6 {
  readonly ip = new Ipv6Datagram();
  readonly tcp = new TcpView();
  readonly opts = new TcpOptions();
  /**
   * After checkIp: why the extension headers could not be walked, None when `ip.headers`
   * reached the upper layer. Such a datagram is the caller's: to the appliance, a Parameter
   * Problem and a drop; routed, forwarded all the same unless the error is in the hop-by-hop
   * header, the one a router reads (RFC 8200 4).
   */
  headerError = Ipv6HeaderError.None;

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
   * when it was dropped (counted); `headerError` says whether the walk got through. A fragment
   * is left as it came (`ip.headers.isFragment`): reassembled only when it is for the appliance.
   */
  checkIp(slot: number, n: number): number {
    const ip = this.ip.wrap(this.pool.buf, this.pool.ipOffset(slot), n);
    this.reassembled = false;
    if (ip.check() !== Ipv6Error.None) {
      this.drops.dropRead(slot, 'malformed-ipv6', n);
      return -1;
    }
    this.headerError = ip.readHeaders(ip.headers);
    ip.bind();
    return slot;
  }

  /**
   * A fragment checkIp passed, to the appliance's own address: into reassembly (RFC 8200 4.5;
   * a router forwards fragments as they are, only their destination puts them together).
   * Returns the slot of the whole datagram, its fragment header gone and walked again
   * (`headerError`, `reassembled`), or -1 when the fragment is held, dropped or refused.
   */
  reassemble(slot: number): number {
    const ip = this.ip;
    const r = this.reassembler;
    const whole = r.add(slot, ip, ip.headers, this.now);
    if (whole === PARAMETER_PROBLEM) {
      this.problem(slot, r.problemCode, r.problemPointer);
      return -1;
    }
    if (whole < 0) return -1;
    ip.wrap(this.pool.buf, this.pool.ipOffset(whole), r.lastLength);
    this.headerError = ip.readHeaders(ip.headers);
    ip.bind();
    this.reassembled = true;
    return whole;
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
