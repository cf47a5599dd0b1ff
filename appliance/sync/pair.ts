import { formatAddressPort } from '../addr/address';
import type { Appliance } from '../appliance';
import { formatSyncEndpoint, type HaRole, type HaSettings } from '../config/ha-ini';
import type { ServerRecord } from '../config/tables';
import type { Connection } from '../flow/connection';
import { serverLocal } from '../flow/openers';
import { EndReason } from '../stats/end-reason';
import { serverListHash } from '../wire/sync';
import { adoptHeld, promotionTarget, type PromotionSkips } from './promotion';
import { LazyAdoption } from './adoption';
import { Members } from './members';
import { SyncSender } from './sender';
import { SyncStandby } from './standby';
import { SyncTransport } from './transport';

const NO_MAC = new Uint8Array(6);
/** How long a master stopped by SIGTERM waits for keepalived to make it backup (its peer master) before it stops anyway. */
const HANDOVER_MS = 5000;

/**
 * How long a member just started resets no segment of a connection it does not hold: the
 * peers see it within a heartbeat (1 s) and resync 400 connections an interval (20,000 a
 * second), so 5 s covers their heartbeat, the silence they took it for, and 60,000 connections.
 */
const START_QUIET_MS = 5000;

/** Connections a resync sends per sender interval: about 40 datagrams of the ring's 64. */
const RESYNC_SHARE = 400;
/** A standby forgets a connection its sender has not sent again for this many refresh periods (ha.ini refresh_s). */
const REFRESHES_HELD = 5;

/** The last promotion, for `ctl status`. */
interface Promotion {
  at: string;
  adopted: number;
  skipped: PromotionSkips;
  ms: number;
}

/** The hash of servers.ini's list that every datagram carries (wire/sync.ts): each server as "name address:port", in order. */
export function serversHash(servers: readonly ServerRecord[]): number {
  return serverListHash(servers.map((s) => `${s.name} ${formatAddressPort(s.address, s.port)}`));
}

/**
 * Issue 16's HA pair, from ha.ini [sync]: this appliance's connections go to its peers as they
 * are spliced and as they end (the sender, batched off the packet path), and what the peers
 * send is held (the standby). Both run on every appliance of the pair: the one that has
 * connections sends them, the other holds them.
 *
 * The role: a backup's devices are open but nothing reads them (no ARP answered, no segment
 * taken); keepalived's notify_master (`ctl role master`) makes it master: the held connections
 * go into the table (promotion.ts), the loop starts, and the segments' addresses are announced
 * from here. notify_backup or notify_fault (`ctl role backup`) makes a master backup again: it
 * stops serving and forgets its connections, which the new master holds.
 *
 * An ECMP member (role = member) has no role to change: it serves from the start, syncs to
 * every other member, takes a peer's connection over on a leg's first segment (adoption.ts)
 * and answers for a silent peer's segment addresses (members.ts).
 */
export class SyncPair {
  readonly sender: SyncSender;
  readonly standby: SyncStandby;
  private readonly transport: SyncTransport;
  role: HaRole;
  /** A stop under way: health fails, so that keepalived moves the addresses to the peer. */
  private leaving = false;
  private roleChanged: (() => void) | undefined;
  /** Whether `ctl role` ever set the role: keepalived manages it, and a stop hands over first. */
  private managed = false;
  private promotion: Promotion | undefined;
  private resyncing = false;
  private closed = false;
  private refresh: NodeJS.Timeout | undefined;
  readonly stats = { resyncs: 0 };
  /** An ECMP member's: connections taken over one by one, and the silent peers' addresses (undefined in a pair). */
  private readonly adoption: LazyAdoption | undefined;
  private readonly members: Members | undefined;
  /** ms since 1970 to the tables' clock (seconds since the process began). */
  private readonly origin = Date.now() - performance.now();

