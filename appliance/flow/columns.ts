import { V6_BASE } from '../addr/interner';
import type { Connection } from './connection';

/** Rows made at first: an idle appliance commits no memory for max_connections. */
const FIRST_CAPACITY = 1024;

/**
 * The Socks ALP Connection table's fields as columns (issue 15): one typed array per field of
 * Connection, indexed by the connection number, each of the narrowest type that holds what the
 * connection path writes there, so that a tracked connection costs bytes where a JS object
 * spent an 8-byte slot per field and a 16-byte box per double. Sequence counts are int32 (the
 * numbers modulo 2^32 the splice compares as differences); an address is 32 bits, an IPv6 one
 * as its interner index with a flag (FLAG_CLIENT6, FLAG_VIP6); byte counts and times
 * (seconds) are doubles; -1 sentinels stay exact.
 *
 * The rows are grown by doubling up to the table's max_connections (growth copies every
 * column); numbers given back are reused first (a free list threaded through `newer`). The
 * process has one store, shared by its tables (one per dispatcher, one dispatcher per process
 * in use), so a handle (connection.ts) holds nothing but its number.
 */
export class ConnectionColumns {
  capacity = 0;
  /** Numbers below `top` have been used; free ones among them are chained from `freeHead` through `newer`. */
  private top = 0;
  private freeHead = -1;

  // ---- 1 byte
  state = new Uint8Array(0);
  /** Bits: FLAG_* below. */
  flags = new Uint8Array(0);
  priority = new Uint8Array(0);
  version = new Uint8Array(0);
  dialect = new Uint8Array(0);
  leg = new Uint8Array(0);
  clientScale = new Uint8Array(0);
  serverScale = new Uint8Array(0);
  endReason = new Uint8Array(0);
  timing = new Uint8Array(0);
  flagsIn = new Uint8Array(0);
  flagsOut = new Uint8Array(0);
  /** The server-leg address: 0 this appliance's, else a slot of openers.ts (a connection another ECMP member opened). */
  opener = new Uint8Array(0);
  /** At most 31 servers (servers-ini.ts), -1: none. */
  server = new Int8Array(0);
  windowShiftToClient = new Int8Array(0);
  windowShiftToServer = new Int8Array(0);
  // ---- 2 bytes
  alp = new Int16Array(0);
  clientPort = new Uint16Array(0);
  allocPort = new Uint16Array(0);
  // ---- 4 bytes
  /** Address numbers less V6_BASE when the row's flag says IPv6 (`address` below). */
  clientIp = new Uint32Array(0);
  vip = new Uint32Array(0);
  clientIsn = new Uint32Array(0);
  packetsIn = new Uint32Array(0);
  packetsOut = new Uint32Array(0);
  retransIn = new Uint32Array(0);
  retransOut = new Uint32Array(0);
  /** Datagram lengths: an IPv6 GSO super-packet may pass 65535. */
  minLength = new Uint32Array(0);
  maxLength = new Uint32Array(0);
  delta = new Int32Array(0);
  upShift = new Int32Array(0);
  upNext = new Int32Array(0);
  downNext = new Int32Array(0);
  winToClient = new Int32Array(0);
  winToServer = new Int32Array(0);
  handshakeUs = new Int32Array(0);
  replyUs = new Int32Array(0);
  rttClientUs = new Int32Array(0);
  rttServerUs = new Int32Array(0);
  timedUpEnd = new Int32Array(0);
  timedUpAt = new Int32Array(0);
  timedDownEnd = new Int32Array(0);
  timedDownAt = new Int32Array(0);
  /** Indices into TEXTS (texts.ts). */
  destination = new Int32Array(0);
  diverted = new Int32Array(0);
  /** The table's list, oldest first (a Map's order): the next older and newer connection numbers, -1 at the ends. */
  older = new Int32Array(0);
  newer = new Int32Array(0);
  // ---- 8 bytes
  created = new Float64Array(0);
  lastSeen = new Float64Array(0);
  closeAt = new Float64Array(0);
  bytesIn = new Float64Array(0);
  bytesOut = new Float64Array(0);

  /** Each number's handle (connection.ts), null while the number is free. */
  handles: (Connection | null)[] = [];

  constructor(capacity = FIRST_CAPACITY) {
    this.resize(capacity);
  }

  /** A free connection number, the rows grown when none is left (to at most `limit`, unless they already hold that many). */
  allocate(limit: number): number {
    const n = this.freeHead;
    if (n >= 0) {
      this.freeHead = this.newer[n];
      return n;
    }
    if (this.top === this.capacity) {
      const doubled = this.capacity * 2;
      this.resize(limit > this.capacity && limit < doubled ? limit : doubled);
    }
    return this.top++;
  }

  /** Gives `n` back: the next allocate may return it. */
  free(n: number): void {
    this.handles[n] = null;
    this.newer[n] = this.freeHead;
    this.freeHead = n;
  }

  /** Bytes of the columns (the heap bench counts them). */
  get bytes(): number {
    let b = 0;
    for (const v of Object.values(this)) if (ArrayBuffer.isView(v)) b += v.byteLength;
    return b;
  }

  private resize(capacity: number): void {
    for (const [k, v] of Object.entries(this)) {
      if (!ArrayBuffer.isView(v)) continue;
      const old = v as Uint8Array;
      const grown = new (old.constructor as Uint8ArrayConstructor)(capacity);
      grown.set(old);
      (this as unknown as Record<string, unknown>)[k] = grown;
    }
    for (let i = this.capacity; i < capacity; i++) this.handles.push(null);
    this.capacity = capacity;
  }
}

export const FLAG_DISCARD_ELIGIBLE = 1;
export const FLAG_FIN_FROM_CLIENT = 2;
export const FLAG_FIN_FROM_SERVER = 4;
/** The client's address, the VIP's, is IPv6: its column holds the interner index. */
export const FLAG_CLIENT6 = 8;
export const FLAG_VIP6 = 16;
/**
 * Taken over from an HA peer (sync/promotion.ts): the next sequence number of that leg's
 * sender is known only as of the peer's last sync, so its first segment re-anchors it (guard.ts).
 */
export const FLAG_PICKUP_CLIENT = 32;
export const FLAG_PICKUP_SERVER = 64;
/**
 * Taken over lazily, on its first segment, from what an ECMP peer synced (sync/members.ts):
 * each leg is picked up on its own, and a leg may stay with another member for good (the
 * server's replies go to the address of the member that opened it).
 */
export const FLAG_ADOPTED = 128;

/** The process's store; the modules that read it per packet keep it in a constant of their own (one load, which the optimiser folds). */
const store = new ConnectionColumns();
export const COLUMNS = store;

/** The address number of row `n` in `col` (COLUMNS.clientIp or .vip), IPv6 when `flag` is set. */
export function address(col: Uint32Array, n: number, flag: number): number {
  return (store.flags[n] & flag) !== 0 ? V6_BASE + col[n] : col[n];
}

/** What an address column holds for address number `a` (its flag says which family). */
export function stored(a: number): number {
  return a >= V6_BASE ? a - V6_BASE : a;
}
