import { expect } from 'chai';
import { Replay, ReplayWindows } from '../../../appliance/sync/replay-window';

describe('sync/replay-window (RFC 4303 3.4.3)', function () {
  it('accepts numbers in order and refuses a repeat', function () {
    const r = new ReplayWindows();
    for (let s = 0; s < 100; s++) expect(r.check(7, 1, s)).to.equal(Replay.Accepted);
    expect(r.check(7, 1, 99)).to.equal(Replay.Replayed);
    expect(r.check(7, 1, 50)).to.equal(Replay.Replayed);
    expect(r.stats).to.deep.include({ accepted: 100, lost: 0, replayed: 2, tooOld: 0 });
  });

  it('counts gaps as lost until they are filled in late, and refuses what is behind the window', function () {
    const r = new ReplayWindows();
    r.check(1, 5, 10);
    expect(r.check(1, 5, 14)).to.equal(Replay.Accepted); // 11, 12, 13 skipped
    expect(r.stats.lost).to.equal(3);
    expect(r.check(1, 5, 12)).to.equal(Replay.Accepted);
    expect(r.stats.lost).to.equal(2);
    expect(r.check(1, 5, 12)).to.equal(Replay.Replayed);
    expect(r.check(1, 5, 14 + 63)).to.equal(Replay.Accepted); // 62 more skipped
    expect(r.stats.lost).to.equal(64);
    expect(r.check(1, 5, 14)).to.equal(Replay.Replayed); // the window's lowest
    expect(r.check(1, 5, 13)).to.equal(Replay.TooOld);
    expect(r.check(1, 5, 1000)).to.equal(Replay.Accepted); // a jump past the whole window
    expect(r.stats.lost).to.equal(64 + 1000 - 77 - 1);
    expect(r.check(1, 5, 999)).to.equal(Replay.Accepted);
    expect(r.stats.lost).to.equal(64 + 1000 - 77 - 2);
    expect(r.stats.tooOld).to.equal(1);
  });

  it('counts nothing lost before the first datagram heard from a sender', function () {
    const r = new ReplayWindows();
    expect(r.check(2, 9, 500)).to.equal(Replay.Accepted);
    expect(r.check(2, 9, 499)).to.equal(Replay.Accepted);
    expect(r.stats.lost).to.equal(0);
    expect(r.check(2, 9, 499)).to.equal(Replay.Replayed);
  });

  it('opens a new window for a higher epoch (a restart) and refuses the old one', function () {
    const r = new ReplayWindows();
    for (let s = 0; s < 10; s++) r.check(3, 100, s);
    expect(r.check(3, 101, 2)).to.equal(Replay.Accepted); // 0 and 1 of the new epoch lost
    expect(r.stats.lost).to.equal(2);
    expect(r.stats.epochs).to.equal(1);
    expect(r.epochOf(3)).to.equal(101);
    expect(r.check(3, 100, 10)).to.equal(Replay.StaleEpoch);
    expect(r.check(3, 101, 0)).to.equal(Replay.Accepted);
    expect(r.stats.lost).to.equal(1);
    expect(r.stats.staleEpoch).to.equal(1);
  });

  it('keeps one window per sender', function () {
    const r = new ReplayWindows();
    expect(r.check(1, 1, 5)).to.equal(Replay.Accepted);
    expect(r.check(2, 1, 5)).to.equal(Replay.Accepted);
    expect(r.check(1, 1, 5)).to.equal(Replay.Replayed);
    expect(r.epochOf(4)).to.equal(undefined);
  });
});
