import { ControlUnreachable, controlRequest } from '../appliance/control/client';
import type { AlpRow, ConnRow, ServerRow, Status } from '../appliance/control/snapshot';
import { divertAnswerText, type DivertRequest, type DivertRow } from './divert-panel';

/**
 * What the dashboard knows of the appliance: the last snapshot, connection page and
 * diverted-address table from the control socket, and short histories (one sample per
 * refresh) for the sparklines. Rates are differences of the appliance's counters between two
 * refreshes.
 */

export const SORTS = ['age', 'bytes', 'alp', 'server', 'idle', 'latency', 'rtt', 'throughput', 'retrans'] as const;
/** Samples kept: five minutes at two a second. */
const HISTORY = 600;

/** A fixed-length series, oldest first. */
export class Series {
  readonly values: number[] = [];
  push(v: number): void {
    this.values.push(v);
    if (this.values.length > HISTORY) this.values.shift();
  }
  get last(): number {
    return this.values.length ? this.values[this.values.length - 1] : 0;
  }
}

export class DashboardModel {
  status?: Status;
  servers: ServerRow[] = [];
  alps: AlpRow[] = [];
  conns: ConnRow[] = [];
  connsTotal = 0;
  connsMatched = 0;
  /** The diverted-address table in force, in table order, and the panel's cursor in it. */
  diverted: DivertRow[] = [];
  divertSelected = 0;
  /** Why the last refresh failed; undefined while connected. */
  error?: string;
  lastOk?: Date;

  /** Oldest first is the table's own order: the cheapest page for the appliance to give. */
  sort: (typeof SORTS)[number] = 'age';
  filter = '';
  offset = 0;
  pageSize = 20;

  readonly packetsIn = new Series();
  readonly packetsOut = new Series();
  readonly bytesIn = new Series();
  readonly bytesOut = new Series();
  readonly newConns = new Series();
  readonly queues = new Map<string, Series>();
  readonly discardsByAlp = new Map<string, Series>();
  readonly discardsByServer = new Map<string, Series>();
  private previous?: {
    at: number; rxP: number; txP: number; rxB: number; txB: number; created: number;
    discards: Map<string, number>; serverDiscards: Map<string, number>;
  };

  constructor(readonly socket: string) {}

  /** One round trip to the appliance: snapshot, the current page of connections, the diverted addresses. */
  async refresh(): Promise<void> {
    try {
      const [snap, page, divert] = await Promise.all([
        controlRequest(this.socket, { cmd: 'snapshot' }, 2000),
        controlRequest(this.socket, { cmd: 'conns', offset: this.offset, limit: this.pageSize, filter: this.filter, sort: this.sort }, 2000),
        controlRequest(this.socket, { cmd: 'divert', op: 'list' }, 2000),
      ]);
      for (const a of [snap, page, divert]) if (a.ok !== true) throw new Error(String(a.error));
      this.status = snap.status as Status;
      this.servers = snap.servers as ServerRow[];
      this.alps = snap.alps as AlpRow[];
      this.conns = page.rows as ConnRow[];
      this.connsTotal = page.total as number;
      this.connsMatched = page.matched as number;
      this.setDiverted(divert.entries as DivertRow[]);
      this.error = undefined;
      this.lastOk = new Date();
      this.sample();
    } catch (e) {
      this.error = e instanceof ControlUnreachable ? e.reason : (e as Error).message;
    }
  }

  /** A new table: the cursor stays on its entry while that is there (refreshes come twice a second). */
  setDiverted(rows: DivertRow[]): void {
    const at = rows.findIndex((r) => r.original === this.diverted[this.divertSelected]?.original);
    this.diverted = rows;
    this.divertSelected = at >= 0 ? at : Math.min(this.divertSelected, Math.max(0, rows.length - 1));
  }

  moveDivertCursor(step: number): void {
    this.divertSelected = Math.min(Math.max(0, this.diverted.length - 1), Math.max(0, this.divertSelected + step));
  }

  /** Sends an add or a remove; the panel follows the answer's table at once. The status line's text. */
  async divert(request: DivertRequest): Promise<string> {
    try {
      const a = await controlRequest(this.socket, request);
      if (Array.isArray(a.entries)) this.setDiverted(a.entries as DivertRow[]);
      return divertAnswerText(request.op, a);
    } catch (e) {
      return `divert ${request.op}: ${(e as Error).message}`;
    }
  }

  private sample(): void {
    const st = this.status!;
    const at = Date.now() / 1000;
    let rxP = 0, txP = 0, rxB = 0, txB = 0;
    for (const d of st.devices) {
      rxP += d.rxPackets;
      txP += d.txPackets;
      rxB += d.rxBytes;
      txB += d.txBytes;
    }
    const discards = new Map<string, number>();
    const serverDiscards = new Map<string, number>();
    for (const s of this.servers) {
      let total = 0;
      for (const [alp, n] of Object.entries(s.discards)) {
        discards.set(alp, (discards.get(alp) ?? 0) + n);
        total += n;
      }
      serverDiscards.set(s.name, total);
      this.series(this.queues, s.name).push(s.queue);
    }
    const p = this.previous;
    // A restarted appliance starts its counters again: no negative rates.
    if (p && at > p.at && rxP >= p.rxP) {
      const dt = at - p.at;
      this.packetsIn.push((rxP - p.rxP) / dt);
      this.packetsOut.push((txP - p.txP) / dt);
      this.bytesIn.push((rxB - p.rxB) / dt);
      this.bytesOut.push((txB - p.txB) / dt);
      this.newConns.push(Math.max(0, st.table.created - p.created) / dt);
      for (const a of this.alps) this.series(this.discardsByAlp, a.name).push(Math.max(0, (discards.get(a.name) ?? 0) - (p.discards.get(a.name) ?? 0)) / dt);
      for (const s of this.servers) {
        this.series(this.discardsByServer, s.name).push(Math.max(0, serverDiscards.get(s.name)! - (p.serverDiscards.get(s.name) ?? 0)) / dt);
      }
    }
    this.previous = { at, rxP, txP, rxB, txB, created: st.table.created, discards, serverDiscards };
  }

  private series(map: Map<string, Series>, key: string): Series {
    let s = map.get(key);
    if (!s) map.set(key, (s = new Series()));
    return s;
  }

  /** Servers in congestion: discarding since the last refresh, or their queue near its bound. */
  get congested(): string[] {
    return this.servers.filter((s) => (this.discardsByServer.get(s.name)?.last ?? 0) > 0 || s.queue >= 0.9 * s.queueLimit).map((s) => s.name);
  }
}
