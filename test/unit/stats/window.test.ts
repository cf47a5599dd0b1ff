import { expect } from 'chai';
import { binMs, binOf, BINS, Histogram, LATENCY_BOUNDS } from '../../../appliance/stats/histogram';
import { SlidingWindow, SPANS, SPAN_SECONDS } from '../../../appliance/stats/window';
import { FlowStats } from '../../../appliance/stats/flow-stats';
import { Connection } from '../../../appliance/flow/connection';
import { EndReason, END_REASONS } from '../../../appliance/stats/end-reason';

describe('stats/histogram and window: the per-server figures', function () {
  it('puts a latency in the first bucket whose bound holds it, cumulative as Prometheus reads it', function () {
    const h = new Histogram();
    h.observeUs(100); // exactly the first bound: le="0.0001"
    h.observeUs(101);
    h.observeUs(20_000_000); // past the last bound: +Inf
    expect(h.counts[0]).to.equal(1);
    expect(h.counts[1]).to.equal(1);
    expect(h.counts[LATENCY_BOUNDS.length]).to.equal(1);
    expect(h.count).to.equal(3);
    expect(h.sum).to.be.closeTo(20.000201, 1e-9);
  });

  it('reads a percentile within 10 % of the latency it stands for', function () {
    for (const us of [40, 100, 999, 12_345, 400_000, 3_000_000]) {
      const ms = binMs(binOf(us));
      expect(Math.abs(ms - us / 1000) / (us / 1000), `${us} us`).to.be.below(0.1);
    }
    expect(binOf(1e12)).to.equal(BINS - 1);
  });

  it('gives p50 and p99 over the spans in the window, and forgets a span once it is a minute old', function () {
    let bytes = 0;
    const w = new SlidingWindow(2, 0, () => bytes);
    for (let i = 0; i < 98; i++) w.connected(0, 1000, 2000); // 1 ms and 2 ms
    w.connected(0, 100_000, 200_000);
    w.connected(0, 100_000, 200_000);
    w.failed(0);
    bytes = 5000;
    const f = w.figures(0, 10, 3);
    expect(f.connectionsPerSecond).to.equal(10); // 100 in the 10 s since the start
    expect(f.handshakeP50).to.be.closeTo(1, 0.1);
    expect(f.replyP50).to.be.closeTo(2, 0.2);
    expect(f.replyP99).to.be.closeTo(200, 20);
    expect(f.failures).to.equal(1);
    expect(f.active).to.equal(3);
    expect(f.bytesPerSecond).to.equal(500);
    expect(w.figures(1, 10, 0).handshakeP99).to.equal(-1); // nothing measured for key 1
    w.rotate(SPANS * SPAN_SECONDS + 1); // every span since has started: the first one is reused
    const later = w.figures(0, SPANS * SPAN_SECONDS + 1, 0);
    expect(later.connectionsPerSecond).to.equal(0);
    expect(later.failures).to.equal(0);
    expect(later.replyP99).to.equal(-1);
    expect(later.bytesPerSecond).to.equal(0); // no bytes moved in the window
  });

  it('counts ended connections by server, ALP and reason, and keeps them when a reload adds ALPs', function () {
    const f = new FlowStats(2, 1, 0, () => ({ activeByServer: [0, 0], activeByAlp: [0] }), () => 0);
    const c = new Connection(1, 1, 1, 0);
    c.server = 1;
    c.alp = 0;
    c.endReason = EndReason.Fin;
    f.ended(c);
    f.ended(c);
    const refused = new Connection(1, 2, 1, 0);
    refused.endReason = EndReason.Refused;
    f.ended(refused);
    f.growAlps(3);
    const seen: string[] = [];
    f.forEachEnded((server, alp, reason, n) => seen.push(`${server} ${alp} ${END_REASONS[reason]} ${n}`));
    expect(seen.sort()).to.deep.equal(['-1 -1 refused 1', '1 0 fin 2']); // refused before its ALP was known
  });
});
