import { Ipv4Error, Ipv4View, PROTO_TCP, PROTO_UDP } from '../wire/ipv4';
import { TcpError, TcpView } from '../wire/tcp';
import type { CapturePacket } from './capture-file';
import { ipv4Offset, isKnownLinkType } from './link';

/** What replay reads of a TCP or UDP datagram, filled in place for each packet. */
export class PacketFacts {
  time = 0;
  protocol = 0;
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
 * From a captured frame to the facts of its TCP or UDP datagram, through the appliance's own
 * wire views. Checksums are not verified: a capture on the sending host holds the checksums its
 * NIC would have filled in (offload), not the ones on the wire. Counts what it cannot read.
 */
export class PacketDecoder {
  readonly counts = { notIpv4: 0, unknownLink: 0, malformed: 0, fragments: 0, otherProtocols: 0 };
  private readonly ip = new Ipv4View();
  private readonly tcp = new TcpView();

  /** True when `f` now describes a TCP or UDP datagram of `p`. */
  decode(p: CapturePacket, f: PacketFacts): boolean {
    const at = ipv4Offset(p.linkType, p.buf, p.off, p.length);
    if (at < 0) {
      if (isKnownLinkType(p.linkType)) this.counts.notIpv4++;
      else this.counts.unknownLink++;
      return false;
    }
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
    const proto = ip.protocol;
    const captured = Math.min(ip.totalLength, ip.len) - ip.headerLength;
    f.time = p.time;
    f.protocol = proto;
    f.src = ip.src;
    f.dst = ip.dst;
    f.cut = cut;
    f.buf = p.buf;
    if (proto === PROTO_TCP) {
      const tcp = this.tcp.wrap(p.buf, ip.payloadOffset, captured);
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
      const o = ip.payloadOffset;
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
