import { execFileSync } from 'node:child_process';

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
export const CLK_TCK = 100;

/** User and system CPU time of a process so far, in clock ticks (proc(5): utime, stime). */
export function cpuTicks(pid: number): number {
  return execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0);
}

/** CPU time (ms per second) a process spends over `seconds`. */
export async function cpuMsPerSecond(pid: number, seconds: number): Promise<number> {
  const t0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((cpuTicks(pid) - t0) * (1000 / CLK_TCK)) / seconds;
}
