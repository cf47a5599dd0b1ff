import { readU32 } from './ipv4';
import { writeU64 } from './sync';
import { WireView } from './view';

/**
 * The entries of a sync datagram (wire/sync.ts, issue 16), one after another after its
 * header: each starts with its kind and the client's address and port (the key the standby
 * holds it by); a SPLICED entry carries what the splice reads of a connection, a CHANGED one
 * what a close, a diversion or a refresh changes, an ENDED one the key alone.
 */
export const enum SyncKind {
  Spliced = 1,
  Ended = 2,
  Changed = 3,
}

// Flags byte of every entry.
export const SYNC_CLIENT6 = 1;
export const SYNC_VIP6 = 2;
export const SYNC_DISCARD_ELIGIBLE = 4;
export const SYNC_FIN_FROM_CLIENT = 8;
export const SYNC_FIN_FROM_SERVER = 16;
export const SYNC_LOCAL6 = 32;
export const SYNC_PEER_LOCAL = 64;

// Every entry starts with its key: kind, flags, client port, client address.
export const E_KIND = 0;
export const E_FLAGS = 1;
export const E_CLIENT_PORT = 2;
export const E_CLIENT = 4;
export const ENDED_LENGTH = 20;
// SPLICED: what the splice (flow/splice.ts, guard.ts, dispatcher.ts's fast path) reads.
export const S_VIP = 20;
export const S_VIP_PORT = 36;
export const S_ALLOC_PORT = 38;
export const S_SERVER_MAC = 40;
export const S_SERVER = 46;
export const S_STATE = 47;
export const S_VERSION = 48;
export const S_DIALECT = 49;
export const S_LEG = 50;
export const S_PRIORITY = 51;
export const S_CLIENT_SCALE = 52;
export const S_SERVER_SCALE = 53;
export const S_SHIFT_TO_CLIENT = 54;
export const S_SHIFT_TO_SERVER = 55;
export const S_CLIENT_ISN = 56;
export const S_DELTA = 60;
export const S_UP_SHIFT = 64;
export const S_UP_NEXT = 68;
export const S_DOWN_NEXT = 72;
export const S_WIN_TO_CLIENT = 76;
export const S_WIN_TO_SERVER = 80;
export const S_CREATED = 84;
/** The server leg's own address: the opening appliance's `local` on the server's segment (an ECMP member's own). */
export const S_LOCAL = 92;
/** Then the ALP's name (u8 length), the destination and the diverted text (u16 length each). */
export const S_TEXTS = 108;
// CHANGED: what a close, a timer or a refresh of the sequence numbers changes.
export const C_STATE = 20;
export const C_UP_NEXT = 24;
export const C_DOWN_NEXT = 28;
export const C_WIN_TO_CLIENT = 32;
export const C_WIN_TO_SERVER = 36;
export const C_CLOSE_AT = 40;
/** Then the diverted text (u16 length). */
export const C_TEXTS = 48;

export const ALP_NAME_MAX = 255;
/** So that the largest SPLICED entry (1352 bytes) fits in one datagram with the header and trailer. */
export const TEXT_MAX = 492;

/** One entry; `length` reads its texts' prefixes, -1 when the entry runs past `len` or is of no known kind. */
export class SyncEntryView extends WireView {
  get kind(): number { return this.buf[this.off]; }
  get flags(): number { return this.buf[this.off + E_FLAGS]; }
  get clientPort(): number { return this.u16(E_CLIENT_PORT); }
  get vipPort(): number { return this.u16(S_VIP_PORT); }
  get allocPort(): number { return this.u16(S_ALLOC_PORT); }
  get server(): number { return this.buf[this.off + S_SERVER]; }
  get state(): number { return this.buf[this.off + (this.kind === SyncKind.Changed ? C_STATE : S_STATE)]; }
  i8(at: number): number { return (this.buf[this.off + at] << 24) >> 24; }
  u16(at: number): number { return (this.buf[this.off + at] << 8) | this.buf[this.off + at + 1]; }
  i32(at: number): number { return readU32(this.buf, this.off + at) | 0; }
  u32(at: number): number { return readU32(this.buf, this.off + at); }
  u64(at: number): number { return this.u32(at) * 4294967296 + this.u32(at + 4); }
  bytes(at: number, n: number): Uint8Array { return this.buf.subarray(this.off + at, this.off + at + n); }

