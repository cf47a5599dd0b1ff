import { VNET_F_NEEDS_CSUM, type PacketPool } from '../device/packet-pool';
import { update16 } from '../wire/checksum';
import { ACK, FIN, PSH, TCP_MIN_HEADER, TcpView } from '../wire/tcp';

const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const TCP = 6;

/**
 * Batching on the intranet side (issue 15): a bare FIN that follows, in the same batch, the data
 * segment it closes (a server that writes its last bytes and closes sends them in two segments
 * back to back) joins that segment while it still waits in the TUN's queue, one write(2) and one
 * datagram instead of two. RFC 9293 3.4 lets one segment carry the last data and the FIN: the
 * FIN takes the sequence number after the data, which is exactly where the bare FIN stood. The
 * data segment takes the FIN's (later or equal) ACK and window; nothing else is lost: the FIN
 * carries no data and no options, and a FIN is never a duplicate ACK (RFC 5681 2).
 *
 * Only plain datagrams are joined: IPv4 without options or fragments, IPv6 with TCP as the first
 * header, neither a GSO super-packet. A partial checksum (offloaded) needs no change; a whole
 * one is updated incrementally (RFC 1624).
 */
export class FinMerge {
  private readonly data = new TcpView();
  private readonly fin = new TcpView();
  /** FINs that joined the segment before them. */
  merged = 0;

  constructor(private readonly pool: PacketPool) {}

  /** Whether `slot` (a bare FIN, `len` bytes) joined `tail` (`tailLen` bytes), the queue's last datagram; the caller then gives `slot` back. */
  into(tail: number, tailLen: number, slot: number, len: number): boolean {
    const p = this.pool;
    if (p.gsoType[tail] !== 0 || p.gsoType[slot] !== 0) return false;
    const b = p.buf;
    const t = p.ipOffset(tail);
    const s = p.ipOffset(slot);
    const version = b[s] >> 4;
    if (b[t] >> 4 !== version) return false;
    let header: number;
    if (version === 4) {
      if (b[s] !== 0x45 || b[t] !== 0x45 || b[s + 9] !== TCP || b[t + 9] !== TCP) return false;
      // Not a fragment, nor the first of several (MF, fragment offset).
      if (((b[s + 6] & 0x3f) | b[s + 7] | (b[t + 6] & 0x3f) | b[t + 7]) !== 0) return false;
      if (!same(b, s + 12, t + 12, 8)) return false;
      header = IPV4_HEADER;
    } else if (version === 6) {
      if (b[s + 6] !== TCP || b[t + 6] !== TCP || !same(b, s + 8, t + 8, 32)) return false;
      header = IPV6_HEADER;
    } else {
      return false;
    }
    if (len < header + TCP_MIN_HEADER || tailLen < header + TCP_MIN_HEADER) return false;
    const f = this.fin.wrap(b, s + header, len - header);
    const d = this.data.wrap(b, t + header, tailLen - header, (p.vnetFlags[tail] & VNET_F_NEEDS_CSUM) !== 0);
    if (f.headerLength !== TCP_MIN_HEADER || f.payloadLength !== 0 || (f.flags & ~PSH) !== (ACK | FIN)) return false;
    if ((d.flags & ~PSH) !== ACK || d.payloadLength <= 0 || d.headerLength < TCP_MIN_HEADER) return false;
    if (d.srcPort !== f.srcPort || d.dstPort !== f.dstPort) return false;
    if ((((d.seq + d.payloadLength) >>> 0) !== f.seq) || ((f.ack - d.ack) | 0) < 0) return false;
    d.rewriteAck(f.ack);
    d.rewriteWindow(f.window);
    const word = (b[d.off + 12] << 8) | b[d.off + 13];
    const joined = word | FIN | (f.flags & PSH);
    if (!d.partial) d.checksum = update16(d.checksum, word, joined);
    b[d.off + 13] = joined;
    this.merged++;
    return true;
  }
}

function same(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[x + i] !== b[y + i]) return false;
  return true;
}
