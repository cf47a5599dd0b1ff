import { V6_BASE } from '../addr/interner';
import { writeAddress } from '../addr/address';
import { writeU32 } from '../wire/ipv4';
import {
  ALP_NAME_MAX, C_CLOSE_AT, C_DOWN_NEXT, C_STATE, C_TEXTS, C_UP_NEXT, C_WIN_TO_CLIENT, C_WIN_TO_SERVER, E_CLIENT, E_CLIENT_PORT, E_FLAGS,
  ENDED_LENGTH, S_ALLOC_PORT, S_CLIENT_ISN, S_CLIENT_SCALE, S_CREATED, S_DELTA, S_DIALECT, S_DOWN_NEXT, S_LEG, S_PRIORITY, S_SERVER,
  S_SERVER_MAC, S_SERVER_SCALE, S_SHIFT_TO_CLIENT, S_SHIFT_TO_SERVER, S_STATE, S_TEXTS, S_UP_NEXT, S_UP_SHIFT, S_VERSION, S_VIP,
  S_VIP_PORT, S_WIN_TO_CLIENT, S_WIN_TO_SERVER, SYNC_CLIENT6, SYNC_DISCARD_ELIGIBLE, SYNC_FIN_FROM_CLIENT, SYNC_FIN_FROM_SERVER,
  SYNC_VIP6, SyncKind, TEXT_MAX, textLength, writeText,
} from '../wire/sync-entry';
import { signSync, SYNC_HEADER, SYNC_MAC, SYNC_MAGIC, SYNC_MAX_DATAGRAM, SYNC_VERSION, SyncHeaderView, writeU64 } from '../wire/sync';

/** What the sync reads of a connection: flow/connection.ts's Connection has every field (times on its clock, seconds). */
export interface SyncedConnection {
  readonly clientIp: number;
  readonly clientPort: number;
  readonly vip: number;
  readonly allocPort: number;
  readonly server: number;
  readonly state: number;
  readonly version: number;
  readonly dialect: number;
  readonly leg: number;
  readonly priority: number;
  readonly alp: number;
  readonly discardEligible: boolean;
  readonly finFromClient: boolean;
  readonly finFromServer: boolean;
  readonly clientScale: number;
  readonly serverScale: number;
  readonly windowShiftToClient: number;
  readonly windowShiftToServer: number;
  readonly clientIsn: number;
  readonly delta: number;
  readonly upShift: number;
  readonly upNext: number;
  readonly downNext: number;
  readonly winToClient: number;
  readonly winToServer: number;
  readonly created: number;
  readonly closeAt: number;
  readonly destination: string;
  readonly diverted: string;
}

/** What the appliance knows beside the connection; `send` gets bytes valid during the call only (transport.ts copies them). */
export interface SyncSenderContext {
  sender: number;
  key: Buffer;
  /** serverListHash of servers.ini's list (wire/sync.ts). */
  serverHash: number;
  /** The VIP's SOCKS port (socks_port): the client's destination port. */
  vipPort: number;
  serverMac(server: number): Uint8Array;
  alpName(alp: number): string;
  /** ms since 1970 of a time on the connections' clock (FlowContext.now, seconds). */
  wallMs(t: number): number;
  send(datagram: Buffer, length: number): void;
}

export interface SyncSenderOptions {
  /** Flush at least this often (issue 16: batched); 20 ms by default: what a failover can miss of the last connections. */
  intervalMs?: number;
  /** Datagrams queued before entries are dropped. */
  queue?: number;
  /** A restarted sender's numbers must never repeat: ms since 1970 / 1000 by default (replay-window.ts). */
  epoch?: number;
}

const ROOM = SYNC_MAX_DATAGRAM - SYNC_MAC;

/**
 * Issue 16's sending side. The per-packet path calls `spliced`, `changed`, `ended`: each
 * writes its entry into the open one of a ring of preallocated datagrams and returns (no
 * await, nothing allocated); a full datagram is sealed and the next one opened. `flush` (the
 * timer every intervalMs; an immediate once a datagram fills sends the sealed ones only)
 * writes each datagram's header, signs it and sends it. With every datagram of the ring unsent, entries
 * are dropped and counted: the sync never holds the data path back.
 */
