import { equal16 } from '../wire/ipv6';

/** IPv6 addresses are numbers from here up: every IPv4 address (0 .. 2^32 - 1) lies below. */
export const V6_BASE = 2 ** 32;

const EMPTY = 0;

/**
 * IPv6 addresses interned as numbers, so that every table keyed on an address (the Socks ALP
 * Connection table's (Cx_Source_IP_Address, Cx_Source_Port), the servers' endpoints, the VIPs,
 * the diverted-address table) keeps its number keys and the IPv4 path does not change: an
 * IPv6 address is V6_BASE + its index here, held while something refers to it (a connection,
 * a configured address: `intern` counts a reference, `release` gives one back).
 *
 * The addresses lie as 16 bytes each in one Uint8Array; an open-addressing hash over their
 * four words (linear probing, backward-shift deletion) finds an address where it lies in a
 * datagram without copying it or making an object. With 2^20 addresses the index stays below
 * 2^37 - 2^32, so address * 65536 + port is still an exact double.
 */
export class Ipv6Interner {
  /** The addresses, 16 bytes each at index * 16. */
  bytes: Uint8Array;
  /**
   * Per index: references held (0: free), and the sum of the address's eight 16-bit words
   * (checksums); a free index's sum is the next free index instead (-1: none), from `freeHead`.
   */
  private refs: Int32Array;
  private sums: Int32Array;
  /** Hash slots: index + 1, or EMPTY. */
  private slots: Int32Array;
  private freeHead = -1;
  private used = 0;

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity * 16);
    this.refs = new Int32Array(capacity);
    this.sums = new Int32Array(capacity);
    this.slots = new Int32Array(capacity * 2);
    this.chainFree(0, capacity);
  }

  /** Addresses held now. */
  get size(): number {
    return this.used;
  }

  /** The number of the address at buf[at..at+16), or -1 when nothing holds it. */
  lookup(buf: Uint8Array, at: number): number {
    const mask = this.slots.length - 1;
    for (let s = hash(buf, at) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s];
      if (e === EMPTY) return -1;
      if (equal16(this.bytes, (e - 1) * 16, buf, at)) return V6_BASE + e - 1;
    }
  }

  /** The number of the address at buf[at..at+16), one more reference held to it. */
  intern(buf: Uint8Array, at: number): number {
    const found = this.lookup(buf, at);
    if (found >= 0) {
      this.refs[found - V6_BASE]++;
      return found;
    }
    if (this.freeHead < 0) this.grow();
    const i = this.freeHead;
    this.freeHead = this.sums[i];
    const b = this.bytes;
    let sum = 0;
    for (let k = 0; k < 16; k += 2) {
      b[i * 16 + k] = buf[at + k];
      b[i * 16 + k + 1] = buf[at + k + 1];
      sum += (buf[at + k] << 8) | buf[at + k + 1];
    }
    this.refs[i] = 1;
    this.sums[i] = sum;
    this.place(i);
    this.used++;
    return V6_BASE + i;
  }

  /** One more reference to `a` (an IPv6 number held already). */
  retain(a: number): void {
    this.refs[a - V6_BASE]++;
  }

  /** Gives back a reference to `a`; the last one frees its number. */
  release(a: number): void {
    const i = a - V6_BASE;
    if (--this.refs[i] > 0) return;
    this.unplace(i);
    this.sums[i] = this.freeHead;
    this.freeHead = i;
    this.used--;
  }

  /** Where `a`'s 16 bytes lie in `bytes`. */
  offset(a: number): number {
    return (a - V6_BASE) * 16;
  }

  /** The sum of `a`'s eight 16-bit words, for pseudo-header checksums. */
  sum(a: number): number {
    return this.sums[a - V6_BASE];
  }

  /** Copies `a` into buf[at..at+16). */
  write(a: number, buf: Uint8Array, at: number): void {
    const o = (a - V6_BASE) * 16;
    const b = this.bytes;
    for (let k = 0; k < 16; k++) buf[at + k] = b[o + k];
  }

  /** Indices [from, to) onto the free list, the lowest first out. */
  private chainFree(from: number, to: number): void {
    for (let i = to - 1; i >= from; i--) {
      this.sums[i] = this.freeHead;
      this.freeHead = i;
    }
  }

  private place(i: number): void {
    const mask = this.slots.length - 1;
    let s = hash(this.bytes, i * 16) & mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
    this.slots[s] = i + 1;
  }

  /** Linear probing's deletion: later entries of the run move back into the hole. */
  private unplace(i: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = hash(this.bytes, i * 16) & mask;
    while (slots[s] !== i + 1) s = (s + 1) & mask;
    let hole = s;
    for (let j = (s + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const home = hash(this.bytes, (slots[j] - 1) * 16) & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = EMPTY;
  }

  private grow(): void {
    const old = this.refs.length;
    const cap = old * 2;
    const bytes = new Uint8Array(cap * 16);
    bytes.set(this.bytes);
    const refs = new Int32Array(cap);
    refs.set(this.refs);
    const sums = new Int32Array(cap);
    sums.set(this.sums);
    this.bytes = bytes;
    this.refs = refs;
    this.sums = sums;
    this.chainFree(old, cap);
    this.slots = new Int32Array(cap * 2);
    for (let i = 0; i < old; i++) if (refs[i] > 0) this.place(i);
  }
}

/** The four words mixed (murmur3's finaliser constants); the low 64 bits vary most in practice. */
function hash(b: Uint8Array, at: number): number {
  let h = 0x9e3779b9;
  for (let k = 0; k < 16; k += 4) {
    const w = (b[at + k] << 24) | (b[at + k + 1] << 16) | (b[at + k + 2] << 8) | b[at + k + 3];
    h = Math.imul(h ^ w, 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The process's IPv6 addresses: one numbering for the configuration, the tables and the views. */
export const ADDRESSES6 = new Ipv6Interner();