  constructor(private readonly appliance: Appliance, private readonly ha: HaSettings) {
    const config = appliance.config;
    this.role = ha.role;
    const serverHash = serversHash(config.servers);
    this.standby = new SyncStandby({ key: ha.key.bytes, serverHash, maxEntries: ha.maxEntries, onPeerStart: () => this.resync(), expireMs: REFRESHES_HELD * ha.refreshS * 1000 });
    this.transport = new SyncTransport(ha.listen, ha.peers, (d) => this.standby.receive(d), appliance.log);
    const neighbours = appliance.forwarder.neighbours;
    this.sender = new SyncSender(
      {
        sender: ha.sender,
        key: ha.key.bytes,
        serverHash,
        vipPort: config.appliance.socksPort,
        serverMac: (i) => neighbours.serverMac[i] ?? NO_MAC,
        local: (c) => serverLocal(c as Connection, config.servers[c.server]),
        alpName: (alp) => appliance.alps.names[alp] ?? '',
        wallMs: (t) => this.origin + t * 1000,
        send: (d, n) => this.transport.send(d, n),
      },
      { intervalMs: ha.intervalMs },
    );
    if (ha.member !== undefined) {
      appliance.dispatcher.table.share(ha.member.index - 1, ha.member.count, (server, port) => this.standby.onServer(server, port) !== undefined);
      this.adoption = new LazyAdoption(promotionTarget(appliance, (ms) => (ms - this.origin) / 1000), this.standby);
      appliance.dispatcher.adoptFrom(this.adoption);
      this.members = new Members(this.standby, ha.sender, appliance.forwarder.segments, neighbours, appliance.log);
    }
  }

  get listen(): HaSettings['listen'] {
    return this.ha.listen;
  }

  /** Binds ha.ini's listen (rejects with the bind's error) and starts the sender's timer; a master starts serving. */
  async start(): Promise<void> {
    await this.transport.start();
    this.sender.start();
    // IPVS's sync_refresh_period: every connection again now and then, so that the peer holds
    // fresher sequence numbers, and forgets what an ENDED lost on the way would have removed.
    this.refresh = setInterval(() => this.resync(), this.ha.refreshS * 1000).unref();
    this.appliance.dispatcher.sync(this);
    this.appliance.log(`sync: listening on ${formatSyncEndpoint(this.ha.listen)}, sending to ${this.ha.peers.map(formatSyncEndpoint).join(', ')}; role ${this.role}`);
    if (this.role === 'member') this.startMember();
    else if (this.role === 'master') this.appliance.start();
    else this.appliance.log('backup: holding the peer\'s connections, serving nothing until `ctl role master`');
  }

  /**
   * An ECMP member serves from the start, beside its peers, quiet a while (START_QUIET_MS):
   * its own segment addresses are
   * announced now and once more after RFC 5227's ANNOUNCE_INTERVAL (2 s), so that a survivor
   * that answered for them while this one was gone (members.ts) is overruled even if it
   * answered once more before it heard this one.
   */
  private startMember(): void {
    const m = this.ha.member!;
    // Until the peers heard this one and resynced to it, nothing of theirs is known here.
    this.adoption!.quietFor(START_QUIET_MS);
    this.appliance.start();
    const announce = () => this.appliance.forwarder.neighbours.announce();
    announce();
    setTimeout(() => this.closed || announce(), 2000).unref();
    this.members!.start();
    this.appliance.log(`member ${m.index} of ${m.count}: serving, with its share of the server-leg ports; holding the peers' connections to take over`);
  }

  /** `ctl role ROLE` (keepalived's notify scripts): what changed, for the answer. */
  setRole(role: HaRole): object {
    if (this.role === 'member' || role === 'member') return { role: this.role, changed: false, error: 'an ECMP member has no role to change (ha.ini role = member)' };
    this.managed = true;
    if (role === this.role) return { role, changed: false };
    if (role === 'master') {
      if (this.leaving) return { role: this.role, changed: false, error: 'stopping: not taking over' };
      this.promote();
    } else this.demote();
    this.roleChanged?.();
    return { role, changed: true, promotion: role === 'master' ? this.promotion : undefined };
  }

  private promote(): void {
    const t0 = performance.now();
    const target = promotionTarget(this.appliance, (ms) => (ms - this.origin) / 1000);
    const { adopted, skipped } = adoptHeld(target, this.standby.connections());
    this.standby.clear();
    this.role = 'master';
    this.appliance.start();
    this.appliance.forwarder.neighbours.announce();
    // The peer, when it comes back, holds them from this one: sent as a resync, a share per interval.
    this.resync();
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    this.promotion = { at: new Date().toISOString(), adopted: adopted.length, skipped, ms };
    const left = Object.entries(skipped).filter(([, n]) => n > 0).map(([why, n]) => `${n} ${why}`);
    this.appliance.log(`master: ${adopted.length} connection(s) taken over from the peer in ${ms} ms${left.length ? `; not taken: ${left.join(', ')}` : ''}`);
  }

