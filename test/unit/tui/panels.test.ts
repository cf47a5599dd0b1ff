import { expect } from 'chai';
import type { Status } from '../../../appliance/control/snapshot';
import { REASSEMBLY_DROPS } from '../../../appliance/forward/reassembly';
import { REASSEMBLY6_DROPS } from '../../../appliance/forward/reassembly6';
import { DashboardModel } from '../../../tui/model';
import { throughputPanel } from '../../../tui/panels';

describe('tui: throughput panel', function () {
  const model = (reassembly?: Status['reassembly'], reassembly6?: Status['reassembly6']) => {
    const m = new DashboardModel('/nowhere');
    if (reassembly) m.status = { reassembly, reassembly6 } as Status;
    return m;
  };
  const zero6 = () => Object.fromEntries(REASSEMBLY6_DROPS.map((r) => [r, 0])) as Status['reassembly6']['drops'];
  const zero = () => Object.fromEntries(REASSEMBLY_DROPS.map((r) => [r, 0])) as Status['reassembly']['drops'];

  it('shows reassembly: completed, pending, dropped, by reason only when not zero', function () {
    const quiet = throughputPanel(model({ completed: 12, pending: 1, duplicates: 0, drops: zero() }), 120);
    expect(quiet.at(-1)).to.equal('reassembly     12 done, 1 pending, 0 dropped');
    const drops = { ...zero(), overlap: 3, timeout: 2, 'over-cap': 1500 };
    const busy = throughputPanel(model({ completed: 12_345, pending: 40, duplicates: 2, drops }), 120);
    expect(busy.at(-1)).to.equal('reassembly     12.3K done, 40 pending, 1.5K dropped (overlap 3, timeout 2, over-cap 1.5K), 2 dup');
  });

  it('adds IPv6 reassembly beneath once it has seen a fragment, with its own reasons and the atomic fragments', function () {
    const idle = throughputPanel(model({ completed: 12, pending: 1, duplicates: 0, drops: zero() }, { completed: 0, pending: 0, duplicates: 0, atomic: 0, drops: zero6() }), 120);
    expect(idle.some((l) => l.startsWith('reassembly6')), 'an IPv4-only appliance: no IPv6 line').to.equal(false);
    const drops = { ...zero6(), unaligned: 2, 'incomplete-chain': 1 };
    const lines = throughputPanel(model({ completed: 12, pending: 1, duplicates: 0, drops: zero() }, { completed: 4, pending: 2, duplicates: 1, atomic: 3, drops }), 120);
    expect(lines.slice(-2)).to.deep.equal([
      'reassembly     12 done, 1 pending, 0 dropped',
      'reassembly6    4 done, 2 pending, 3 dropped (unaligned 2, incomplete-chain 1), 1 dup, 3 atomic',
    ]);
    const atomicOnly = throughputPanel(model({ completed: 0, pending: 0, duplicates: 0, drops: zero() }, { completed: 0, pending: 0, duplicates: 0, atomic: 9, drops: zero6() }), 120);
    expect(atomicOnly.at(-1)).to.equal('reassembly6    0 done, 0 pending, 0 dropped, 9 atomic');
  });

  it('leaves the line out before the first answer', function () {
    expect(throughputPanel(model(), 120).some((l) => l.startsWith('reassembly'))).to.equal(false);
  });
});
