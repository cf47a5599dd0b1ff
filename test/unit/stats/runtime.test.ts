import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { constants } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { GC_KINDS, RuntimeStats } from '../../../appliance/stats/runtime';

describe('runtime statistics (stats/runtime.ts)', function () {
  it('reports the event-loop delay beyond the timer period, the utilization and the GC kinds, in that shape', async function () {
    const r = new RuntimeStats();
    r.start();
    try {
      await sleep(150);
      const busyUntil = Date.now() + 60;
      while (Date.now() < busyUntil); // a 60 ms stall the delay must show
      await sleep(50);
      const s = r.status();
      expect(s.monitoring).to.equal(true);
      expect(Object.keys(s.gc)).to.deep.equal([...GC_KINDS]);
      const d = s.eventLoopDelay;
      expect(d.count).to.be.greaterThan(5);
      expect(d.maxMs).to.be.within(40, 1000);
      expect(d.p50Ms).to.be.below(d.maxMs);
      expect(d.p99Ms).to.be.at.most(d.maxMs);
      const u = s.utilization;
      expect(u.activeSeconds).to.be.greaterThan(0.05); // the stall
      expect(u.sinceStart).to.be.within(0.1, 1);
      expect(u.last).to.equal(u.sinceStart); // no 10 s interval done yet: since start
    } finally {
      r.stop();
    }
  });

  it('stop disables the histogram and the observer: the figures stay, no more samples', async function () {
    const r = new RuntimeStats();
    r.start();
    await sleep(60);
    r.stop();
    expect(r.running).to.equal(false);
    const before = r.delaySummary().count;
    expect(before).to.be.greaterThan(0);
    await sleep(60);
    expect(r.delaySummary().count).to.equal(before);
    expect(r.status().monitoring).to.equal(false);
    r.stop(); // harmless twice
  });

  it('counts pauses per kind from Node\'s kind flags: runs, seconds, the longest', function () {
    const r = new RuntimeStats();
    r.gc(constants.NODE_PERFORMANCE_GC_MAJOR, 0.004);
    r.gc(constants.NODE_PERFORMANCE_GC_MAJOR, 0.010);
    r.gc(constants.NODE_PERFORMANCE_GC_MINOR, 0.001);
    r.gc(99, 1); // not a kind: ignored
    const g = r.status().gc;
    expect(g.major.runs).to.equal(2);
    expect(g.major.seconds).to.be.closeTo(0.014, 1e-9);
    expect(g.major.maxMs).to.be.closeTo(10, 1e-9);
    expect(g.minor.runs).to.equal(1);
    expect(g.incremental.runs + g.weakcb.runs).to.equal(0);
  });

  it('sees real collections: global.gc() in a child started with --expose-gc moves the major count', function () {
    const script = `
      const { RuntimeStats } = require(${JSON.stringify(require.resolve('../../../appliance/stats/runtime'))});
      const r = new RuntimeStats();
      r.start();
      for (let i = 0; i < 3; i++) global.gc();
      setTimeout(() => { r.stop(); process.stdout.write(JSON.stringify(r.status().gc)); }, 100);`;
    const out = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.status, out.stderr).to.equal(0);
    const gc = JSON.parse(out.stdout) as Record<string, { runs: number; seconds: number; maxMs: number }>;
    expect(gc.major.runs).to.be.at.least(3);
    expect(gc.major.seconds).to.be.greaterThan(0);
    expect(gc.major.maxMs).to.be.greaterThan(0);
  });
});
