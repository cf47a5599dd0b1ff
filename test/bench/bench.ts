import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { inNs, labDown, REPO, useLab, type LabFacts } from '../lab/lab';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';

/**
 * npm run bench: the same workloads, in one run, through
 *   (a) the appliance,
 *   (b) the client straight to a Dante server,
 *   (c) kernel nftables DNAT + masquerade in the appliance namespace (round robin over the Dante servers),
 * printed side by side with the ratios of (a) to the others. Every load is bounded in count and
 * time and stops by itself; the lab is torn down at the end.
 *
 * Options: --quick (smaller counts, for a smoke run), --big-mb N (the bulk file, default 256).
 */

const SOCKET = '/run/socksalp-bench/control.sock';
const quick = process.argv.includes('--quick');
const bigMb = Number(argValue('--big-mb') ?? (quick ? 64 : 256));
const LOAD = join(REPO, 'dist', 'test', 'lab', 'socks-load.js');
const RR = join(REPO, 'dist', 'test', 'bench', 'echo-rr.js');

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

interface Figures {
  bulkMBps: number;
  cps: number;
  p50: number;
  p99: number;
  rrPerSecond: number;
  failed: number;
}


function measure(lab: LabFacts, proxy: string): Figures {
  // Bulk: a SOCKS5 download of the big file, best of three to keep noise from the other processes out.
  const bulk: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = inNs(lab.LAB_NS_CLIENT, 'curl', ['-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{speed_download}', '--socks5', proxy, `http://${lab.LAB_WEB_ADDR}/big.bin`]);
    if (r.status !== 0) throw new Error(`bulk download through ${proxy} failed: ${r.stderr}`);
    bulk.push(Number(r.stdout) / 1e6);
  }
  // Connections: SOCKS4 CONNECT + small GET, 16 at a time.
  const load = inNs(lab.LAB_NS_CLIENT, process.execPath, [LOAD, '--proxy', proxy, '--count', quick ? '1000' : '4000', '--concurrency', '16', '--mix', 'http4']);
  if (load.status !== 0) throw new Error(`connection load through ${proxy} failed: ${load.stderr}`);
  const l = JSON.parse(load.stdout) as { perSecond: number; p50: number; p99: number; failed: number };
  // Established flow: request/response over one connection to the echo service.
  const rr = inNs(lab.LAB_NS_CLIENT, process.execPath, [RR, '--proxy', proxy, '--seconds', quick ? '2' : '5']);
  if (rr.status !== 0) throw new Error(`echo round trips through ${proxy} failed: ${rr.stderr}`);
  return { bulkMBps: Math.max(...bulk), cps: l.perSecond, p50: l.p50, p99: l.p99, rrPerSecond: JSON.parse(rr.stdout).perSecond, failed: l.failed };
}

function nftDnat(lab: LabFacts, on: boolean): void {
  const ns = lab.LAB_NS_APP;
  if (!on) {
    spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'ip', 'socksalp_bench']);
    return;
  }
  const [a] = lab.LAB_SERVER_SA_SOCKS.split(':');
  const [b] = lab.LAB_SERVER_SB_SOCKS.split(':');
  const rules = `
table ip socksalp_bench {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${lab.LAB_VIP} tcp dport 1080 dnat to numgen inc mod 2 map { 0 : ${a}, 1 : ${b} }
  }
  chain post {
    type nat hook postrouting priority srcnat;
    oifname "br-s*" masquerade
  }
}`;
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
}

function rssMb(pid: number): number {
  const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024;
}

async function main(): Promise<void> {
  process.env.SOCKSALP_LAB_BIG_MB = String(bigMb);
  labDown();
  spawnSync('bash', [join(REPO, 'test', 'lab', 'lab.sh'), 'down']);
  const lab = useLab();
  const vip = `${lab.LAB_VIP}:1080`;
  const results: Record<string, Figures> = {};
  let rss = { idle: 0, after: 0 };
  try {
    process.stderr.write('bench: (b) direct to Dante\n');
    results.direct = measure(lab, lab.LAB_SERVER_SA_SOCKS);

    process.stderr.write('bench: (c) kernel nftables DNAT + masquerade\n');
    nftDnat(lab, true);
    try {
      results.nftables = measure(lab, vip);
    } finally {
      nftDnat(lab, false);
    }

    process.stderr.write('bench: (a) the appliance\n');
    const conf = configCopy({ 'appliance.ini': { control_socket: SOCKET } });
    const app = new ApplianceProcess(conf, SOCKET);
    try {
      await app.ready();
      rss.idle = rssMb(app.pid);
      results.appliance = measure(lab, vip);
      rss.after = rssMb(app.pid);
    } finally {
      await app.stop();
      ApplianceProcess.cleanup(conf);
    }
  } finally {
    labDown();
  }

  const a = results.appliance;
  const row = (name: string, f: Figures) =>
    `${name.padEnd(12)} ${f.bulkMBps.toFixed(0).padStart(8)} ${f.cps.toFixed(0).padStart(9)} ${f.p50.toFixed(2).padStart(8)} ${f.p99.toFixed(2).padStart(8)} ${f.rrPerSecond.toFixed(0).padStart(9)} ${String(f.failed).padStart(7)}`;
  const out = [
    `socksalp bench, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, bulk file ${bigMb} MiB`,
    `${'path'.padEnd(12)} ${'bulk MB/s'.padStart(8)} ${'conn/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'echo rr/s'.padStart(9)} ${'failed'.padStart(7)}`,
    row('appliance', a),
    row('direct', results.direct),
    row('nftables', results.nftables),
    '',
    `appliance / nftables:  bulk ${(a.bulkMBps / results.nftables.bulkMBps).toFixed(2)}, conn/s ${(a.cps / results.nftables.cps).toFixed(2)}, echo ${(a.rrPerSecond / results.nftables.rrPerSecond).toFixed(2)}`,
    `appliance / direct:    bulk ${(a.bulkMBps / results.direct.bulkMBps).toFixed(2)}, conn/s ${(a.cps / results.direct.cps).toFixed(2)}, p99 ${(a.p99 - results.direct.p99).toFixed(2)} ms above, echo ${(a.rrPerSecond / results.direct.rrPerSecond).toFixed(2)}`,
    `appliance RSS: ${rss.idle.toFixed(0)} MB idle, ${rss.after.toFixed(0)} MB after the loads`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  labDown();
  process.exit(1);
});
