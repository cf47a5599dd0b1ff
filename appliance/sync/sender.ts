import { V6_BASE } from '../addr/interner';
import { writeAddress } from '../addr/address';
import { writeU32 } from '../wire/ipv4';
import { emitSyncEntry, SyncKind, syncEntryLength, type ChangedRepr, type EndedRepr, type SplicedRepr, type SyncEndpoint, type SyncEntryRepr } from '../wire/sync-entry';
import { emitSyncHeader, signSync, SYNC_HEADER, SYNC_MAC, SYNC_MAX_DATAGRAM, SYNC_VERSION, SyncHeaderView, type SyncHeaderRepr } from '../wire/sync';

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
  /** Whose address the server leg is from: 0 for this appliance's own (flow/openers.ts). */
  readonly opener: number;
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
  /** The address number the connection's server knows it by (flow/openers.ts serverLocal). */
  local(c: SyncedConnection): number;
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
  /** A restarted sender's numbers must never repeat: `startEpoch()` by default (replay-window.ts). */
  epoch?: number;
  /** The heartbeat's period, HEARTBEAT_MS by default. */
  heartbeatMs?: number;
}

/** Epochs count quarter seconds from 2026-01-01 UTC: 32 bits last 34 years. */
const EPOCH_ORIGIN_MS = Date.UTC(2026, 0, 1);
const EPOCH_MS = 250;

/**
 * The epoch a sender starts in: a restart takes longer than a quarter second (the process,
 * the configuration, the devices), so it always starts a higher one, and the peer's window
 * takes it at once. In whole seconds, a restart within the second reused the epoch and its
 * first datagrams were refused as replays.
 */
export function startEpoch(now = Date.now()): number {
  return Math.floor((now - EPOCH_ORIGIN_MS) / EPOCH_MS) >>> 0;
}

const ROOM = SYNC_MAX_DATAGRAM - SYNC_MAC;
/**
 * With nothing to send for this long, an empty datagram goes: the peer hears that this one
 * lives (`ctl status`), and a restarted one is heard at once (a new epoch), so that its peer
 * sends it every connection again (pair.ts).
 */
