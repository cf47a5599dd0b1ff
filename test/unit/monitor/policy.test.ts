import { expect } from 'chai';
import { Model, type Decision, type Policy } from '../../../appliance/monitor/policy';
import type { ServerFigures, TableEntry } from '../../../appliance/monitor/figures';

/**
 * The network monitor's policy (monitor/policy.ts) as sequences of figures in, decisions out:
 * the streak of polls, the choice of target, hysteresis, hold-down, the window's staleness
 * after a change, adoption of the table's entries, followers of a server that trips.
 */

const POLICY: Policy = {
  interval: 1, polls: 3, latency: 'reply', latencyMs: 200, load: 0.9, failures: 10,
  recoverLatencyMs: 100, recoverLoad: 0.6, recoverFailures: 2, holdDown: 10, restoreOnExit: false,
};

type Over = Partial<ServerFigures> & { reply?: number; check?: ServerFigures['check'] };

/** The lab's HTTP servers: sa (capacity 15), sc (8), sd (2); sb carries FTP only. */
function poll(o: { sa?: Over; sb?: Over; sc?: Over; sd?: Over } = {}): ServerFigures[] {
  const row = (name: string, n: number, capacity: number, alps: string[], over: Over = {}): ServerFigures => {
    const { reply = 20, ...rest } = over;
    return {
      name, address: `198.19.${n}.2:1080`, alps, capacity, active: 0, state: 'up', failures: 0,
      load: { seconds: 60, connectionsPerSecond: 1, handshakeP99: 1, replyP99: reply, failures: 0 }, ...rest,
    };
  };
  return [
    row('sa', 1, 15, ['http', 'ssl'], o.sa),
    row('sb', 2, 5, ['ftp'], o.sb),
    row('sc', 3, 8, ['http', 'ssl'], o.sc),
    row('sd', 4, 2, ['http', 'ssl'], o.sd),
  ];
}

/** A model driven poll by poll; decisions are committed (as the watcher does once sent) and the table follows them. */
function driver(policy = POLICY) {
  const m = new Model(policy);
  let table: TableEntry[] = [];
  const notes: string[] = [];
  const step = (t: number, figures: ServerFigures[]): Decision[] => {
    const r = m.observe(t, figures, table);
    notes.push(...r.notes);
    for (const d of r.decisions) {
      table = table.filter((e) => e.original !== d.source.address);
      if (d.op === 'add') table.push({ original: d.source.address, diverted: d.target.address });
      m.committed(d, t);
    }
    return r.decisions;
  };
  const brief = (ds: Decision[]) => ds.map((d) => `${d.op} ${d.source.name} ${d.target.name}`);
  return { m, step, brief, notes, table: () => table, setTable: (t: TableEntry[]) => (table = t) };
}