  get length(): number {
    const k = this.kind;
    let n: number;
    if (k === SyncKind.Ended) n = ENDED_LENGTH;
    else if (k === SyncKind.Changed) n = this.len < C_TEXTS + 2 ? -1 : C_TEXTS + 2 + this.u16(C_TEXTS);
    else if (k === SyncKind.Spliced) {
      if (this.len < S_TEXTS + 1) return -1;
      n = S_TEXTS + 1 + this.buf[this.off + S_TEXTS];
      for (let i = 0; i < 2 && n >= 0; i++) n = this.len < n + 2 ? -1 : n + 2 + this.u16(n);
    } else return -1;
    return n > this.len ? -1 : n;
  }
}

export interface SyncEndpoint {
  /** 16 bytes; IPv4 as IPv4-mapped. */
  address: Uint8Array;
  port: number;
  v6: boolean;
}

export interface EndedRepr {
  kind: SyncKind.Ended;
  client: SyncEndpoint;
}

/** Fields named as the Connection's (flow/connection.ts); times in ms since 1970. */
export interface ChangedRepr {
  kind: SyncKind.Changed;
  client: SyncEndpoint;
  state: number;
  finFromClient: boolean;
  finFromServer: boolean;
  upNext: number;
  downNext: number;
  winToClient: number;
  winToServer: number;
  /** 0: no close timer. */
  closeAtMs: number;
  diverted: string;
}

export interface SplicedRepr {
  kind: SyncKind.Spliced;
  client: SyncEndpoint;
  vip: SyncEndpoint;
  allocPort: number;
  /** Index in servers.ini's order, checked against the header's serverHash. */
  server: number;
  serverMac: Uint8Array;
  state: number;
  version: number;
  dialect: number;
  leg: number;
  priority: number;
  discardEligible: boolean;
  finFromClient: boolean;
  finFromServer: boolean;
  clientScale: number;
  serverScale: number;
  windowShiftToClient: number;
  windowShiftToServer: number;
  clientIsn: number;
  delta: number;
  upShift: number;
  upNext: number;
  downNext: number;
  winToClient: number;
  winToServer: number;
  createdMs: number;
  /** 16 bytes, IPv4 as IPv4-mapped: the address the server knows the connection by (its opener's `local`). */
  local: Uint8Array;
  local6: boolean;
  /**
   * `local` is another ECMP member's address, not the sender's own: the sender took the
   * connection over from its opener (sync/adoption.ts). Such an address is not the sender's to
   * be answered for when it falls silent (sync/members.ts): its opener may well be alive.
   */
  peerLocal: boolean;
  /** The ALP by name: ALP ids are the process's own (stages/alp-registry.ts). */
  alp: string;
  destination: string;
  diverted: string;
}

export type SyncEntryRepr = SplicedRepr | EndedRepr | ChangedRepr;

export function syncEntryLength(r: SyncEntryRepr): number {
  if (r.kind === SyncKind.Ended) return ENDED_LENGTH;
  if (r.kind === SyncKind.Changed) return C_TEXTS + 2 + textLength(r.diverted, TEXT_MAX);
  return S_TEXTS + 1 + textLength(r.alp, ALP_NAME_MAX) + 2 + textLength(r.destination, TEXT_MAX) + 2 + textLength(r.diverted, TEXT_MAX);
}

/** At most what writeText writes of `s`. */
export function textLength(s: string, max: number): number {
  return Math.min(Buffer.byteLength(s), max);
}

