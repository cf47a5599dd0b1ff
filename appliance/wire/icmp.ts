import { finish, sumWords } from './checksum';
import { WireView } from './view';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const UNREACH_NET = 0;

/** Destination unreachable, source quench, redirect, time exceeded, parameter problem (RFC 792). */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** The first word of an ICMP or ICMPv6 message: type, code, checksum (RFC 792, RFC 4443 2.1). */
export class IcmpHeaderView extends WireView {
  get type(): number { return this.buf[this.off]; }
  set type(v: number) { this.buf[this.off] = v; }
  get code(): number { return this.buf[this.off + 1]; }
  set code(v: number) { this.buf[this.off + 1] = v; }
  get checksum(): number { return (this.buf[this.off + 2] << 8) | this.buf[this.off + 3]; }
  set checksum(v: number) { this.buf[this.off + 2] = v >> 8; this.buf[this.off + 3] = v; }
}

/** A view over an ICMP message (RFC 792). */
export class IcmpView extends IcmpHeaderView {

  get checksumValid(): boolean {
    return this.len >= 8 && finish(sumWords(this.buf, this.off, this.len)) === 0;
  }

  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = finish(sumWords(this.buf, this.off, this.len));
  }
}
