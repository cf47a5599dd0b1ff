import { performance } from 'node:perf_hooks';
import { formatHostPort, monitorRequest } from './client';
import { readServers, readTable, type TableEntry } from './figures';
import type { MonitorConfig, WatchedAppliance } from './policy-ini';
import { Model, type Decision } from './policy';

export type Request = (host: string, port: number, key: Buffer, request: object, timeoutMs?: number) => Promise<Record<string, unknown>>;

export interface WatcherOptions {
  /** Print the decisions, send none. */
  dryRun: boolean;
  log: (message: string) => void;
  /** The monitor channel (tests give their own). */
  request?: Request;
  /** Seconds, monotonic. */
  now?: () => number;
}

interface Watched {
  a: WatchedAppliance;
  model: Model;
  /** The problem last logged (unreachable, refused, unreadable); '' while all is well. */
  trouble: string;
  /** --dry-run: the server diversions it printed, by original; '' for one it printed the removal of. */
  pretend: Map<string, string>;
}

/**
 * Polls each appliance's figures over its monitor channel every `interval` seconds (the
 * `servers` answer and the diverted-address table), gives them to its Model (policy.ts) and
 * sends the decisions as the patent's instructions: `divert add` of a server diversion
 * (mode drain: established connections stay), `divert remove` to go back. An appliance that
 * cannot be reached, refuses or answers nonsense is logged once (and once when it is back) and
 * polled again at the next interval.
 */
export class Watcher {
  private readonly watched: Watched[];
  private readonly request: Request;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly config: MonitorConfig, private readonly o: WatcherOptions) {
    this.watched = config.appliances.map((a) => ({ a, model: new Model(config.policy), trouble: '', pretend: new Map() }));
    this.request = o.request ?? monitorRequest;
    this.now = o.now ?? (() => performance.now() / 1000);
  }

  start(): void {
    const p = this.config.policy;
    const thresholds = [
      p.latencyMs === undefined ? undefined : `${p.latency} p99 > ${p.latencyMs} ms (recover <= ${p.recoverLatencyMs})`,
      p.load === undefined ? undefined : `load > ${p.load} (recover <= ${p.recoverLoad})`,
      p.failures === undefined ? undefined : `failures > ${p.failures} per 60 s (recover <= ${p.recoverFailures})`,
    ].filter(Boolean).join(', ');
    this.o.log(`watching ${this.watched.map((w) => `${w.a.name} (${formatHostPort(w.a.host, w.a.port)})`).join(', ')} every ${p.interval} s: ${thresholds}; over ${p.polls} polls; hold_down ${p.holdDown} s${this.o.dryRun ? '; dry run: decisions are printed, not sent' : ''}`);
    const tick = () => {
      this.running = this.poll().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, p.interval * 1000);
      });
    };
    tick();
  }

  /** One poll of every appliance, in parallel. */
  async poll(): Promise<void> {
    await Promise.all(this.watched.map((w) => this.pollOne(w)));
  }

  /** Stops polling after the poll under way; with restore_on_exit, removes the server diversions made or adopted. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (!this.config.policy.restoreOnExit) return;
    for (const w of this.watched) for (const d of w.model.restoreAll('restore_on_exit')) await this.carryOut(w, d);
  }

  private async pollOne(w: Watched): Promise<void> {
    const { a } = w;
    let servers, table;
    try {
      const s = await this.ask(a, { cmd: 'servers' });
      const t = await this.ask(a, { cmd: 'divert', op: 'list' });
      servers = readServers(s);
      table = readTable(t);
      if (typeof servers === 'string' || typeof table === 'string') throw new Error(`unreadable figures: ${typeof servers === 'string' ? servers : table}`);
    } catch (e) {
      const why = (e as Error).message;
      if (w.trouble !== why) this.o.log(`${a.name}: ${why}; polled again every ${this.config.policy.interval} s (logged once)`);
      w.trouble = why;
      return;
    }
    if (w.trouble !== '') this.o.log(`${a.name}: answers again`);
    w.trouble = '';
    const { decisions, notes } = w.model.observe(this.now(), servers, this.o.dryRun ? pretended(table, w.pretend) : table);
    for (const n of notes) this.o.log(`${a.name}: ${n}`);
    for (const d of decisions) await this.carryOut(w, d);
  }

  private async carryOut(w: Watched, d: Decision): Promise<void> {
    const line = d.op === 'add'
      ? `divert ${d.source.name} (${d.source.address}) -> ${d.target.name} (${d.target.address}): ${d.why}`
      : `divert back ${d.source.name} (${d.source.address}), no longer to ${d.target.name}: ${d.why}`;
    if (this.o.dryRun) {
      this.o.log(`${w.a.name}: dry run: ${line}`);
      w.pretend.set(d.source.address, d.op === 'add' ? d.target.address : '');
      w.model.committed(d, this.now());
      return;
    }
    const req = d.op === 'add'
      ? { cmd: 'divert', op: 'add', original: d.source.address, diverted: d.target.address, mode: 'drain' }
      : { cmd: 'divert', op: 'remove', original: d.source.address, mode: 'drain' };
    try {
      await this.ask(w.a, req);
    } catch (e) {
      this.o.log(`${w.a.name}: ${line}: not applied: ${(e as Error).message}`);
      return;
    }
    this.o.log(`${w.a.name}: ${line}`);
    w.model.committed(d, this.now());
  }

  /** A request and its answer; a refusal or an error answer throws. */
  private async ask(a: WatchedAppliance, req: object): Promise<Record<string, unknown>> {
    const answer = await this.request(a.host, a.port, a.key.bytes, req);
    if (answer.ok !== true) throw new Error(answer.refused ? `the monitor channel refused the request (${String(answer.refused)}): ${String(answer.error)}` : `the appliance answered: ${String(answer.error)}`);
    return answer;
  }
}

/** The table as --dry-run's printed decisions would have left it. */
function pretended(table: TableEntry[], pretend: Map<string, string>): TableEntry[] {
  const out = table.filter((e) => !pretend.has(e.original));
  for (const [original, diverted] of pretend) if (diverted !== '') out.push({ original, diverted });
  return out;
}