  private demote(): void {
    const n = this.appliance.dispatcher.table.size;
    this.role = 'backup';
    this.appliance.pause();
    this.appliance.log(`backup: serving stopped; ${n} connection(s) left to the peer`);
  }

  /**
   * Every spliced connection to the peers again, a share per sender interval so that the ring
   * never overflows: when a peer (re)started and holds none of this one's (as IPVS's sync
   * daemon and conntrackd's resync do), and every refresh_s.
   */
  private resync(): void {
    if (this.role === 'backup' || this.resyncing) return;
    const table = this.appliance.dispatcher.table;
    const pass = table.pass();
    this.resyncing = true;
    const step = (): void => {
      let c: Connection | undefined;
      for (let n = 0; n < RESYNC_SHARE && (c = table.next(pass)) !== undefined; n++) {
        if (c.hs === null && c.server >= 0) this.sender.spliced(c);
      }
      if (c !== undefined && this.role !== 'backup' && !this.closed) {
        setTimeout(step, this.ha.intervalMs).unref();
        return;
      }
      table.endPass(pass);
      this.resyncing = false;
      this.stats.resyncs++;
    };
    step();
  }

  /** `ctl health` (keepalived's track_script): whether this appliance serves its role. */
  health(): { ok: boolean; role: HaRole; why: string } {
    if (this.leaving) return { ok: false, role: this.role, why: 'stopping' };
    if (this.role !== 'backup' && !this.appliance.serving) return { ok: false, role: this.role, why: `${this.role}, but not serving` };
    return { ok: true, role: this.role, why: this.role === 'backup' ? 'holding the peer\'s connections' : 'serving' };
  }

  /**
   * A stop of a master (SIGTERM): health fails at once, so that keepalived makes the peer
   * master; resolves once keepalived made this one backup (it stops serving then), or after
   * HANDOVER_MS. At once for a backup, and for a master whose role no `ctl role` ever set (no
   * keepalived to hand over through).
   */
  handover(): Promise<void> {
    this.leaving = true;
    if (this.role !== 'master' || !this.managed) return Promise.resolve();
    this.appliance.log('handing over: health fails now, so that keepalived gives the addresses to the peer');
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.roleChanged = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        this.appliance.log(`handover: still master after ${HANDOVER_MS} ms; stopping anyway`);
        done();
      }, HANDOVER_MS);
      this.roleChanged = done;
    });
  }

  /** The data path's hooks (flow/transitions.ts, ending.ts, the end observer): entries written, nothing awaited. */
  spliced(c: Connection): void {
    this.sender.spliced(c);
  }

  changed(c: Connection): void {
    this.sender.changed(c);
  }

  ended(c: Connection): void {
    // A stop is not an end: the peer keeps the connections it holds, to serve them once it is master.
    if (c.endReason === EndReason.Shutdown) return;
    this.sender.ended(c.clientIp, c.clientPort);
    // A member that held it too (a peer synced it) must not take it over again from that.
    if (this.members !== undefined) this.standby.forgetClient(c.clientIp, c.clientPort);
  }

  /** Sends what is queued (the connections' ends, at a stop) and closes the socket. */
  close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refresh);
    this.members?.stop();
    this.sender.stop();
    return this.transport.close();
  }

  /** For `ctl status` (never the key). */
  status() {
    return {
      role: this.role,
      health: this.health(),
      promotion: this.promotion,
      member: this.ha.member === undefined ? undefined : { ...this.ha.member, adopted: { ...this.adoption!.stats }, notAdopted: { ...this.adoption!.skipped }, ...this.members!.status() },
      listen: formatSyncEndpoint(this.ha.listen),
      peers: this.ha.peers.map(formatSyncEndpoint),
      peersHeard: [...this.standby.peers.values()].map((p) => ({ lastMs: Date.now() - p.lastMs })),
      resyncs: this.stats.resyncs,
      sent: { ...this.sender.stats },
      transport: { ...this.transport.stats },
      held: this.standby.size,
      received: { ...this.standby.stats },
      refused: { ...this.standby.refused },
    };
  }
}

