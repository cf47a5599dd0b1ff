import type { FlowContext } from '../flow/context';
import type { TcpView } from '../wire/tcp';
import { Probe } from './probe';

/** What `ctl list`, the dashboard and the monitor show of a server's check. */
export interface CheckStatus {
  state: 'off' | 'up' | 'down';
  /** The last probe's verdict: 'ok', or why it failed; '' before the first. */
  last: string;
  /** Milliseconds from the SYN to the verdict of the last probe that passed. */
  latencyMs: number;
  passes: number;
  failures: number;
}

/**
 * Active health checks (HAProxy's `check` with `rise` and `fall`, keepalived's checkers): for
 * each server with servers.ini `check`, a probe through it (probe.ts) every `check_interval`
 * seconds. `fall` failures in a row take the server down, whatever the passive view says;
 * `rise` passes in a row bring it up again and clear the hold-down that passive failures set,
 * so a server that comes back is used again within rise x check_interval. Servers without a
 * check keep the passive view alone (health.ts).
 */
export class HealthChecker {
  private readonly probes: (Probe | undefined)[] = [];
  private readonly nextAt: number[] = [];
  private readonly inRow: number[] = [];
  readonly status: CheckStatus[] = [];

  constructor(private readonly cx: FlowContext, count: number, private readonly log: (message: string) => void) {
    for (let i = 0; i < count; i++) {
      this.probes.push(undefined);
      this.nextAt.push(0);
      this.inRow.push(0);
      this.status.push({ state: 'off', last: '', latencyMs: 0, passes: 0, failures: 0 });
    }
  }

  /** Whether the segment from `server` to `port` is a probe's. */
  owns(server: number, port: number): boolean {
    const p = this.probes[server];
    return p !== undefined && p.port === port;
  }

  receive(server: number, tcp: TcpView): void {
    const p = this.probes[server]!;
    p.receive(tcp, this.cx.now);
    if (p.result !== undefined) this.verdict(p);
  }

  /** Each tick: probes started when due, timed out, judged. */
  tick(now: number): void {
    const servers = this.cx.stages.servers;
    for (let s = 0; s < servers.length; s++) {
      const check = servers[s].check;
      const st = this.status[s];
      const p = this.probes[s];
      if (p !== undefined) {
        p.tick(now);
        if (p.result !== undefined) this.verdict(p);
        continue;
      }
      if (check === undefined) {
        if (st.state !== 'off') this.set(s, 'off');
        continue;
      }
      if (st.state === 'off') st.state = 'up';
      if (now < this.nextAt[s]) continue;
      this.nextAt[s] = now + check.interval;
      const port = this.cx.table.takePort(s);
      if (port >= 0) this.probes[s] = new Probe(this.cx, s, port, check, now);
    }
  }

  private verdict(p: Probe): void {
    const s = p.server;
    this.probes[s] = undefined;
    this.cx.table.releasePort(s, p.port);
    const check = this.cx.stages.servers[s].check;
    const st = this.status[s];
    const ok = p.result === '';
    st.last = ok ? 'ok' : p.result!;
    if (ok) st.latencyMs = Math.round(p.latencyMs * 10) / 10;
    // Passes in a row count up from 1, failures in a row down from -1.
    const streak = this.inRow[s];
    this.inRow[s] = ok ? (streak > 0 ? streak + 1 : 1) : streak < 0 ? streak - 1 : -1;
    if (ok) st.passes++;
    else st.failures++;
    if (check === undefined) return;
    if (!ok && st.state === 'up' && -this.inRow[s] >= check.fall) {
      this.set(s, 'down');
      this.log(`server ${this.cx.stages.servers[s].name} fails its check ${check.fall} time(s) in a row (${p.result}); down until it passes ${check.rise} in a row`);
    } else if (ok && st.state === 'down' && this.inRow[s] >= check.rise) {
      this.set(s, 'up');
      this.log(`server ${this.cx.stages.servers[s].name} passes its check again; up`);
    } else if (ok && this.inRow[s] >= check.rise) {
      // Up all along: passes clear what passive failures held against it.
      this.cx.health.checkPassed(s);
    }
  }

  private set(s: number, state: CheckStatus['state']): void {
    this.status[s].state = state;
    this.cx.health.checkDown(s, state === 'down');
  }
}
