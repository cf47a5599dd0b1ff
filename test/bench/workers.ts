import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';
import { inNs, REPO, useLab, type LabFacts } from '../lab/lab';
import { CLK_TCK, cpuTicks } from './cpu';

/**
 * One worker against two (appliance.ini workers), in one run on the same lab: the connections
 * workload (SOCKS4 CONNECT + small GET, 16 at a time), a bulk download and echo round trips,
 * alternated ABBA so that the host's drift falls on both alike, with the appliance's CPU per
 * connection (all its threads: /proc/PID/stat). The devices are made multi-queue for the run
 * (`lab.sh queues multi`; one worker attaches one queue of them) and put back after.
 *
 *   node dist/test/bench/workers.js [--count N] [--rounds N]   (npm run bench -- --workers-only)
 */
const SOCKET = '/run/socksalp-bench-workers/control.sock';
const LOAD = join(REPO, 'dist', 'test', 'lab', 'socks-load.js');
const RR = join(REPO, 'dist', 'test', 'bench', 'echo-rr.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Run { workers: number; cps: number; p50: number; p99: number; bulkMBps: number; rr: number; cpuMsPerK: number; failed: number }

function queues(how: 'multi' | 'single'): void {
  const r = spawnSync('bash', [join(REPO, 'test', 'lab', 'lab.sh'), 'queues', how], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lab.sh queues ${how}: ${r.stderr}`);
}

async function once(lab: LabFacts, workers: number, count: number): Promise<Run> {
  const conf = configCopy({ 'appliance.ini': { control_socket: SOCKET, vip: lab.LAB_VIP, workers: String(workers) } });
  const app = new ApplianceProcess(conf, SOCKET);
  const proxy = `${lab.LAB_VIP}:1080`;
  try {
    await app.ready();
    const t0 = cpuTicks(app.pid);
    const load = inNs(lab.LAB_NS_CLIENT, process.execPath, [LOAD, '--proxy', proxy, '--count', String(count), '--concurrency', '16', '--mix', 'http4']);
    if (load.status !== 0) throw new Error(`connection load failed: ${load.stderr}`);
    const cpuMsPerK = ((cpuTicks(app.pid) - t0) * (1000 / CLK_TCK) * 1000) / count;
    const l = JSON.parse(load.stdout) as { perSecond: number; p50: number; p99: number; failed: number };
    const bulk = inNs(lab.LAB_NS_CLIENT, 'curl', ['-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{speed_download}', '--socks5', proxy, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    if (bulk.status !== 0) throw new Error(`bulk download failed: ${bulk.stderr}`);
    const rr = inNs(lab.LAB_NS_CLIENT, process.execPath, [RR, '--proxy', proxy, '--seconds', '5']);
    if (rr.status !== 0) throw new Error(`echo round trips failed: ${rr.stderr}`);
    return { workers, cps: l.perSecond, p50: l.p50, p99: l.p99, failed: l.failed, bulkMBps: Number(bulk.stdout) / 1e6, rr: (JSON.parse(rr.stdout) as { perSecond: number }).perSecond, cpuMsPerK };
  } finally {
    await app.stop();
    ApplianceProcess.cleanup(conf);
  }
}

async function main(): Promise<void> {
  const count = arg('--count', 4000);
  const rounds = arg('--rounds', 1);
  const lab = useLab();
  queues('multi');
  const runs: Run[] = [];
  try {
    for (let r = 0; r < rounds; r++) for (const w of [1, 2, 2, 1]) runs.push(await once(lab, w, count));
  } finally {
    queues('single');
  }
  const best = (w: number, k: keyof Run, low = false) => {
    const xs = runs.filter((x) => x.workers === w).map((x) => x[k]);
    return low ? Math.min(...xs) : Math.max(...xs);
  };
  console.log('workers  conn/s  p50 ms  p99 ms  bulk MB/s  echo rr/s  CPU ms/1000 conn  failed   (each run, ABBA order)');
  for (const x of runs) {
    console.log(`${String(x.workers).padStart(7)}  ${x.cps.toFixed(0).padStart(6)}  ${x.p50.toFixed(1).padStart(6)}  ${x.p99.toFixed(1).padStart(6)}  ${x.bulkMBps.toFixed(0).padStart(9)}  ${x.rr.toFixed(0).padStart(9)}  ${x.cpuMsPerK.toFixed(0).padStart(16)}  ${String(x.failed).padStart(6)}`);
  }
  const ratio = (k: keyof Run, low = false) => (best(2, k, low) / best(1, k, low)).toFixed(2);
  console.log(`2 workers / 1 (best of each): conn/s ${ratio('cps')}, p99 ${ratio('p99', true)}, bulk ${ratio('bulkMBps')}, echo ${ratio('rr')}, CPU per connection ${ratio('cpuMsPerK', true)}`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench workers: ${e.message}\n`);
  process.exitCode = 1;
});