export class SyncSender {
  readonly stats = { datagrams: 0, entries: 0, dropped: 0, bytes: 0 };
  private readonly ring: Buffer[];
  private readonly lengths: Uint16Array;
  private readonly counts: Uint16Array;
  /** The oldest sealed datagram, the open one, and how many are sealed. */
  private first = 0;
  private open = 0;
  private sealed = 0;
  private epoch: number;
  private seq = 0;
  private readonly header = new SyncHeaderView();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly intervalMs: number;
  /** Once a datagram fills: the sealed ones go, the open one waits for its interval to gather more. */
  private readonly flushSealed = (): void => {
    this.immediate = undefined;
    this.sendSealed();
  };

  constructor(private readonly cx: SyncSenderContext, options: SyncSenderOptions = {}) {
    const n = Math.max(2, options.queue ?? 64);
    this.ring = Array.from({ length: n }, () => Buffer.alloc(SYNC_MAX_DATAGRAM));
    this.lengths = new Uint16Array(n).fill(SYNC_HEADER);
    this.counts = new Uint16Array(n);
    this.epoch = options.epoch ?? Math.floor(Date.now() / 1000);
    this.intervalMs = options.intervalMs ?? 20;
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.intervalMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
    this.flush();
  }

  /** A connection just spliced (transitions.ts's move to Spliced): everything its next segment needs. */
  spliced(c: SyncedConnection): boolean {
    const alp = c.alp >= 0 ? this.cx.alpName(c.alp) : '';
    const need = S_TEXTS + 1 + textLength(alp, ALP_NAME_MAX) + 2 + textLength(c.destination, TEXT_MAX) + 2 + textLength(c.diverted, TEXT_MAX);
    const at = this.reserve(need);
    if (at < 0) return false;
    const b = this.ring[this.open];
    this.key(b, at, SyncKind.Spliced, c, (c.vip >= V6_BASE ? SYNC_VIP6 : 0) | (c.discardEligible ? SYNC_DISCARD_ELIGIBLE : 0));
    address16(c.vip, b, at + S_VIP);
    b.writeUInt16BE(this.cx.vipPort, at + S_VIP_PORT);
    b.writeUInt16BE(c.allocPort, at + S_ALLOC_PORT);
    b.set(this.cx.serverMac(c.server), at + S_SERVER_MAC);
    b[at + S_SERVER] = c.server;
    b[at + S_STATE] = c.state;
    b[at + S_VERSION] = c.version;
    b[at + S_DIALECT] = c.dialect;
    b[at + S_LEG] = c.leg;
    b[at + S_PRIORITY] = c.priority;
    b[at + S_CLIENT_SCALE] = c.clientScale;
    b[at + S_SERVER_SCALE] = c.serverScale;
    b[at + S_SHIFT_TO_CLIENT] = c.windowShiftToClient;
    b[at + S_SHIFT_TO_SERVER] = c.windowShiftToServer;
    writeU32(b, at + S_CLIENT_ISN, c.clientIsn);
    writeU32(b, at + S_DELTA, c.delta);
    writeU32(b, at + S_UP_SHIFT, c.upShift);
    writeU32(b, at + S_UP_NEXT, c.upNext);
    writeU32(b, at + S_DOWN_NEXT, c.downNext);
    writeU32(b, at + S_WIN_TO_CLIENT, c.winToClient);
    writeU32(b, at + S_WIN_TO_SERVER, c.winToServer);
    writeU64(b, at + S_CREATED, Math.round(this.cx.wallMs(c.created)));
    let end = writeText(b, at + S_TEXTS, alp, 1);
    end = writeText(b, end, c.destination, 2);
    this.commit(writeText(b, end, c.diverted, 2));
    return true;
  }

  /**
   * What a close (FINs, the linger's closeAt), a diversion (the diverted text) or a refresh
   * changed; sent again now and then, it also keeps the standby's next sequence numbers close
   * enough for the splice's window checks (guard.ts) after a failover.
   */
  changed(c: SyncedConnection): boolean {
    const at = this.reserve(C_TEXTS + 2 + textLength(c.diverted, TEXT_MAX));
    if (at < 0) return false;
    const b = this.ring[this.open];
    this.key(b, at, SyncKind.Changed, c, 0);
    b[at + C_STATE] = c.state;
    b.fill(0, at + C_STATE + 1, at + C_UP_NEXT);
    writeU32(b, at + C_UP_NEXT, c.upNext);
    writeU32(b, at + C_DOWN_NEXT, c.downNext);
    writeU32(b, at + C_WIN_TO_CLIENT, c.winToClient);
    writeU32(b, at + C_WIN_TO_SERVER, c.winToServer);
    writeU64(b, at + C_CLOSE_AT, c.closeAt > 0 ? Math.round(this.cx.wallMs(c.closeAt)) : 0);
    this.commit(writeText(b, at + C_TEXTS, c.diverted, 2));
    return true;
  }