export const HEARTBEAT_MS = 1000;

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
  private lastSent = Date.now();
  private readonly header = new SyncHeaderView();
  /** The header's fields, filled in place for each datagram. */
  private readonly headerFields: SyncHeaderRepr = { version: SYNC_VERSION, count: 0, sender: 0, epoch: 0, seq: 0, timeMs: 0, serverHash: 0 };
  /** One entry of each kind, filled in place for each connection: nothing allocated per entry. */
  private readonly splicedEntry: SplicedRepr = {
    kind: SyncKind.Spliced, client: newEndpoint(), vip: newEndpoint(), allocPort: 0, server: 0, serverMac: new Uint8Array(6), state: 0, version: 0,
    dialect: 0, leg: 0, priority: 0, discardEligible: false, finFromClient: false, finFromServer: false, clientScale: 0, serverScale: 0,
    windowShiftToClient: 0, windowShiftToServer: 0, clientIsn: 0, delta: 0, upShift: 0, upNext: 0, downNext: 0, winToClient: 0, winToServer: 0,
    createdMs: 0, local: new Uint8Array(16), local6: false, peerLocal: false, alp: '', destination: '', diverted: '',
  };
  private readonly localEndpoint: SyncEndpoint = { address: this.splicedEntry.local, port: 0, v6: false };
  private readonly changedEntry: ChangedRepr = {
    kind: SyncKind.Changed, client: newEndpoint(), state: 0, finFromClient: false, finFromServer: false, upNext: 0, downNext: 0, winToClient: 0, winToServer: 0, closeAtMs: 0, diverted: '',
  };
  private readonly endedEntry: EndedRepr = { kind: SyncKind.Ended, client: newEndpoint() };
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;
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
    this.epoch = options.epoch ?? startEpoch();
    this.intervalMs = options.intervalMs ?? 20;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
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
    const r = this.splicedEntry;
    endpoint(r.client, c.clientIp, c.clientPort);
    endpoint(r.vip, c.vip, this.cx.vipPort);
    r.allocPort = c.allocPort;
    r.server = c.server;
    r.serverMac = this.cx.serverMac(c.server);
    r.state = c.state;
    r.version = c.version;
    r.dialect = c.dialect;
    r.leg = c.leg;
    r.priority = c.priority;
    r.discardEligible = c.discardEligible;
    r.finFromClient = c.finFromClient;
    r.finFromServer = c.finFromServer;
    r.clientScale = c.clientScale;
    r.serverScale = c.serverScale;
    r.windowShiftToClient = c.windowShiftToClient;
    r.windowShiftToServer = c.windowShiftToServer;
    r.clientIsn = c.clientIsn;
    r.delta = c.delta;
    r.upShift = c.upShift;
    r.upNext = c.upNext;
    r.downNext = c.downNext;
    r.winToClient = c.winToClient;
    r.winToServer = c.winToServer;
    r.createdMs = Math.round(this.cx.wallMs(c.created));
    endpoint(this.localEndpoint, this.cx.local(c), 0);
    r.local6 = this.localEndpoint.v6;
    r.peerLocal = c.opener !== 0;
    r.alp = c.alp >= 0 ? this.cx.alpName(c.alp) : '';
    r.destination = c.destination;
    r.diverted = c.diverted;
    return this.put(r);
  }

  /**
   * What a close (FINs, the linger's closeAt), a diversion (the diverted text) or a refresh
   * changed; sent again now and then, it also keeps the standby's next sequence numbers close
   * enough for the splice's window checks (guard.ts) after a failover.
   */
  changed(c: SyncedConnection): boolean {
    const r = this.changedEntry;
    endpoint(r.client, c.clientIp, c.clientPort);
    r.state = c.state;
    r.finFromClient = c.finFromClient;
    r.finFromServer = c.finFromServer;
    r.upNext = c.upNext;
    r.downNext = c.downNext;
    r.winToClient = c.winToClient;
    r.winToServer = c.winToServer;
    r.closeAtMs = c.closeAt > 0 ? Math.round(this.cx.wallMs(c.closeAt)) : 0;
    r.diverted = c.diverted;
    return this.put(r);
  }

  /** A connection left the table (ending.ts's one way out). */
  ended(clientIp: number, clientPort: number): boolean {
    endpoint(this.endedEntry.client, clientIp, clientPort);
    return this.put(this.endedEntry);
  }

  /** `r` written into the open datagram (wire/sync-entry.ts's emit); false (counted) when the ring is full. */
  private put(r: SyncEntryRepr): boolean {
    const at = this.reserve(syncEntryLength(r));
    if (at < 0) return false;
    this.commit(at + emitSyncEntry(r, this.ring[this.open], at));
    return true;
  }

  /** Sends every sealed datagram, then the open one if it holds entries (or, empty, as the heartbeat when due). */
  flush(): void {
    this.sendSealed();
    if (this.counts[this.open] > 0 || Date.now() - this.lastSent >= this.heartbeatMs) this.transmit(this.open);
  }

  private sendSealed(): void {
    while (this.sealed > 0) {
      this.transmit(this.first);
      this.first = (this.first + 1) % this.ring.length;
      this.sealed--;
    }
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
    const f = this.headerFields;
    f.count = this.counts[i];
    f.sender = this.cx.sender;
    f.epoch = this.epoch;
    f.seq = this.seq;
    f.timeMs = this.lastSent = Date.now();
    f.serverHash = this.cx.serverHash;
    emitSyncHeader(f, this.header.wrap(b, 0, len));
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

/** `e` set to an address number and port: 16 bytes, an IPv4 address as IPv4-mapped (RFC 4291 2.5.5.2). */
function endpoint(e: SyncEndpoint, a: number, port: number): void {
  e.port = port;
  e.v6 = a >= V6_BASE;
  if (e.v6) {
    writeAddress(a, e.address, 0);
    return;
  }
  e.address.fill(0, 0, 10);
  e.address[10] = 0xff;
  e.address[11] = 0xff;
  writeU32(e.address, 12, a);
}

function newEndpoint(): SyncEndpoint {
  return { address: new Uint8Array(16), port: 0, v6: false };
}