/** Writes `r` at buf[off]; returns its length (syncEntryLength). */
export function emitSyncEntry(r: SyncEntryRepr, buf: Buffer, off: number): number {
  const fin = (r.kind !== SyncKind.Ended && r.finFromClient ? SYNC_FIN_FROM_CLIENT : 0) | (r.kind !== SyncKind.Ended && r.finFromServer ? SYNC_FIN_FROM_SERVER : 0);
  buf[off] = r.kind;
  buf[off + E_FLAGS] = (r.client.v6 ? SYNC_CLIENT6 : 0) | fin | (r.kind === SyncKind.Spliced ? (r.vip.v6 ? SYNC_VIP6 : 0) | (r.discardEligible ? SYNC_DISCARD_ELIGIBLE : 0) | (r.local6 ? SYNC_LOCAL6 : 0) | (r.peerLocal ? SYNC_PEER_LOCAL : 0) : 0);
  buf.writeUInt16BE(r.client.port, off + E_CLIENT_PORT);
  buf.set(r.client.address, off + E_CLIENT);
  if (r.kind === SyncKind.Ended) return ENDED_LENGTH;
  if (r.kind === SyncKind.Changed) {
    buf[off + C_STATE] = r.state;
    buf.fill(0, off + C_STATE + 1, off + C_UP_NEXT);
    buf.writeInt32BE(r.upNext | 0, off + C_UP_NEXT);
    buf.writeInt32BE(r.downNext | 0, off + C_DOWN_NEXT);
    buf.writeInt32BE(r.winToClient | 0, off + C_WIN_TO_CLIENT);
    buf.writeInt32BE(r.winToServer | 0, off + C_WIN_TO_SERVER);
    writeU64(buf, off + C_CLOSE_AT, r.closeAtMs);
    return writeText(buf, off + C_TEXTS, r.diverted, 2) - off;
  }
  buf.set(r.vip.address, off + S_VIP);
  buf.writeUInt16BE(r.vip.port, off + S_VIP_PORT);
  buf.writeUInt16BE(r.allocPort, off + S_ALLOC_PORT);
  buf.set(r.serverMac, off + S_SERVER_MAC);
  buf[off + S_SERVER] = r.server;
  buf[off + S_STATE] = r.state;
  buf[off + S_VERSION] = r.version;
  buf[off + S_DIALECT] = r.dialect;
  buf[off + S_LEG] = r.leg;
  buf[off + S_PRIORITY] = r.priority;
  buf[off + S_CLIENT_SCALE] = r.clientScale;
  buf[off + S_SERVER_SCALE] = r.serverScale;
  buf.writeInt8(r.windowShiftToClient, off + S_SHIFT_TO_CLIENT);
  buf.writeInt8(r.windowShiftToServer, off + S_SHIFT_TO_SERVER);
  buf.writeUInt32BE(r.clientIsn >>> 0, off + S_CLIENT_ISN);
  buf.writeInt32BE(r.delta | 0, off + S_DELTA);
  buf.writeInt32BE(r.upShift | 0, off + S_UP_SHIFT);
  buf.writeInt32BE(r.upNext | 0, off + S_UP_NEXT);
  buf.writeInt32BE(r.downNext | 0, off + S_DOWN_NEXT);
  buf.writeInt32BE(r.winToClient | 0, off + S_WIN_TO_CLIENT);
  buf.writeInt32BE(r.winToServer | 0, off + S_WIN_TO_SERVER);
  writeU64(buf, off + S_CREATED, r.createdMs);
  buf.set(r.local, off + S_LOCAL);
  let at = writeText(buf, off + S_TEXTS, r.alp, 1);
  at = writeText(buf, at, r.destination, 2);
  return writeText(buf, at, r.diverted, 2) - off;
}

