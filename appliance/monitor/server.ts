import { createServer, type Server, type Socket } from 'node:net';
import type { Appliance } from '../appliance';
import { formatIpv4 } from '../config/address';
import type { MonitorSettings } from '../config/tables';
import { answerRequest } from '../control/server';
import { MAX_MESSAGE, MonitorAuth, type Refusal } from './auth';

/** What a monitor may ask: change the diverted-address table, read the figures. Not reload, not status. */
const MONITOR_COMMANDS = ['divert', 'servers', 'conns', 'flows'];

/** (reason, sender) pairs logged at most; beyond, refusals are only counted. */
const MAX_LOGGED = 10_000;

/**
 * The network monitor's channel (the network-management patent's port 213): a TCP listener on
 * the host's own stack, newline-delimited JSON like the control socket, each line a signed
 * message (monitor/auth.ts) whose request is one of the control socket's divert commands
 * (list, add, remove, save; mode drain or move) or a read of the figures the patent's proxy
 * reports (servers, conns, flows: the Socks ALP Connection table and the current connections,
 * paged and filtered as on the control socket). Answers are JSON lines: what was applied, or why not.
 * Each refusal is counted by reason and logged once per (reason, sender address); the key is
 * never logged.
 */
export class MonitorServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  readonly auth: MonitorAuth;
  private readonly logged = new Set<string>();

  constructor(private readonly appliance: Appliance, private readonly settings: MonitorSettings) {
    // The key, skew and rate of the configuration in force (a reload may change them).
    this.auth = new MonitorAuth(() => {
      const m = appliance.config.monitor ?? settings;
      return { key: m.key.bytes, maxSkew: m.maxSkew, rate: m.rate };
    });
  }

  get where(): string {
    return `${formatIpv4(this.settings.address)}:${this.settings.port}`;
  }

  async listen(): Promise<void> {
    this.server = createServer((s) => this.serve(s));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`monitor channel cannot listen on ${this.where}: ${e.code ?? e.message}`)));
      this.server!.listen({ host: formatIpv4(this.settings.address), port: this.settings.port }, () => resolve());
    });
    this.server.on('error', (e) => this.appliance.log(`monitor: ${e.message}`));
    this.appliance.log(`monitor: listening on ${this.where}`);
  }

  private serve(s: Socket): void {
    this.clients.add(s);
    const sender = s.remoteAddress ?? '?';
    let pending: Buffer[] = [];
    let size = 0;
    s.on('data', (chunk: Buffer) => {
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (size + piece.length > MAX_MESSAGE) {
          this.refused(s, sender, this.auth.refuse('oversized', `message over ${MAX_MESSAGE} bytes`, true));
          return;
        }
        const line = Buffer.concat([...pending, piece]).toString('utf8').trim();
        pending = [];
        size = 0;
        if (line !== '' && !this.line(s, sender, line)) return;
      }
      const rest = chunk.subarray(start);
      if (size + rest.length > MAX_MESSAGE) {
        // Close at once: nothing more of this line is buffered.
        this.refused(s, sender, this.auth.refuse('oversized', `message over ${MAX_MESSAGE} bytes`, true));
        return;
      }
      if (rest.length) {
        pending.push(Buffer.from(rest));
        size += rest.length;
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => this.clients.delete(s));
  }

  /** Handles one line; false when the connection was closed. */
  private line(s: Socket, sender: string, line: string): boolean {
    const v = this.auth.check(line, sender);
    if (!v.ok) return this.refused(s, sender, v);
    const req = v.request;
    const cmd = req.cmd ?? 'divert';
    const answer: object | Promise<object> = typeof cmd !== 'string' || !MONITOR_COMMANDS.includes(cmd)
      ? { ok: false, error: `the monitor channel takes ${MONITOR_COMMANDS.join(', ')}, not ${JSON.stringify(req.cmd)}` }
      : answerRequest(this.appliance, { ...req, cmd }, `monitor ${sender}`);
    const sent = (a: Record<string, unknown>) => {
      // An applied change is logged by divertCommand, with the sender; a refused one here.
      if (!a.ok) this.appliance.log(`monitor: ${sender} ${String(req.op ?? req.cmd ?? '(no op)')} not applied: ${String(a.error)}`);
      if (!s.destroyed) s.write(JSON.stringify(a) + '\n');
    };
    if (answer instanceof Promise) void answer.then((a) => sent(a as Record<string, unknown>));
    else sent(answer as Record<string, unknown>);
    return true;
  }

  private refused(s: Socket, sender: string, v: { reason: Refusal; error: string; close: boolean }): boolean {
    const key = `${v.reason} ${sender}`;
    if (!this.logged.has(key) && this.logged.size < MAX_LOGGED) {
      this.logged.add(key);
      this.appliance.log(`monitor: refused a message from ${sender}: ${v.reason} (${v.error}); further ${v.reason} refusals from ${sender} are counted, not logged`);
    }
    if (v.close) {
      s.end(JSON.stringify({ ok: false, refused: v.reason, error: v.error }) + '\n');
      s.destroy();
      return false;
    }
    s.write(JSON.stringify({ ok: false, refused: v.reason, error: v.error }) + '\n');
    return true;
  }

  stats(): { listen: string; accepted: number; refused: Record<Refusal, number> } {
    return { listen: this.where, accepted: this.auth.accepted, refused: { ...this.auth.refused } };
  }

  close(): void {
    for (const s of this.clients) s.destroy();
    this.server?.close();
  }
}