  /** A connection left the table (ending.ts's one way out). */
  ended(clientIp: number, clientPort: number): boolean {
    const at = this.reserve(ENDED_LENGTH);
    if (at < 0) return false;
    const b = this.ring[this.open];
    b[at] = SyncKind.Ended;
    b[at + E_FLAGS] = clientIp >= V6_BASE ? SYNC_CLIENT6 : 0;
    b.writeUInt16BE(clientPort, at + E_CLIENT_PORT);
    address16(clientIp, b, at + E_CLIENT);
    this.commit(at + ENDED_LENGTH);
    return true;
  }

  /** Sends every sealed datagram, then the open one if it holds entries. */
  flush(): void {
    this.sendSealed();
    if (this.counts[this.open] > 0) this.transmit(this.open);
  }

  private sendSealed(): void {
    while (this.sealed > 0) {
      this.transmit(this.first);
      this.first = (this.first + 1) % this.ring.length;
      this.sealed--;
    }
  }

  private key(b: Buffer, at: number, kind: SyncKind, c: SyncedConnection, flags: number): void {
    b[at] = kind;
    b[at + E_FLAGS] = flags | (c.clientIp >= V6_BASE ? SYNC_CLIENT6 : 0) | (c.finFromClient ? SYNC_FIN_FROM_CLIENT : 0) | (c.finFromServer ? SYNC_FIN_FROM_SERVER : 0);
    b.writeUInt16BE(c.clientPort, at + E_CLIENT_PORT);
    address16(c.clientIp, b, at + E_CLIENT);
  }

  /** Where an entry of at most `need` bytes goes in the open datagram, after sealing it if full; -1 (counted) when the ring is full. */
  private reserve(need: number): number {
    const o = this.open;
    if (this.lengths[o] + need <= ROOM) return this.lengths[o];
    const next = (o + 1) % this.ring.length;
    if (this.sealed + 1 >= this.ring.length) {
      this.stats.dropped++;
      return -1;
    }
    this.sealed++;
    this.open = next;
    this.immediate ??= setImmediate(this.flushSealed);
    return this.lengths[next];
  }

  private commit(end: number): void {
    this.lengths[this.open] = end;
    this.counts[this.open]++;
    this.stats.entries++;
  }

  private transmit(i: number): void {
    const b = this.ring[i];
    const len = this.lengths[i];
    const h = this.header.wrap(b, 0, len);
    emitHeader(h, this.counts[i], this.cx.sender, this.epoch, this.seq, this.cx.serverHash);
    if (this.seq === 0xffffffff) {
      // RFC 4303 3.3.3: numbers never cycle; a new epoch instead (replay-window.ts).
      this.epoch++;
      this.seq = 0;
    } else this.seq++;
    signSync(this.cx.key, b, 0, len);
    this.cx.send(b, len + SYNC_MAC);
    this.stats.datagrams++;
    this.stats.bytes += len + SYNC_MAC;
    this.lengths[i] = SYNC_HEADER;
    this.counts[i] = 0;
  }
}

function emitHeader(h: SyncHeaderView, count: number, sender: number, epoch: number, seq: number, serverHash: number): void {
  h.magic = SYNC_MAGIC;
  h.version = SYNC_VERSION;
  h.count = count;
  h.sender = sender;
  h.epoch = epoch;
  h.seq = seq;
  h.timeMs = Date.now();
  h.serverHash = serverHash;
}

/** The 16 bytes of an address number: an IPv4 one as IPv4-mapped (RFC 4291 2.5.5.2). */
function address16(a: number, b: Buffer, at: number): void {
  if (a >= V6_BASE) {
    writeAddress(a, b, at);
    return;
  }
  b.fill(0, at, at + 10);
  b[at + 10] = 0xff;
  b[at + 11] = 0xff;
  writeU32(b, at + 12, a);
}
