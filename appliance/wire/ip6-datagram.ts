import { ADDRESSES6, V6_BASE } from '../addr/interner';
import { sumWords } from './checksum';
import { Ipv6Headers, Ipv6View } from './ipv6';

/**
 * An IPv6 datagram as the data path reads it: the fixed header's view, its extension headers
 * walked (`headers`: where the upper layer starts), and its addresses as address numbers
 * (addr/interner.ts) looked up once, so that the connection tables, the VIPs and the servers'
 * endpoints compare them as they compare IPv4 addresses. `src`/`dst` are -1 for an address
 * nothing holds (a client not seen before: `holdSrc` interns it).
 *
 * The members the connection path reads (src, dst, totalLength, rewriteSrc, rewriteDst,
 * holdSrc, v6) are Ipv4View's too, so one path serves both families.
 */
export class Ipv6Datagram extends Ipv6View {
  readonly v6 = true;
  src = -1;
  dst = -1;
  readonly headers = new Ipv6Headers();

  /** Looks the addresses up (after `check` and the walk). */
  bind(): void {
    this.src = ADDRESSES6.lookup(this.buf, this.off + 8);
    this.dst = ADDRESSES6.lookup(this.buf, this.off + 24);
  }

  /** The upper layer's first byte and its length (`headers` walked). */
  get upperOffset(): number {
    return this.headers.offset;
  }

  get upperLength(): number {
    return this.off + this.totalLength - this.headers.offset;
  }

  /** The source's number with a reference held: a new connection's client. */
  holdSrc(): number {
    if (this.src >= V6_BASE) {
      ADDRESSES6.retain(this.src);
      return this.src;
    }
    return (this.src = ADDRESSES6.intern(this.buf, this.off + 8));
  }

  /** The sum of both addresses' words as they are in the datagram: their share of the pseudo-header. */
  addressSum(): number {
    return sumWords(this.buf, this.off + 8, 32);
  }

  /** There is no header checksum (RFC 8200): the transport's is the caller's (splice.ts). */
  rewriteSrc(a: number): void {
    ADDRESSES6.write(a, this.buf, this.off + 8);
    this.src = a;
  }

  rewriteDst(a: number): void {
    ADDRESSES6.write(a, this.buf, this.off + 24);
    this.dst = a;
  }
}
