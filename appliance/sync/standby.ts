import { V6_BASE } from '../addr/interner';
import { writeAddress } from '../addr/address';
import { SyncHeaderView, SYNC_HEADER, SYNC_MAC, SYNC_MAX_DATAGRAM, SYNC_VERSION, verifySync } from '../wire/sync';
import { parseSyncEntry, SyncEntryView, SyncKind, type SplicedRepr, type SyncEndpoint, type SyncEntryRepr } from '../wire/sync-entry';
import { Replay, ReplayWindows } from './replay-window';

/** A connection the standby holds: its SPLICED entry, with what CHANGED entries brought since; closeAtMs 0 while no close timer runs. */
export interface HeldConnection extends SplicedRepr {
  closeAtMs: number;
  /** The sender it came from. */
  sender: number;
  /** When its SPLICED entry last came (Date.now): the sender's refresh sends it again, an ENDED lost is forgotten after expireMs. */
  heardMs: number;
}

export interface StandbyOptions {
  key: Buffer;
  /** serverListHash of this appliance's servers.ini: a peer with another list is refused ('servers'). */
  serverHash: number;
  /** Connections held at most (ha.ini max_entries). */
  maxEntries: number;
  /** A connection whose SPLICED entry has not come again for this long is forgotten (its ENDED was lost); never when absent. */
  expireMs?: number;
  /** A peer heard for the first time, or again after a restart (a new epoch): it holds nothing of this one's yet. */
  onPeerStart?: (sender: number) => void;
}

/** A peer as its datagrams show it. */
export interface PeerHeard {
  epoch: number;
  /** When its last datagram came, ms since 1970 (Date.now). */
  lastMs: number;
}

/**
 * Issue 16's receiving side: each datagram's MAC (HMAC-SHA256-128, compared in constant
 * time), magic and version, the servers' list, the whole batch parsed, then the replay window
 * (RFC 4303 3.4.3: after the integrity check, so that a forgery cannot move it), and only then
 * the entries applied, in order. SPLICED entries are held keyed by the client's address and
 * port, at most maxEntries; ENDED removes one, CHANGED updates one. Nothing is served from
 * here: on becoming master, sync/promotion.ts takes `connections()` into the Connection table.
 */
export class SyncStandby {
  readonly refused = { mac: 0, replay: 0, malformed: 0, staleEpoch: 0, full: 0, servers: 0 };
  readonly stats = { datagrams: 0, spliced: 0, ended: 0, changed: 0, unknown: 0, expired: 0 };
  readonly windows = new ReplayWindows();
  private readonly held = new Map<string, HeldConnection>();
  /** The same connections by server and server-leg port (server * 65536 + port): the members' ports never overlap (flow/server-ports.ts). */
  private readonly byServer = new Map<number, HeldConnection>();
  private readonly scratch = new Uint8Array(16);
  /** Per sender, the server-leg addresses its connections have (16 bytes, hex, as keyOf): what a member takes over when it falls silent (sync/members.ts). */
  readonly locals = new Map<number, Map<string, SyncEndpoint>>();
  /** By sender id. */
  readonly peers = new Map<number, PeerHeard>();
  private readonly header = new SyncHeaderView();
  private readonly entry = new SyncEntryView();

