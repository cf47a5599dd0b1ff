import { VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM, type PacketPool } from '../device/packet-pool';
import { Ipv4Error, Ipv4View } from '../wire/ipv4';
import { TcpOptions, TcpView } from '../wire/tcp';
import type { Drops } from './drops';
import type { Reassembler } from './reassembly';

/**
 * Every datagram is checked once, here, before the rest of the appliance reads it, so that the
 * lengths its views report can be trusted from then on. IPv4 (RFC 791: version,
 * header and total lengths; the RFC 1071 header checksum), fragments through reassembly,
 * then TCP (data offset, options, checksum) on the datagrams that go on as TCP.
 */
export class Validator {
  // Views re-pointed at each datagram: what the checks found is what the caller reads.
  readonly ip = new Ipv4View();
  readonly tcp = new TcpView();
  readonly opts = new TcpOptions();
  now = 0;

  constructor(
    private readonly pool: PacketPool,
    private readonly reassembler: Reassembler,
    private readonly drops: Drops,
  ) {}

  /**
   * Points `ip` at the datagram of `slot` (`n` bytes) and checks it; a fragment goes to
   * reassembly. Returns the slot holding the whole datagram, or -1 when it was dropped
   * (counted) or is waiting for more fragments.
   */
  checkIp(slot: number, n: number): number {
    const ip = this.ip.wrap(this.pool.buf, this.pool.ipOffset(slot), n);
    const err = ip.check();
    if (err !== Ipv4Error.None) {
      this.drops.dropRead(slot, err === Ipv4Error.Checksum ? 'bad-ip-checksum' : err === Ipv4Error.Version ? 'not-ipv4' : 'malformed-ip', n);
      return -1;
    }
    if (!ip.isFragment) return slot;
    const whole = this.reassembler.add(slot, ip, this.now);
    if (whole >= 0) ip.wrap(this.pool.buf, this.pool.ipOffset(whole), this.reassembler.lastLength);
    return whole;
  }

  /**
   * Points `tcp` and `opts` at the segment in `ip` and checks header, options and (unless the
   * kernel vouches for it) the checksum; undefined when dropped (counted).
   */
  checkTcp(slot: number): TcpView | undefined {
    const ip = this.ip;
    const tcp = this.tcp.wrap(this.pool.buf, ip.payloadOffset, ip.payloadLength, this.pool.checksumPartial(slot));
    if (tcp.check() !== 0 || !tcp.readOptions(this.opts)) {
      this.drops.drop(slot, 'malformed-tcp');
      return undefined;
    }
    if (!this.tcpTrusted(slot) && !tcp.checksumValid(ip.src, ip.dst)) {
      this.drops.drop(slot, 'bad-tcp-checksum');
      return undefined;
    }
    return tcp;
  }

  /** Whether the TCP checksum needs no check: the kernel checked it, or will fill it in. */
  private tcpTrusted(slot: number): boolean {
    return (this.pool.vnetFlags[slot] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) !== 0;
  }
}
