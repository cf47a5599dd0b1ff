import { expect } from 'chai';
import { ServerReachability } from '../../../appliance/forward/reachability';

const OLD = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const NEW = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const hex = (m: Uint8Array | undefined) => (m === undefined ? 'broadcast' : Buffer.from(m).toString('hex'));

/** One server "sa" at OLD; what reachability asks of the ARP layer, as text. */
function setup(fixed = false) {
  const calls: string[] = [];
  const logs: string[] = [];
  const progress = new Float64Array(1);
  let mac: Uint8Array | undefined = OLD;
  let inUse = true;
  const r = new ServerReachability(['sa'], [fixed], progress, {
    probe: (_s, m) => calls.push(`probe ${hex(m)}`),
    adopt: (_s, m) => { calls.push(`adopt ${hex(m)}`); mac = m; },
    setResolved: (_s, v) => calls.push(`resolved ${v}`),
  }, (l) => logs.push(l));
  r.heard(0, OLD, undefined, true, 0);
  let away = false;
  const tick = (now: number) => { r.tick(now, () => inUse, () => mac, () => away); return calls.splice(0); };
  return { r, tick, logs, progress, idle: () => { inUse = false; }, mac: () => mac, setAway: (v: boolean) => { away = v; } };
}

describe('forward/reachability: neighbour reachability and verified MAC changes (NUD)', function () {
  it('a claim for another MAC is refused when the old one still answers: both are asked first', function () {
    const t = setup();
    t.progress[0] = 0.5;
    expect(t.r.heard(0, NEW, OLD, false, 1), 'a gratuitous ARP is not believed').to.equal(false);
    expect(t.tick(1)).to.deep.equal([`probe ${hex(OLD)}`, `probe ${hex(NEW)}`]);
    t.r.heard(0, OLD, OLD, true, 1.1);
    expect(t.tick(2)).to.deep.equal([]);
    expect(t.mac()).to.equal(OLD);
    expect(t.logs.join('\n')).to.match(/claims server sa is at 02:00:00:00:00:02, not 02:00:00:00:00:01; asking both/).and.to.match(/still answers at 02:00:00:00:00:01: the claim for 02:00:00:00:00:02 is refused/);
  });

  it('the new MAC is adopted when it answers and the old one does not (the server really moved)', function () {
    const t = setup();
    t.progress[0] = 0.5;
    t.r.heard(0, NEW, OLD, false, 1);
    t.tick(1);
    t.r.heard(0, NEW, OLD, true, 1.2);
    t.tick(2);
    t.tick(3);
    expect(t.tick(4)).to.deep.equal([`adopt ${hex(NEW)}`]);
    expect(t.logs.pop()).to.match(/moved from 02:00:00:00:00:01 to 02:00:00:00:00:02/);
  });

  it('when neither answers, the old MAC stays; a flood of the same claim is logged once', function () {
    const t = setup();
    for (let i = 0; i < 100; i++) t.r.heard(0, NEW, OLD, false, 1);
    for (let now = 1; now <= 5; now++) t.tick(now);
    expect(t.mac()).to.equal(OLD);
    expect(t.logs.filter((l) => /claims/.test(l))).to.have.length(1);
  });

  it('in use without progress: asked at its MAC after 5 s, 3 times, then by broadcast, then down; an answer brings it back', function () {
    const t = setup();
    expect(t.tick(4)).to.deep.equal([]);
    const asked: string[] = [];
    for (let now = 5; now <= 12; now++) asked.push(...t.tick(now));
    expect(asked).to.deep.equal([
      `probe ${hex(OLD)}`, `probe ${hex(OLD)}`, `probe ${hex(OLD)}`,
      'probe broadcast', 'probe broadcast', 'probe broadcast',
      'resolved false', 'probe broadcast', 'probe broadcast',
    ]);
    // It answers from another MAC: the old one failed, so this one is the server now.
    expect(t.r.heard(0, NEW, OLD, true, 12.5)).to.equal(true);
    expect(t.tick(13)).to.deep.equal(['resolved true']);
  });

  it('TCP progress keeps it confirmed: no probe while new data comes; an idle server is not probed', function () {
    const t = setup();
    for (let now = 1; now <= 20; now++) {
      t.progress[0] = now;
      expect(t.tick(now)).to.deep.equal([]);
    }
    t.idle();
    expect(t.tick(40)).to.deep.equal([]);
  });

  it('a MAC from servers.ini is never changed nor probed', function () {
    const t = setup(true);
    expect(t.r.heard(0, NEW, OLD, true, 1)).to.equal(false);
    expect(t.tick(30)).to.deep.equal([]);
    expect(t.logs.join()).to.match(/its mac in servers.ini, 02:00:00:00:00:01, stays/);
  });

  it('while its device is gone nothing is probed; back with it, it counts as just confirmed (and up, if it had failed)', function () {
    const t = setup();
    for (let now = 5; now <= 12; now++) t.tick(now);
    t.setAway(true);
    expect(t.tick(13)).to.deep.equal([]);
    expect(t.tick(20)).to.deep.equal([]);
    t.setAway(false);
    expect(t.tick(21)).to.deep.equal(['resolved true']);
    expect(t.tick(25)).to.deep.equal([]);
  });
});
