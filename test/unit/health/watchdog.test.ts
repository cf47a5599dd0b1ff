import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const WATCHDOG = join(__dirname, '..', '..', '..', 'appliance', 'health', 'watchdog.js');

interface Ended { code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }

/**
 * A process with a 1 s watchdog that runs `body` (its event loop's work), then exits 0; `during`
 * runs in this process meanwhile, with the child's pid.
 */
function child(body: string, during?: (pid: number) => Promise<void>): Promise<Ended> {
  const script = `const { Watchdog } = require(${JSON.stringify(WATCHDOG)}); new Watchdog(1).start(); ${body}`;
  const started = Date.now();
  const p = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  if (during) void during(p.pid!);
  // A watchdog that failed must not leave its child spinning.
  const bound = setTimeout(() => p.kill('SIGTERM'), 10_000);
  return new Promise((resolve) => p.once('exit', (code, signal) => {
    clearTimeout(bound);
    resolve({ code, signal, stderr, ms: Date.now() - started });
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchdog: a stuck event loop ends the process', function () {
  this.timeout(20_000);

  it('ends a process whose loop stands still past the limit, with one line saying why', async () => {
    // The loop turns for a while, then a bug spins it for good.
    const e = await child('setTimeout(() => { for (;;); }, 300);');
    expect(e.signal).to.equal('SIGKILL');
    expect(e.stderr).to.match(/^\S+ socksalp: watchdog: the event loop has not turned for 1 s \(appliance\.ini watchdog_s = 1\); ending the process/);
    expect(e.stderr.trim().split('\n')).to.have.lengthOf(1);
    expect(e.ms).to.be.below(5000);
  });

  it('lets a busy loop be, so long as it turns within the limit', async () => {
    // Half a second of work at a time, for three seconds.
    const e = await child('let n = 0; const t = setInterval(() => { const end = Date.now() + 500; while (Date.now() < end); if (++n === 6) { clearInterval(t); process.exit(0); } }, 1);');
    expect([e.code, e.signal, e.stderr]).to.deep.equal([0, null, '']);
  });

  it('does not end a process that was stopped whole (SIGSTOP, a paused VM) once it goes on', async () => {
    // On its return the loop first works 700 ms (under the limit) before it beats: the seconds
    // stopped must not count towards the limit.
    const body = 'let last = Date.now(); setInterval(() => { const now = Date.now(); if (now - last > 1000) { while (Date.now() < now + 700); setTimeout(() => process.exit(0), 300); } last = now; }, 10);';
    const e = await child(body, async (pid) => {
      await sleep(200);
      process.kill(pid, 'SIGSTOP');
      await sleep(2500);
      process.kill(pid, 'SIGCONT');
    });
    expect([e.code, e.signal, e.stderr]).to.deep.equal([0, null, '']);
  });
});