describe('monitor/policy: when to divert', function () {
  it('reply p99 over the threshold on 3 polls in a row diverts sa to the server with the most spare capacity, with the figures', function () {
    const { step, brief } = driver();
    const slow = poll({ sa: { reply: 412 }, sc: { active: 2 } });
    expect(step(0, slow)).to.deep.equal([]);
    expect(step(1, slow)).to.deep.equal([]);
    const d = step(2, slow);
    expect(brief(d)).to.deep.equal(['add sa sc']);
    expect(d[0].source).to.deep.equal({ name: 'sa', address: '198.19.1.2:1080' });
    expect(d[0].target).to.deep.equal({ name: 'sc', address: '198.19.3.2:1080' });
    expect(d[0].why).to.equal('reply p99 412 ms > 200 ms over 3 polls; sc reply p99 20 ms, load 0.25 (2/8), 0 failures, spare 6');
  });

  it('a poll back under the threshold restarts the count', function () {
    const { step, brief } = driver();
    const slow = poll({ sa: { reply: 412 } });
    step(0, slow);
    step(1, slow);
    expect(step(2, poll())).to.deep.equal([]);
    expect(step(3, slow)).to.deep.equal([]);
    expect(step(4, slow)).to.deep.equal([]);
    expect(brief(step(5, slow))).to.deep.equal(['add sa sc']);
  });

  it('load and failures trip too; failures are counted over the last 60 s of the counter', function () {
    const { step, brief } = driver();
    const busy = poll({ sa: { active: 14 } }); // 0.93 > 0.9
    step(0, busy);
    step(1, busy);
    expect(step(2, busy)[0].why).to.match(/^load 0\.93 \(14\/15\) > 0\.9 over 3 polls; sc /);
    const f = driver();
    // 5 failures every 40 s: at most 5 in any 60 s, never over 10.
    for (let t = 0; t < 6; t++) expect(f.step(t * 40, poll({ sa: { failures: t * 5 } }))).to.deep.equal([]);
    // 16 within the last minute (20 at 160, 36 now): over on 3 polls.
    expect(f.step(201, poll({ sa: { failures: 36 } }))).to.deep.equal([]);
    expect(f.step(202, poll({ sa: { failures: 36 } }))).to.deep.equal([]);
    const d = f.step(203, poll({ sa: { failures: 36 } }));
    expect(brief(d)).to.deep.equal(['add sa sc']);
    expect(d[0].why).to.match(/^16 failures > 10 over 3 polls; /);
  });

  it('the target: not overloaded, not diverted, up, carrying every ALP; none: one note per streak', function () {
    const { step, brief, notes } = driver();
    const scBusy = poll({ sa: { reply: 500 }, sc: { active: 7 } });
    step(0, scBusy);
    step(1, scBusy);
    expect(brief(step(2, scBusy)), 'sc has 1 spare, sd 2').to.deep.equal(['add sa sd']);
    const n = driver();
    const none = poll({ sa: { reply: 500 }, sc: { state: 'failing' }, sd: { reply: 300 } });
    for (let t = 0; t < 6; t++) expect(n.step(t, none)).to.deep.equal([]);
    expect(n.notes).to.deep.equal([
      'sa (198.19.1.2:1080): reply p99 500 ms > 200 ms over 3 polls; no server to divert to: sb does not carry http; sc is failing; sd reply p99 300 ms > 200 ms',
      'sd (198.19.4.2:1080): reply p99 300 ms > 200 ms over 3 polls; no server to divert to: sa reply p99 500 ms > 200 ms; sb does not carry http; sc is failing',
    ]);
    expect(notes).to.deep.equal([]);
  });
});

describe('monitor/policy: when to divert back (hysteresis, hold-down, the window after a change)', function () {
  const check = (latencyMs: number, last = 'ok') => ({ state: 'up', last, latencyMs });

  function diverted(o: Over = {}) {
    const d = driver();
    const slow = poll({ sa: { reply: 412, ...o } });
    d.step(0, slow);
    d.step(1, slow);
    expect(d.brief(d.step(2, slow))).to.deep.equal(['add sa sc']);
    return d;
  }

  it('with a check: its latency says when sa recovered; below recover (not merely below trip) for hold_down, then back', function () {
    const { step, brief } = diverted({ check: check(450) });
    // The window still holds the slow replies from before the diversion: it does not count yet.
    expect(step(3, poll({ sa: { reply: 412, check: check(150) } })), 'between recover and trip').to.deep.equal([]);
    for (let t = 4; t < 13; t++) expect(step(t, poll({ sa: { reply: 412, check: check(150) } }))).to.deep.equal([]);
    expect(step(13, poll({ sa: { reply: 412, check: check(40) } }))).to.deep.equal([]);
    expect(step(20, poll({ sa: { reply: 412, check: check(40) } })), '7 s recovered').to.deep.equal([]);
    const back = step(23, poll({ sa: { reply: 412, check: check(40) } }));
    expect(brief(back)).to.deep.equal(['remove sa sc']);
    expect(back[0].why).to.equal('recovered: check 40 ms, load 0 (0/15), 0 failures, spare 15 for 10 s (recover at latency 100 ms, load 0.6, 2 failures)');
  });

  it('a failed check is over the threshold and not recovered', function () {
    const { step } = diverted({ check: check(450) });
    for (let t = 3; t < 30; t++) expect(step(t, poll({ sa: { check: check(40, 'timed out') } }))).to.deep.equal([]);
  });

  it('without a check: back only once the window has turned over (60 s) and stayed quiet for hold_down', function () {
    const { step, brief } = diverted();
    for (let t = 3; t < 62; t++) expect(step(t, poll({ sa: { reply: t < 40 ? 412 : -1 } })), `t ${t}`).to.deep.equal([]);
    for (let t = 62; t < 72; t++) expect(step(t, poll({ sa: { reply: -1 } })), `t ${t}`).to.deep.equal([]);
    const back = step(72, poll({ sa: { reply: -1 } }));
    expect(brief(back)).to.deep.equal(['remove sa sc']);
    expect(back[0].why).to.match(/^recovered: no reply in the window, /);
  });

  it('after going back: no new diversion within hold_down; the old window does not trip it again', function () {
    const { step, brief, notes } = diverted({ check: check(450) });
    for (let t = 3; t < 13; t++) expect(step(t, poll({ sa: { reply: 412, check: check(40) } }))).to.deep.equal([]);
    expect(brief(step(13, poll({ sa: { reply: 412, check: check(40) } })))).to.deep.equal(['remove sa sc']);
    // The window's 412 ms is from before: ignored for 60 s; the check is fine.
    for (let t = 15; t < 40; t++) expect(step(t, poll({ sa: { reply: 412, check: check(40) } }))).to.deep.equal([]);
    // Slow again within hold_down of the change: held, noted once.
    const d2 = diverted({ check: check(450) });
    for (let t = 3; t <= 13; t++) d2.step(t, poll({ sa: { check: check(40) } }));
    expect(d2.table()).to.deep.equal([]);
    for (let t = 14; t < 23; t++) expect(d2.step(t, poll({ sa: { check: check(450) } })), `t ${t}`).to.deep.equal([]);
    expect(d2.notes.filter((n) => /held down/.test(n))).to.have.length(1);
    expect(d2.brief(d2.step(23, poll({ sa: { check: check(450) } }))), 'hold_down after going back at 13').to.deep.equal(['add sa sc']);
    expect(notes.filter((n) => /held down/.test(n))).to.deep.equal([]);
  });
});

