import { ADDRESSES6, V6_BASE } from '../addr/interner';
import { releaseAddress } from '../addr/address';
import { Ipv4Error, Ipv4View, PROTO_TCP, PROTO_UDP } from '../wire/ipv4';
import { Ipv6Error, Ipv6HeaderError, Ipv6Headers, Ipv6View } from '../wire/ipv6';
import { TcpError, TcpView } from '../wire/tcp';
import type { CapturePacket } from './capture-file';
import { ipOffset, isKnownLinkType } from './link';

/** What replay reads of a TCP or UDP datagram, filled in place for each packet. */
export class PacketFacts {
  time = 0;
  protocol = 0;
  /** Address numbers (addr/address.ts), IPv4 or IPv6: the configuration's VIPs compare with them. */
  src = 0;
  dst = 0;
  srcPort = 0;
  dstPort = 0;
  /** TCP only. */
  seq = 0;
  flags = 0;
  buf: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  /** The captured payload; less than the datagram's when `cut`. */
  payloadLength = 0;
  /** The snap length cut the datagram short. */
  cut = false;
}

/**
 * From a captured frame to the facts of its TCP or UDP datagram, IPv4 or IPv6, through the
 * appliance's own wire views. Checksums are not verified: a capture on the sending host holds
 * the checksums its NIC would have filled in (offload), not the ones on the wire. Counts what
 * it cannot read. An IPv6 address is the interner's number: one the configuration holds (a
 * VIP) is found as it is, any other is interned and held until `close`.
 */
export class PacketDecoder {
  readonly counts = { notIp: 0, unknownLink: 0, malformed: 0, fragments: 0, otherProtocols: 0 };
  private readonly ip = new Ipv4View();
  private readonly ip6 = new Ipv6View();
  private readonly headers6 = new Ipv6Headers();
  private readonly tcp = new TcpView();
  private readonly held: number[] = [];

  /** True when `f` now describes a TCP or UDP datagram of `p`. */
  decode(p: CapturePacket, f: PacketFacts): boolean {
    const at = ipOffset(p.linkType, p.buf, p.off, p.length);
    if (at < 0) {
      if (isKnownLinkType(p.linkType)) this.counts.notIp++;
      else this.counts.unknownLink++;
      return false;
    }
    return p.buf[at] >> 4 === 6 ? this.decode6(p, at, f) : this.decode4(p, at, f);
  }

  /** Gives back the IPv6 addresses the capture's packets made the interner hold. */
  close(): void {
    for (const a of this.held) releaseAddress(a);
    this.held.length = 0;
  }

  private decode4(p: CapturePacket, at: number, f: PacketFacts): boolean {
    const ip = this.ip.wrap(p.buf, at, p.off + p.length - at);
    const e = ip.check(false);
    // The snap length may cut the datagram: what was captured is read, and marked cut.
    const cut = e === Ipv4Error.TotalLength && ip.totalLength >= ip.headerLength && p.originalLength > p.length;
    if (e !== Ipv4Error.None && !cut) {
      this.counts.malformed++;
      return false;
    }
    if (ip.isFragment) {
      this.counts.fragments++;
      return false;
    }
    f.src = ip.src;
    f.dst = ip.dst;
    return this.transport(p, f, ip.protocol, ip.payloadOffset, Math.min(ip.totalLength, ip.len) - ip.headerLength, cut);
  }

  /** RFC 8200: the fixed header, then the extension headers walked to TCP or UDP (4); a fragment is skipped, as IPv4's. */
  private decode6(p: CapturePacket, at: number, f: PacketFacts): boolean {
    const ip = this.ip6.wrap(p.buf, at, p.off + p.length - at);
    const e = ip.check();
    const cut = e === Ipv6Error.PayloadLength && p.originalLength > p.length;
    const h = this.headers6;
    const end = at + ip.len;
    // The walk reads the header chain within the payload length; on a cut datagram it is taken
    // only when it ends within what was captured, so every byte it read was.
    if ((e !== Ipv6Error.None && !cut) || ip.readHeaders(h) !== Ipv6HeaderError.None || !(h.offset <= end)) {
      this.counts.malformed++;
      return false;
    }
    if (h.isFragment) {
      this.counts.fragments++;
      return false;
    }
    f.src = this.address(p.buf, ip.srcOffset);
    f.dst = this.address(p.buf, ip.dstOffset);
    return this.transport(p, f, h.protocol, h.offset, Math.min(at + ip.totalLength, end) - h.offset, cut);
  }

  private address(b: Uint8Array, at: number): number {
    const a = ADDRESSES6.lookup(b, at);
    if (a >= V6_BASE) return a;
    const held = ADDRESSES6.intern(b, at);
    this.held.push(held);
    return held;
  }

  /** The TCP or UDP header at `o`, `captured` bytes of the transport's there. */
  private transport(p: CapturePacket, f: PacketFacts, proto: number, o: number, captured: number, cut: boolean): boolean {
    f.time = p.time;
    f.protocol = proto;
    f.cut = cut;
    f.buf = p.buf;
    if (proto === PROTO_TCP) {
      const tcp = this.tcp.wrap(p.buf, o, captured);
      if (tcp.check() !== TcpError.None) {
        this.counts.malformed++;
        return false;
      }
      f.srcPort = tcp.srcPort;
      f.dstPort = tcp.dstPort;
      f.seq = tcp.seq;
      f.flags = tcp.flags;
      f.payloadOffset = tcp.payloadOffset;
      f.payloadLength = tcp.payloadLength;
      return true;
    }
    if (proto === PROTO_UDP) {
      if (captured < 8) {
        this.counts.malformed++;
        return false;
      }
      f.srcPort = (p.buf[o] << 8) | p.buf[o + 1];
      f.dstPort = (p.buf[o + 2] << 8) | p.buf[o + 3];
      f.seq = 0;
      f.flags = 0;
      f.payloadOffset = o + 8;
      f.payloadLength = captured - 8;
      return true;
    }
    this.counts.otherProtocols++;
    return false;
  }
}
