import { expect } from 'chai';
import { differenceOf, halfSpread, judge, ratioOf, summary, valueOf, type FigureResult } from '../../bench/targets';
import { figures, marginalRssLine, type Measured, type PathRuns } from '../../bench/figures';

/** The arithmetic `npm run bench -- --check` judges issue 15's targets by (test/bench/targets.ts). */
describe('bench targets: ratios, noise and the check', () => {
  it('takes half the spread of a path\'s runs as its noise, 0 for one run', () => {
    expect(halfSpread([100, 110])).to.equal(5);
    expect(halfSpread([7])).to.equal(0);
    expect(valueOf([100, 110])).to.deep.equal({ value: 105, noise: 5 });
    expect(valueOf([200], 0.05)).to.deep.equal({ value: 200, noise: 10 });
  });

  it('gives a ratio of means the sum of both paths\' relative noises', () => {
    const r = ratioOf([90, 110], [200, 200]);
    expect(r.value).to.equal(0.5);
    expect(r.noise).to.be.closeTo(0.5 * (10 / 100), 1e-12);
    const both = ratioOf([90, 110], [190, 210]);
    expect(both.noise).to.be.closeTo(0.5 * (0.1 + 0.05), 1e-12);
  });

  it('gives a difference of means the sum of both paths\' noises', () => {
    expect(differenceOf([10, 12], [8, 8.5])).to.deep.equal({ value: 11 - 8.25, noise: 1 + 0.25 });
  });

  it('calls a figure met, missed within noise or missed beyond it, for both kinds of target', () => {
    const atLeast = { op: '>=', target: 1 } as const;
    expect(judge(1.02, 0.01, atLeast).verdict).to.equal('met');
    expect(judge(0.95, 0.06, atLeast).verdict).to.equal('within noise');
    expect(judge(0.9, 0.06, atLeast).verdict).to.equal('MISS');
    const atMost = { op: '<=', target: 1 } as const;
    expect(judge(0.5, 0, atMost).verdict).to.equal('met');
    expect(judge(2.5, 2, atMost).verdict).to.equal('within noise');
    expect(judge(3.5, 2, atMost).verdict).to.equal('MISS');
    expect(judge(NaN, 0, atMost).verdict).to.equal('not measured');
  });

  it('fails the check only for the figures missed beyond noise, and names them', () => {
    const f = (name: string, verdict: FigureResult['verdict']): FigureResult => ({ name, verdict, value: 0, noise: 0, line: '' });
    const s = summary([f('a', 'met'), f('b', 'within noise'), f('c', 'MISS'), f('d', 'not measured')]);
    expect(s.failed).to.deep.equal(['c']);
    expect(s.line).to.equal('targets: 4 figures: 1 met, 1 missed within noise, 1 missed beyond noise, 1 not measured (d): c');
    expect(summary([f('a', 'met'), f('b', 'within noise')]).failed).to.deep.equal([]);
  });

  it('prints every figure of the issue\'s table, one line each, from one run\'s measurements', () => {
    const path = (cps: number[], p99: number[], rr: number[], bulk: number[]): PathRuns => ({ cps, p99, rr, bulk });
    const m: Measured = {
      appliance: path([1000, 1100], [10, 14], [4000, 4000], [500, 520]),
      direct: path([1000, 1000], [10, 10], [5000, 5000], [500, 500]),
      nftables: path([900, 900], [9, 9], [5000, 5000], [500, 500]),
      flows: [{ flows: 400, seconds: 5, rounds: 250_000, packets: 500_000, cpuSeconds: 1.6 }, { flows: 400, seconds: 5, rounds: 250_000, packets: 500_000, cpuSeconds: 1.6 }],
      heap: { count: 1_000_000, bytes: 200 },
      rss: [{ count: 20000, runs: [{ table: 20000, growthBytes: 20000 * 500 }, { table: 20000, growthBytes: 20000 * 600 }] }, { count: 100000, runs: [{ table: 100000, growthBytes: 100000 * 500 }] }],
    };
    const got = figures(m);
    expect(got.map((f) => f.verdict)).to.deep.equal(['met', 'within noise', 'MISS', 'met', 'met', 'within noise', 'met', 'met']);
    expect(got.every((f) => f.line.startsWith('figure '))).to.equal(true);
    expect(got[0].line).to.equal('figure conn/s appliance/direct, 16 clients: 1050 / 1000 = 1.05 (noise ±0.05; conn/s runs 1000 1100 / 1000 1000) target >= 1.00 met');
    expect(got[3].value).to.equal(312_500);
    // 100,000 measured once: the 20,000 runs' relative noise (50 / 550).
    expect(got[6].noise).to.be.closeTo(500 * (50 / 550), 1e-9);
    // 100,000 less 20,000: (50,000,000 - 11,000,000) B over 80,000 connections.
    expect(marginalRssLine(m.rss)).to.equal('info RSS per connection from 20000 to 100000 idle (the growth\'s fixed part taken out): +37.2 MB / 80000 = 488 B');
    expect(marginalRssLine(m.rss.slice(0, 1))).to.equal(undefined);
    // A run that left a figure out (--quick: no 100,000) still prints its line, and does not fail the check for it.
    const quick = figures({ ...m, rss: m.rss.slice(0, 1), heap: undefined });
    expect(quick.map((f) => f.verdict)).to.deep.equal(['met', 'within noise', 'MISS', 'met', 'not measured', 'within noise', 'not measured', 'met']);
    expect(quick[6].line).to.equal('figure RSS growth per connection, 100000 idle: not measured');
    expect(summary(quick).failed).to.deep.equal(['echo rr/s appliance/direct, one flow']);
  });
});