  constructor(private readonly options: StandbyOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** One datagram's bytes (transport.ts); false when refused (counted by reason). */
  receive(buf: Buffer, len = buf.length): boolean {
    if (len < SYNC_HEADER + SYNC_MAC || len > SYNC_MAX_DATAGRAM) return this.refuse('malformed');
    if (!verifySync(this.options.key, buf, 0, len)) return this.refuse('mac');
    const h = this.header.wrap(buf, 0, len);
    if (!h.valid || h.version !== SYNC_VERSION) return this.refuse('malformed');
    if (h.serverHash !== this.options.serverHash) return this.refuse('servers');
    const entries = this.parse(buf, len - SYNC_MAC, h.count);
    if (entries === undefined) return this.refuse('malformed');
    const sender = h.sender;
    const verdict = this.windows.check(sender, h.epoch, h.seq);
    if (verdict === Replay.StaleEpoch) return this.refuse('staleEpoch');
    if (verdict !== Replay.Accepted) return this.refuse('replay');
    this.stats.datagrams++;
    const peer = this.peers.get(sender);
    if (peer === undefined || peer.epoch !== h.epoch) {
      this.peers.set(sender, { epoch: h.epoch, lastMs: Date.now() });
      this.options.onPeerStart?.(sender);
    } else peer.lastMs = Date.now();
    for (const e of entries) this.apply(e, sender);
    this.expire();
    return true;
  }

  /** Every connection held, oldest SPLICED first, left held. */
  connections(): IterableIterator<HeldConnection> {
    return this.held.values();
  }

  /** Lets go of every connection held (they were taken over: sync/promotion.ts). */
  clear(): void {
    this.held.clear();
    this.byServer.clear();
  }

  /** The connection held for the client at address number `ip` and `port`, if any. */
  byClient(ip: number, port: number): HeldConnection | undefined {
    return this.size === 0 ? undefined : this.held.get(this.keyOfNumber(ip, port));
  }

  /**
   * Lets go of the connection held for that client, if any: it ended here (an ECMP member's
   * connection, which a peer's sync of it would otherwise bring back on a late segment).
   */
  forgetClient(ip: number, port: number): void {
    if (this.size !== 0) this.forget(this.keyOfNumber(ip, port));
  }

  private keyOfNumber(ip: number, port: number): string {
    const a = this.scratch;
    if (ip >= V6_BASE) writeAddress(ip, a, 0);
    else {
      a.fill(0, 0, 10);
      a[10] = a[11] = 0xff;
      writeAddress(ip, a, 12);
    }
    return keyOf({ address: a, port, v6: false });
  }

  /** The connection held on `server`'s leg from `port`, if any. */
  onServer(server: number, port: number): HeldConnection | undefined {
    return this.byServer.get(server * 65536 + port);
  }

  /** `count` entries exactly filling [SYNC_HEADER, end), or undefined. */
  private parse(buf: Buffer, end: number, count: number): SyncEntryRepr[] | undefined {
    const out: SyncEntryRepr[] = [];
    let at = SYNC_HEADER;
    for (let i = 0; i < count; i++) {
      const v = this.entry.wrap(buf, at, end - at);
      const e = at < end ? parseSyncEntry(v) : undefined;
      if (e === undefined) return undefined;
      out.push(e);
      at += v.length;
    }
    return at === end ? out : undefined;
  }

  private apply(e: SyncEntryRepr, sender: number): void {
    const k = keyOf(e.client);
    if (e.kind === SyncKind.Spliced) {
      this.stats.spliced++;
      if (!this.held.has(k) && this.held.size >= this.options.maxEntries) {
        this.refused.full++;
        return;
      }
      // A client port used again: the newer connection replaces the older, and goes last in the order.
      this.forget(k);
      const h: HeldConnection = { ...e, closeAtMs: 0, sender, heardMs: Date.now() };
      this.held.set(k, h);
      this.byServer.set(h.server * 65536 + h.allocPort, h);
      if (!h.peerLocal) this.noteLocal(sender, h);
      return;
    }
    const c = this.held.get(k);
    if (e.kind === SyncKind.Ended) {
      this.stats.ended++;
      if (c === undefined) this.stats.unknown++;
      else this.forget(k);
      return;
    }
    this.stats.changed++;
    if (c === undefined) {
      // Its SPLICED entry was lost or refused: the standby cannot splice it anyway.
      this.stats.unknown++;
      return;
    }
    c.state = e.state;
    c.finFromClient = e.finFromClient;
    c.finFromServer = e.finFromServer;
    c.upNext = e.upNext;
    c.downNext = e.downNext;
    c.winToClient = e.winToClient;
    c.winToServer = e.winToServer;
    c.closeAtMs = e.closeAtMs;
    c.diverted = e.diverted;
  }

  /**
   * Forgets what the senders no longer send: the map is in the order SPLICED entries last came
   * (each one goes last again), so the walk stops at the first one heard recently enough.
   */
  private expire(): void {
    const ms = this.options.expireMs;
    if (ms === undefined) return;
    const before = Date.now() - ms;
    for (const [k, c] of this.held) {
      if (c.heardMs >= before) return;
      this.forget(k);
      this.stats.expired++;
    }
  }

  private forget(k: string): void {
    const h = this.held.get(k);
    if (h === undefined) return;
    this.held.delete(k);
    const s = h.server * 65536 + h.allocPort;
    if (this.byServer.get(s) === h) this.byServer.delete(s);
  }

  private noteLocal(sender: number, h: HeldConnection): void {
    let m = this.locals.get(sender);
    if (m === undefined) this.locals.set(sender, (m = new Map()));
    const k = keyOf({ address: h.local, port: 0, v6: h.local6 });
    if (!m.has(k)) m.set(k, { address: h.local, port: 0, v6: h.local6 });
  }

  private refuse(why: keyof SyncStandby['refused']): false {
    this.refused[why]++;
    return false;
  }
}

function keyOf(e: SyncEndpoint): string {
  return `${Buffer.from(e.address.buffer, e.address.byteOffset, 16).toString('hex')}/${e.port}`;
}