describe("monitor/policy: the appliance's table is the truth", function () {
  it('adopts a server diversion it finds, restores it when recovered; forgets one that vanished', function () {
    const d = driver();
    d.setTable([{ original: '198.19.1.2:1080', diverted: '198.19.3.2:1080' }, { original: '203.0.113.80:80', diverted: '203.0.113.81' }]);
    expect(d.step(0, poll())).to.deep.equal([]);
    expect(d.notes).to.deep.equal(["sa (198.19.1.2:1080) is diverted to sc in the appliance's table: adopted"]);
    // Hold-down from adoption; the window counts after 60 s, so without a check: back at 70.
    for (let t = 1; t < 70; t++) expect(d.step(t, poll({ sa: { reply: -1 } })), `t ${t}`).to.deep.equal([]);
    expect(d.brief(d.step(70, poll({ sa: { reply: -1 } })))).to.deep.equal(['remove sa sc']);
    expect(d.table()).to.deep.equal([{ original: '203.0.113.80:80', diverted: '203.0.113.81' }]);

    const e = driver();
    const slow = poll({ sa: { reply: 412 } });
    [0, 1, 2].forEach((t) => e.step(t, slow));
    e.setTable([]);
    e.step(3, slow);
    expect(e.notes).to.deep.equal(["the diversion sa -> sc is gone from the appliance's table (a reload or an operator): sa is judged afresh"]);
  });

  it('a target that trips takes its followers along: sa -> sc, then sc slow: sc -> sd and sa -> sd', function () {
    const d = driver();
    const slow = poll({ sa: { reply: 412 } });
    [0, 1, 2].forEach((t) => d.step(t, slow));
    const both = poll({ sa: { reply: 412 }, sc: { reply: 300 } });
    d.step(3, both);
    d.step(4, both);
    const r = d.step(5, both);
    expect(d.brief(r)).to.deep.equal(['add sc sd', 'add sa sd']);
    expect(r[1].why).to.match(/^sc, which it was diverted to, is diverted now; sd /);
    expect(d.table().map((e) => `${e.original} ${e.diverted}`).sort()).to.deep.equal(['198.19.1.2:1080 198.19.4.2:1080', '198.19.3.2:1080 198.19.4.2:1080']);
  });

  it('restoreAll lists the removal of every diversion held (restore_on_exit)', function () {
    const d = driver();
    const slow = poll({ sa: { reply: 412 } });
    [0, 1, 2].forEach((t) => d.step(t, slow));
    expect(d.m.restoreAll('restore_on_exit')).to.deep.equal([
      { op: 'remove', source: { name: 'sa', address: '198.19.1.2:1080' }, target: { name: 'sc', address: '198.19.3.2:1080' }, why: 'restore_on_exit' },
    ]);
  });
});
