import { expect } from 'chai';
import { CurrentConnections } from '../../../appliance/divert/current';

describe('divert: CurrentConnections (the pair of pairs, two indexes)', function () {
  it('agrees with a plain Map through random adds, retargets and removals (backward-shift deletion)', function () {
    const t = new CurrentConnections(512);
    const model = new Map<string, number>();
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let step = 0; step < 20000; step++) {
      const client = 0xc6120000 + rand(64);
      const port = 1024 + rand(32);
      const key = `${client} ${port}`;
      const r = t.findClient(17, client, port, 0xcb007150, 7);
      expect(r >= 0, key).to.equal(model.has(key));
      if (r >= 0) {
        expect(t.findServer(17, t.divAddr[r], t.divPort[r], t.segment[r], t.ownPort[r])).to.equal(r);
        if (rand(3) === 0) {
          t.remove(r);
          model.delete(key);
        } else if (rand(2) === 0) {
          expect(t.retarget(r, 0xcb007152, 7, rand(2), 0)).to.equal(true);
          expect(t.findServer(17, 0xcb007152, 7, t.segment[r], t.ownPort[r])).to.equal(r);
        }
      } else if (model.size < 512) {
        const got = t.add(17, client, port, 0xcb007150, 7, 0xcb007151, 7, rand(2), 0, 0);
        expect(got).to.be.at.least(0);
        model.set(key, got);
      }
      expect(t.size).to.equal(model.size);
    }
  });

  it('gives each flow its own port per protocol and segment, and takes it back', function () {
    const t = new CurrentConnections(4);
    const a = t.add(17, 1, 1, 9, 7, 8, 7, 0, 0, 0);
    const b = t.add(17, 2, 1, 9, 7, 8, 7, 0, 0, 0);
    expect(t.ownPort[a]).to.not.equal(t.ownPort[b]);
    t.add(6, 3, 1, 9, 7, 8, 7, 0, 0, 0);
    t.add(6, 4, 1, 9, 7, 8, 7, 0, 0, 0);
    expect(t.add(6, 5, 1, 9, 7, 8, 7, 0, 0, 0), 'full').to.equal(-1);
    expect(t.stats.refusedFull).to.equal(1);
    t.remove(a);
    expect(t.add(6, 5, 1, 9, 7, 8, 7, 0, 0, 0)).to.be.at.least(0);
  });
});
