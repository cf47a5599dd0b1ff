import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inNs, type LabFacts } from '../lab/lab';
import { cpuMsPerSecond, cpuTicks, CLK_TCK } from './cpu';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';

/** Where the bench's appliance serves its metrics (appliance.ini [metrics] listen). */
export const METRICS = '198.18.0.1:9130';
/** Scrapes back to back for the CPU of one: enough clock ticks to read. */
const SCRAPES = 300;

export interface Load {
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
  /** CPU time of the appliance over the load (when measured), ms per 1000 connections. */
  cpuMsPerK: number;
}

/** A scrape of the metrics every second from the client namespace, as a Prometheus server would; the returned function stops it (its process group). */
export function scrapeEverySecond(lab: LabFacts): () => void {
  const p = spawn('ip', ['netns', 'exec', lab.LAB_NS_CLIENT, 'bash', '-c', `while :; do curl -sS -o /dev/null --max-time 2 http://${METRICS}/metrics; sleep 1; done`], { stdio: 'ignore', detached: true });
  return () => {
    try {
      process.kill(-p.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  };
}

/**
 * What serving the metrics costs under load: the connections workload through an appliance
 * with [metrics] listen, after a warm-up run, without and with a scrape every second in the
 * order ABBA (so that drift in the machine's load falls on both), and the appliance's CPU per connection.
 */
export interface MetricsCost {
  without: Load;
  with: Load;
  /** The appliance's CPU with no traffic, ms per second, and what one scrape adds to it, ms. */
  idle: number;
  msPerScrape: number;
  scrapes: number;
}

export async function metricsCost(lab: LabFacts, socket: string, load: (pid: number) => Load): Promise<MetricsCost> {
  const conf = configCopy({ 'appliance.ini': { control_socket: socket } });
  appendFileSync(join(conf, 'appliance.ini'), `\n[metrics]\nlisten = ${METRICS}\n`);
  const app = new ApplianceProcess(conf, socket);
  try {
    await app.ready();
    const runs: { without: Load[]; with: Load[] } = { without: [], with: [] };
    load(app.pid); // warm-up (JIT, ARP, the servers' first connections), not counted
    for (let round = 0; round < 2; round++) {
      // ABBA: neither gets the warmer slot every time.
      for (const scraping of round === 0 ? [false, true] : [true, false]) {
        const stop = scraping ? scrapeEverySecond(lab) : undefined;
        try {
          runs[scraping ? 'with' : 'without'].push(load(app.pid));
        } finally {
          stop?.();
        }
      }
    }
    // With no traffic to blur it, what one scrape costs the appliance: SCRAPES back to back,
    // less what it spends idle (its tick) meanwhile.
    const idle = await cpuMsPerSecond(app.pid, 10);
    const t0 = Date.now();
    const c0 = cpuTicks(app.pid);
    const burst = inNs(lab.LAB_NS_CLIENT, 'bash', ['-c', `for i in $(seq ${SCRAPES}); do curl -sS -o /dev/null --max-time 2 http://${METRICS}/metrics || exit 1; done`]);
    if (burst.status !== 0) throw new Error(`scraping ${METRICS} failed: ${burst.stderr}`);
    const msPerScrape = ((cpuTicks(app.pid) - c0) * (1000 / CLK_TCK) - (idle * (Date.now() - t0)) / 1000) / SCRAPES;
    const served = inNs(lab.LAB_NS_CLIENT, 'curl', ['-sS', '--max-time', '5', `http://${METRICS}/metrics`]).stdout;
    const scrapes = Number(/^socksalp_metrics_requests_total\{code="200"\} (\d+)$/m.exec(served)?.[1] ?? 0);
    const mean = (l: Load[]): Load => ({
      perSecond: avg(l.map((x) => x.perSecond)), p50: avg(l.map((x) => x.p50)), p99: avg(l.map((x) => x.p99)),
      failed: l.reduce((n, x) => n + x.failed, 0), cpuMsPerK: avg(l.map((x) => x.cpuMsPerK)),
    });
    return { without: mean(runs.without), with: mean(runs.with), idle, msPerScrape, scrapes };
  } finally {
    await app.stop();
    ApplianceProcess.cleanup(conf);
  }
}

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function metricsLine(m: MetricsCost): string {
  return `a metrics scrape costs the appliance ${m.msPerScrape.toFixed(2)} ms of CPU (${SCRAPES} back to back, its idle ${m.idle.toFixed(1)} ms/s taken off): ` +
    `${(m.msPerScrape / 10).toFixed(3)} % of a core at one scrape a second\n` +
    `metrics scraped every second / not (connections workload, two rounds each, ${m.scrapes} scrapes served in all; noisy on a shared machine): ` +
    `conn/s ${m.with.perSecond.toFixed(0)} / ${m.without.perSecond.toFixed(0)} = ${(m.with.perSecond / m.without.perSecond).toFixed(3)}, ` +
    `appliance CPU ${m.with.cpuMsPerK.toFixed(0)} / ${m.without.cpuMsPerK.toFixed(0)} ms per 1000 connections = ${(m.with.cpuMsPerK / m.without.cpuMsPerK).toFixed(3)}, ` +
    `p99 ${m.with.p99.toFixed(2)} / ${m.without.p99.toFixed(2)} ms, failed ${m.with.failed} / ${m.without.failed}`;
}

