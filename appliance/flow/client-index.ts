import { V6_BASE } from '../addr/interner';
import { address, COLUMNS, FLAG_CLIENT6 } from './columns';

const C = COLUMNS;

/** Slots at first; doubled whenever the entries would pass half of them. */
const FIRST_SLOTS = 2048;
const EMPTY = 0;

/**
 * The table's index by (Cx_Source_IP_Address, Cx_Source_Port): an open-addressing hash of
 * connection numbers (each slot number + 1, EMPTY: 0), linear probing at a load of at most
 * one half, backward-shift deletion (no tombstones). It stores no key: a probe compares the
 * clientIp and clientPort columns of the number it finds. 8 bytes a connection at most
 * (4 per slot), nothing allocated per lookup.
 */
export class ClientIndex {
  private slots = new Int32Array(FIRST_SLOTS);
  private mask = FIRST_SLOTS - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The number of the connection from `ip`, `port`, or -1. */
  find(ip: number, port: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = hashClient(ip, port) & mask; ; s = (s + 1) & mask) {
      const e = slots[s];
      if (e === EMPTY) return -1;
      const n = e - 1;
      if (C.clientPort[n] === port && address(C.clientIp, n, FLAG_CLIENT6) === ip) return n;
    }
  }

  /** Adds connection `n` (its client not in the index already). */
  insert(n: number): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    this.place(n);
    this.count++;
  }

  /** Takes connection `n` out: later entries of its run move back into the hole. */
  delete(n: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let s = hashClient(address(C.clientIp, n, FLAG_CLIENT6), C.clientPort[n]) & mask;
    while (slots[s] !== n + 1) {
      if (slots[s] === EMPTY) return;
      s = (s + 1) & mask;
    }
    let hole = s;
    for (let j = (s + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const m = slots[j] - 1;
      const home = hashClient(address(C.clientIp, m, FLAG_CLIENT6), C.clientPort[m]) & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = EMPTY;
    this.count--;
  }

  private place(n: number): void {
    const mask = this.mask;
    let s = hashClient(address(C.clientIp, n, FLAG_CLIENT6), C.clientPort[n]) & mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
    this.slots[s] = n + 1;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = this.slots.length - 1;
    for (let s = 0; s < old.length; s++) if (old[s] !== EMPTY) this.place(old[s] - 1);
  }
}

/**
 * An address number (an IPv4 address, or V6_BASE + an interned index) and a port mixed
 * (murmur3's finaliser), so that the consecutive addresses and ports of one subnet spread.
 */
export function hashClient(ip: number, port: number): number {
  let h = (ip >>> 0) ^ (ip >= V6_BASE ? 0x5bd1e995 : 0) ^ Math.imul(port, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