/** The entry in view, or undefined when it is malformed (no known kind, runs past the view, text too long). */
export function parseSyncEntry(v: SyncEntryView): SyncEntryRepr | undefined {
  const n = v.length;
  if (n < 0) return undefined;
  const f = v.flags;
  const client = { address: Uint8Array.from(v.bytes(E_CLIENT, 16)), port: v.clientPort, v6: (f & SYNC_CLIENT6) !== 0 };
  if (v.kind === SyncKind.Ended) return { kind: SyncKind.Ended, client };
  const finFromClient = (f & SYNC_FIN_FROM_CLIENT) !== 0;
  const finFromServer = (f & SYNC_FIN_FROM_SERVER) !== 0;
  if (v.kind === SyncKind.Changed) {
    if (v.u16(C_TEXTS) > TEXT_MAX) return undefined;
    return {
      kind: SyncKind.Changed, client, state: v.buf[v.off + C_STATE], finFromClient, finFromServer,
      upNext: v.i32(C_UP_NEXT), downNext: v.i32(C_DOWN_NEXT), winToClient: v.i32(C_WIN_TO_CLIENT), winToServer: v.i32(C_WIN_TO_SERVER),
      closeAtMs: v.u64(C_CLOSE_AT), diverted: readText(v, C_TEXTS, 2),
    };
  }
  const alpLength = v.buf[v.off + S_TEXTS];
  const destAt = S_TEXTS + 1 + alpLength;
  const divAt = destAt + 2 + v.u16(destAt);
  if (v.u16(destAt) > TEXT_MAX || v.u16(divAt) > TEXT_MAX) return undefined;
  return {
    kind: SyncKind.Spliced, client,
    vip: { address: Uint8Array.from(v.bytes(S_VIP, 16)), port: v.vipPort, v6: (f & SYNC_VIP6) !== 0 },
    allocPort: v.allocPort, server: v.server, serverMac: Uint8Array.from(v.bytes(S_SERVER_MAC, 6)), state: v.buf[v.off + S_STATE],
    version: v.buf[v.off + S_VERSION], dialect: v.buf[v.off + S_DIALECT], leg: v.buf[v.off + S_LEG], priority: v.buf[v.off + S_PRIORITY],
    discardEligible: (f & SYNC_DISCARD_ELIGIBLE) !== 0, finFromClient, finFromServer,
    clientScale: v.buf[v.off + S_CLIENT_SCALE], serverScale: v.buf[v.off + S_SERVER_SCALE],
    windowShiftToClient: v.i8(S_SHIFT_TO_CLIENT), windowShiftToServer: v.i8(S_SHIFT_TO_SERVER),
    clientIsn: v.u32(S_CLIENT_ISN), delta: v.i32(S_DELTA), upShift: v.i32(S_UP_SHIFT), upNext: v.i32(S_UP_NEXT), downNext: v.i32(S_DOWN_NEXT),
    winToClient: v.i32(S_WIN_TO_CLIENT), winToServer: v.i32(S_WIN_TO_SERVER), createdMs: v.u64(S_CREATED),
    local: Uint8Array.from(v.bytes(S_LOCAL, 16)), local6: (f & SYNC_LOCAL6) !== 0, peerLocal: (f & SYNC_PEER_LOCAL) !== 0,
    alp: readText(v, S_TEXTS, 1), destination: readText(v, destAt, 2), diverted: readText(v, divAt, 2),
  };
}

/** `s` (UTF-8) after a length prefix of `prefix` bytes; returns the end. */
export function writeText(buf: Buffer, at: number, s: string, prefix: 1 | 2): number {
  const n = s.length === 0 ? 0 : buf.write(s, at + prefix, Math.min(prefix === 1 ? ALP_NAME_MAX : TEXT_MAX, buf.length - at - prefix), 'utf8');
  if (prefix === 1) buf[at] = n;
  else buf.writeUInt16BE(n, at);
  return at + prefix + n;
}

function readText(v: SyncEntryView, at: number, prefix: 1 | 2): string {
  const n = prefix === 1 ? v.buf[v.off + at] : v.u16(at);
  return Buffer.from(v.buf.buffer, v.buf.byteOffset + v.off + at + prefix, n).toString('utf8');
}
