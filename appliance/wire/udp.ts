import { fold, pseudoHeaderSum, sumWords } from './checksum';
import { WireView } from './view';

const UDP_HEADER = 8;

/** A view over a UDP header (RFC 768). */
export class UdpView extends WireView {
  get srcPort(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  get dstPort(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  get length(): number { return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5]; }
  get checksum(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }

  get valid(): boolean {
    return this.len >= UDP_HEADER && this.length >= UDP_HEADER && this.length <= this.len;
  }

  /** A zero checksum means none was computed (allowed over IPv4). */
  checksumValid(src: number, dst: number): boolean {
    if (this.checksum === 0) return true;
    return fold(sumWords(this.buf, this.off, this.length, pseudoHeaderSum(src, dst, 17, this.length))) === 0xffff;
  }

  /** Over IPv6 a zero checksum is not allowed (RFC 8200 8.1); `pseudo`: pseudoHeaderSum6(…, 17, this.length). */
  checksumValid6(pseudo: number): boolean {
    return this.checksum !== 0 && fold(sumWords(this.buf, this.off, this.length, pseudo)) === 0xffff;
  }
}
