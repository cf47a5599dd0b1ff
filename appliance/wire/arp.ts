import { readU32, writeU32 } from './ipv4';
import { WireView } from './view';

export const ARP_LENGTH = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

/** A view over an ARP packet for IPv4 over Ethernet (RFC 826). */
export class ArpView extends WireView {
  /** Ethernet hardware, IPv4 protocol, 6- and 4-byte addresses: the only kind the appliance speaks. */
  get valid(): boolean {
    const b = this.buf;
    const o = this.off;
    return this.len >= ARP_LENGTH && b[o] === 0 && b[o + 1] === 1 && b[o + 2] === 0x08 && b[o + 3] === 0 && b[o + 4] === 6 && b[o + 5] === 4;
  }
  get operation(): number { return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]; }
  get senderMac(): Uint8Array { return this.buf.subarray(this.off + 8, this.off + 14); }
  get senderIp(): number { return readU32(this.buf, this.off + 14); }
  get targetIp(): number { return readU32(this.buf, this.off + 24); }
}

export interface ArpRepr {
  operation: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

export function parseArp(v: ArpView): ArpRepr {
  return {
    operation: v.operation,
    senderMac: Uint8Array.from(v.senderMac),
    senderIp: v.senderIp,
    targetMac: Uint8Array.from(v.buf.subarray(v.off + 18, v.off + 24)),
    targetIp: v.targetIp,
  };
}

export function emitArp(r: ArpRepr, buf: Uint8Array, off: number): number {
  buf[off] = 0; buf[off + 1] = 1; buf[off + 2] = 0x08; buf[off + 3] = 0; buf[off + 4] = 6; buf[off + 5] = 4;
  buf[off + 6] = 0; buf[off + 7] = r.operation;
  buf.set(r.senderMac, off + 8);
  writeU32(buf, off + 14, r.senderIp);
  buf.set(r.targetMac, off + 18);
  writeU32(buf, off + 24, r.targetIp);
  return ARP_LENGTH;
}
