import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplianceProcess, configCopy } from '../lab/appliance-process';
import type { Load } from './metrics-cost';

/**
 * Where the time goes (issue 15): the system calls the appliance makes per connection of the
 * connections workload, counted by `perf stat` on the syscall tracepoints (in-kernel counters:
 * the timed path is not slowed), or, where those are missing, by `strace -c -f` (which slows
 * the process, so its load is not a timed figure); and the appliance's own runtime figures
 * (ctl status "runtime") over the same load: event-loop delay, utilization, GC.
 */

/** The calls shown by name; the rest only count in the total. */
const GROUPS: Record<string, string[]> = {
  read: ['read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg'],
  write: ['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg'],
  poll: ['epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'poll', 'ppoll'],
  futex: ['futex'],
};

export interface SyscallFigures {
  tool: string;
  connections: number;
  perConnection: Record<keyof typeof GROUPS | 'total', number>;
  cps: number;
  /** ctl status "runtime" over the load. */
  delayP99Ms: number;
  delayMaxMs: number;
  delaySamples: number;
  utilization: number;
  gcMs: number;
  gcRuns: number;
}

type Counter = (pid: number) => { stop: () => Promise<Map<string, number>> };

function perfCounter(pid: number) {
  const out = join(tmpdir(), `socksalp-perf-${process.pid}.csv`);
  const events = ['raw_syscalls:sys_enter', ...Object.values(GROUPS).flat().map((s) => `syscalls:sys_enter_${s}`)];
  const p = spawn('perf', ['stat', '-x', ',', '-o', out, '-e', events.join(','), '-p', String(pid)], { stdio: 'ignore' });
  return {
    stop: () => new Promise<Map<string, number>>((resolve, reject) => {
      p.once('exit', () => {
        try {
          const counts = new Map<string, number>();
          for (const line of readFileSync(out, 'utf8').split('\n')) {
            const f = line.split(',');
            const m = /^(?:raw_)?syscalls:sys_enter_?(\w*)$/.exec(f[2] ?? '');
            if (m && /^\d+$/.test(f[0])) counts.set(m[1] === '' ? 'total' : m[1], Number(f[0]));
          }
          if (!counts.has('total')) throw new Error(`perf stat counted nothing: ${readFileSync(out, 'utf8').slice(0, 300)}`);
          resolve(counts);
        } catch (e) {
          reject(e);
        } finally {
          rmSync(out, { force: true });
        }
      });
      p.kill('SIGINT');
    }),
  };
}

function straceCounter(pid: number) {
  const out = join(tmpdir(), `socksalp-strace-${process.pid}.txt`);
  const p = spawn('strace', ['-c', '-f', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  return {
    stop: () => new Promise<Map<string, number>>((resolve) => {
      p.once('exit', () => {
        const counts = new Map<string, number>();
        for (const line of readFileSync(out, 'utf8').split('\n')) {
          // % time, seconds, usecs/call, calls, [errors], syscall
          const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
          if (m) counts.set(m[2], Number(m[1]));
          const t = /^\s*100\.00\s+[\d.]+\s+\d*\s*(\d+)\s+(?:\d+\s+)?total\s*$/.exec(line);
          if (t) counts.set('total', Number(t[1]));
        }
        rmSync(out, { force: true });
        resolve(counts);
      });
      p.kill('SIGINT');
    }),
  };
}

/** perf stat where the syscall tracepoints exist (it needs tracefs), strace otherwise. */
function chooseCounter(): [string, Counter] {
  const probe = spawnSync('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', 'true'], { encoding: 'utf8' });
  return probe.status === 0 && /sys_enter/.test(probe.stderr) ? ['perf stat', perfCounter] : ['strace -c', straceCounter];
}

interface Runtime {
  eventLoopDelay: { count: number; p99Ms: number; maxMs: number };
  utilization: { activeSeconds: number; idleSeconds: number };
  gc: Record<string, { runs: number; seconds: number }>;
}

/**
 * A fresh appliance, `count` connections under the counter. The event-loop delay is the
 * appliance's since start (its histogram cannot be read over an interval), so the load is most
 * of its life; utilization and GC are the differences over the load.
 */
export async function syscallsPerConnection(socket: string, count: number, load: (pid: number, count: number) => Load): Promise<SyscallFigures> {
  const [tool, counter] = chooseCounter();
  const conf = configCopy({ 'appliance.ini': { control_socket: socket } });
  const app = new ApplianceProcess(conf, socket);
  try {
    await app.ready();
    const runtime = async () => ((await app.ask({ cmd: 'status' })).status as { runtime: Runtime }).runtime;
    const r0 = await runtime();
    const c = counter(app.pid);
    await new Promise((r) => setTimeout(r, 500)); // the counter attaches
    const l = load(app.pid, count);
    const counts = await c.stop();
    const r1 = await runtime();
    const sum = (names: string[]) => names.reduce((n, s) => n + (counts.get(s) ?? 0), 0);
    const per = Object.fromEntries([...Object.entries(GROUPS).map(([g, names]) => [g, sum(names) / count]), ['total', (counts.get('total') ?? 0) / count]]) as SyscallFigures['perConnection'];
    const gc = (r: Runtime, f: 'runs' | 'seconds') => Object.values(r.gc).reduce((n, k) => n + k[f], 0);
    const active = r1.utilization.activeSeconds - r0.utilization.activeSeconds;
    const idle = r1.utilization.idleSeconds - r0.utilization.idleSeconds;
    return {
      tool, connections: count, perConnection: per, cps: l.perSecond,
      delayP99Ms: r1.eventLoopDelay.p99Ms, delayMaxMs: r1.eventLoopDelay.maxMs, delaySamples: r1.eventLoopDelay.count,
      utilization: active / Math.max(1e-9, active + idle), gcMs: (gc(r1, 'seconds') - gc(r0, 'seconds')) * 1000, gcRuns: gc(r1, 'runs') - gc(r0, 'runs'),
    };
  } finally {
    await app.stop();
    ApplianceProcess.cleanup(conf);
  }
}

export function syscallsLine(s: SyscallFigures): string {
  const p = s.perConnection;
  return `syscalls per connection (${s.tool}, ${s.connections} connections of the connections workload, ${s.cps.toFixed(0)} conn/s): ` +
    `read ${p.read.toFixed(1)}, write ${p.write.toFixed(1)}, epoll/poll ${p.poll.toFixed(1)}, futex ${p.futex.toFixed(1)}, total ${p.total.toFixed(1)}\n` +
    `appliance runtime over that load: event-loop utilization ${(s.utilization * 100).toFixed(0)} %, GC ${s.gcMs.toFixed(1)} ms in ${s.gcRuns} collections ` +
    `(${(s.gcMs / s.connections * 1000).toFixed(1)} us per connection); event-loop delay since start p99 ${s.delayP99Ms.toFixed(2)} ms, max ${s.delayMaxMs.toFixed(2)} ms (${s.delaySamples} samples of 10 ms)`;
}
